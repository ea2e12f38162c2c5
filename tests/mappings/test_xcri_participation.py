"""XCRI-CAP presentations: mode and schedule from studyMode, attendanceMode and attendancePattern as
real feeds write them, the XCRI-CAP default (Campus) where a venue is named, XHTML descriptions."""

from __future__ import annotations

from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import load_spec

HEAD = b"""<catalog xmlns="http://xcri.org/profiles/1.2/catalog" xmlns:mlo="http://purl.org/net/mlo"
 xmlns:dc="http://purl.org/dc/elements/1.1/" generated="2024-01-01T00:00:00Z"><provider>
 <dc:title>Example College</dc:title><course><dc:identifier>c1</dc:identifier><dc:title>Cookery</dc:title>
 <dc:description><div xmlns="http://www.w3.org/1999/xhtml"><p>at Level 4</p><ul><li>Online Communications</li>
 <li>Microsoft Office Applications</li></ul></div></dc:description>"""
VENUE = b"""<venue><provider><dc:title>Main campus</dc:title><mlo:location>
 <mlo:street>1 High Street</mlo:street><mlo:town>Kirkcaldy</mlo:town>
 <mlo:postcode>KY1 1EX</mlo:postcode></mlo:location></provider></venue>"""


def _presentation(ref: str, body: bytes) -> bytes:
    return b"<presentation><dc:identifier>" + ref.encode() + b"</dc:identifier>" + body + b"</presentation>"


FEED = (
    HEAD
    + _presentation(
        "evening",
        b"<studyMode>Twilight and / or Evening / or Weekends</studyMode>"
        b"<attendanceMode>Evening</attendanceMode>" + VENUE,
    )
    + _presentation(
        "day", b"<studyMode>Part-Time Day</studyMode><attendanceMode>Part Time Day</attendanceMode>"
    )
    + _presentation(
        "full", b"<studyMode>Short Full-time</studyMode><attendanceMode>Full Time</attendanceMode>" + VENUE
    )
    + _presentation(
        "distance",
        b"<studyMode>Distance Learning</studyMode><attendanceMode>Flexible</attendanceMode>" + VENUE,
    )
    + _presentation(
        "coded",
        b'<studyMode identifier="PT">Part time</studyMode>'
        b'<attendanceMode identifier="DS">Distance without attendance</attendanceMode>',
    )
    + _presentation(
        "block", b"<studyMode>Block Release</studyMode><attendanceMode>Block Release</attendanceMode>"
    )
    + b"</course></provider></catalog>"
)


def _courses() -> dict[str, tuple[object, list[tuple[str | None, str]]]]:
    spec = load_spec("xcri-cap")
    found = {}
    for gathered in harvester_for(spec.format).gather(FEED, spec):
        record = apply(spec, gathered.item, "college")
        found[record.provider_ref] = (record.course, [(i.field, i.code) for i in record.issues])
    return found  # type: ignore[return-value]


def test_schedules_and_modes_as_uk_colleges_write_them() -> None:
    courses = _courses()
    expected = {
        "evening": ("part-time", ("onsite",)),  # a venue and no stated mode: XCRI-CAP's Campus default
        "day": ("part-time", ()),  # no venue: nothing said about the place
        "full": ("full-time", ("onsite",)),
        "distance": (None, ("online",)),  # "Distance Learning" in studyMode is the mode
        "coded": ("part-time", ("online",)),
        "block": ("part-time", ()),
    }
    for ref, (schedule, modes) in expected.items():
        course = courses[ref][0]
        assert (course.schedule, course.modes) == (schedule, modes), ref  # type: ignore[attr-defined]


def test_words_of_another_element_are_not_reported_and_implied_schedules_are_noted() -> None:
    courses = _courses()
    for ref in ("evening", "day", "full", "coded", "block"):
        assert not any(code.startswith("unknown-") for _, code in courses[ref][1]), ref
    assert ("schedule", "schedule-implied") in courses["block"][1]


def test_xhtml_descriptions_keep_their_blocks() -> None:
    course = _courses()["evening"][0]
    assert course.description["en"] == (  # type: ignore[attr-defined]
        "at Level 4\n\nOnline Communications\nMicrosoft Office Applications"
    )
