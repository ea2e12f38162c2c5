"""XCRI-CAP venues and texts as real feeds write them: address lines typed as coordinates, a post
town as the last address line, venues that are only a name, subjects with codes, label lines beside
a prose description. Each case is a general XCRI-CAP 1.2 writing, not one feed's quirk."""

from __future__ import annotations

from course_catalogue.catalogue.model import Course, Location
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import load_spec

HEAD = b"""<catalog xmlns="http://xcri.org/profiles/1.2/catalog" xmlns:mlo="http://purl.org/net/mlo"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 generated="2024-01-01T00:00:00Z"><provider><dc:title>Example College</dc:title>
 <mlo:location><mlo:street>1 College Road</mlo:street><mlo:town>Exeter</mlo:town></mlo:location>"""


def _course(ref: str, course_body: bytes, presentation_body: bytes) -> bytes:
    return (
        b"<course><dc:identifier>c-" + ref.encode() + b"</dc:identifier><dc:title>T</dc:title>" + course_body
        + b"<presentation><dc:identifier>" + ref.encode() + b"</dc:identifier>" + presentation_body
        + b"</presentation></course>"
    )  # fmt: skip


def _venue(title: str, location: bytes | None) -> bytes:
    where = b"" if location is None else b"<mlo:location>" + location + b"</mlo:location>"
    return b"<venue><provider><dc:title>" + title.encode() + b"</dc:title>" + where + b"</provider></venue>"


FEED = (
    HEAD
    + _course(
        "geo",
        b'<dc:subject identifier="D447">Environmental Conservation</dc:subject>'
        b'<dc:subject identifier="KC.3">KC.3</dc:subject>',
        _venue(
            "Rewley",
            b"<mlo:postcode>OX1 2JA</mlo:postcode>"
            b"<mlo:address>Rewley House, 1 Wellington Square</mlo:address>"
            b'<mlo:address>Oxford</mlo:address><mlo:address xsi:type="geo:lat">51.75719</mlo:address>'
            b'<mlo:address xsi:type="geo:long">-1.26219</mlo:address>',
        ),
    )
    + _course(
        "street-last",  # the last line holds a number: a street, not a town
        b"",
        _venue("Annexe", b"<mlo:address>Unit 4</mlo:address><mlo:address>12 Mill Lane</mlo:address>"),
    )
    + _course(
        "town-stated",  # with mlo:town, every address line stays in the address
        b"",
        _venue(
            "Hall",
            b"<mlo:address>Village Hall</mlo:address><mlo:address>Letcombe</mlo:address>"
            b"<mlo:town>Wantage</mlo:town>",
        ),
    )
    + _course(
        "online-venue",
        b"",
        b'<attendanceMode identifier="ON">Online (no attendance)</attendanceMode>' + _venue("Online", None),
    )
    + _course(
        "distance-partner",
        b"",
        b"<studyMode>Distance Learning</studyMode>"
        + _venue("Offsite Partnership", b"<mlo:street /><mlo:town /><mlo:postcode />"),
    )
    + _course("named-venue", b"", _venue("Bowhill Centre", None))
    + _course(
        "labels",
        b"<dc:description>NLD Target Group Code: G</dc:description>"
        b"<dc:description>Explore a diversity of people and places.</dc:description>",
        b"",
    )
    + _course("labels-only", b"<dc:description>Code: G</dc:description>", b"")
    + b"</provider></catalog>"
)


def _courses() -> dict[str, Course]:
    spec = load_spec("xcri-cap")
    found = {}
    for gathered in harvester_for(spec.format).gather(FEED, spec):
        record = apply(spec, gathered.item, "college")
        assert record.course is not None, record.issues
        found[record.provider_ref] = record.course
    return found


def test_coordinates_and_post_town_from_address_lines() -> None:
    courses = _courses()
    (geo,) = courses["geo"].locations
    assert (geo.latitude, geo.longitude, geo.city, geo.postcode) == (51.75719, -1.26219, "Oxford", "OX1 2JA")
    assert geo.address == "Rewley, Rewley House, 1 Wellington Square"  # no coordinates, no town
    assert courses["street-last"].locations == (Location(address="Annexe, Unit 4, 12 Mill Lane"),)
    assert courses["town-stated"].locations == (
        Location(address="Hall, Village Hall, Letcombe", city="Wantage"),
    )


def test_a_name_only_venue_is_a_place_unless_the_study_is_distance_or_online() -> None:
    courses = _courses()
    assert courses["online-venue"].locations == ()  # neither the venue nor the provider's address
    assert courses["distance-partner"].locations == ()
    assert courses["named-venue"].locations == (Location(address="Bowhill Centre"),)


def test_subject_names_beside_their_codes_are_keywords_bare_codes_are_not() -> None:
    assert _courses()["geo"].keywords == ("Environmental Conservation",)


def test_prose_descriptions_first_label_lines_to_further_information() -> None:
    courses = _courses()
    assert courses["labels"].description == {"en": "Explore a diversity of people and places."}
    assert "NLD Target Group Code: G" in courses["labels"].further_information["en"]
    assert courses["labels-only"].description == {"en": "Code: G"}  # nothing else to show
