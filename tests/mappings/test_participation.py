"""Modes of participation, learning schedules and attendance patterns in providers' words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.catalogue.vocabularies import MODES, SCHEDULES
from course_catalogue.mappings.transforms.participation import mode, schedule, vocabulary
from course_catalogue.mappings.transforms.result import Result

MODE_WORDS = [
    # English, and the XCRI-CAP 1.2 attendanceMode labels
    ("online", "online"),
    ("Online", "online"),
    ("e-learning", "online"),
    ("distance", "online"),
    ("Distance learning", "online"),
    ("Online (no attendance)", "online"),
    ("Distance without attendance", "online"),
    ("Campus", "onsite"),
    ("Face-to-face non-campus", "onsite"),
    ("on-site", "onsite"),
    ("presential", "onsite"),
    ("face-to-face", "onsite"),
    ("in person", "onsite"),
    ("classroom-based", "onsite"),
    ("Mixed mode", "blended"),
    ("Distance with attendance", "blended"),
    ("blended", "blended"),
    ("hybrid", "blended"),
    ("Work-based", "workbased"),
    ("Apprenticeship", "workbased"),
    # French
    ("à distance", "online"),
    ("En ligne", "online"),
    ("Formation entièrement à distance", "online"),
    ("présentiel", "onsite"),
    ("En présentiel", "onsite"),
    ("formation mixte", "blended"),
    ("Hybride", "blended"),
    ("en alternance", "workbased"),
    # German
    ("Fernstudium", "online"),
    ("Fernlehrgang", "online"),
    ("Präsenzunterricht", "onsite"),
    ("vor Ort", "onsite"),
    ("Blended Learning", "blended"),
    ("duales Studium", "workbased"),
    # Dutch
    ("op afstand", "online"),
    ("klassikaal", "onsite"),
    ("op locatie", "onsite"),
    ("hybride", "blended"),
    ("BBL", "workbased"),
    # Spanish
    ("a distancia", "online"),
    ("En línea", "online"),
    ("presencial", "onsite"),
    ("semipresencial", "blended"),
    ("formación dual", "workbased"),
    # Italian
    ("a distanza", "online"),
    ("in presenza", "onsite"),
    ("in aula", "onsite"),
    ("misto", "blended"),
    ("in azienda", "workbased"),
    # Polish
    ("zdalnie", "online"),
    ("na odległość", "online"),
    ("stacjonarnie", "onsite"),
    ("hybrydowo", "blended"),
    ("w miejscu pracy", "workbased"),
    # ELM concept IRIs
    (MODES["online"].uri or "", "online"),
    (MODES["onsite"].uri or "", "onsite"),
    (MODES["blended"].uri or "", "blended"),
]


@pytest.mark.parametrize(("published", "code"), MODE_WORDS)
def test_mode_words(published: str, code: str) -> None:
    assert mode(published) == ((code,), ())


SCHEDULE_WORDS = [
    ("Full time", "full-time"),
    ("full-time", "full-time"),
    ("Short Full-time", "full-time"),
    ("Part of a full time programme", "full-time"),
    ("part time", "part-time"),
    ("Part Time Day", "part-time"),
    ("Other Part-time Day and/or Twilight", "part-time"),
    ("Part time (light)", "part-time-light"),
    ("Part time intensive", "part-time-intensive"),
    ("Self-paced on your time", "self-paced"),
    ("Instructor-led on a course schedule", "scheduled"),
    ("self paced", "self-paced"),
    ("Temps plein", "full-time"),
    ("à temps partiel", "part-time"),
    ("à votre rythme", "self-paced"),
    ("Vollzeit", "full-time"),
    ("Teilzeitstudium", "part-time"),
    ("berufsbegleitend", "part-time"),
    ("voltijd", "full-time"),
    ("deeltijdopleiding", "part-time"),
    ("tiempo completo", "full-time"),
    ("a tiempo parcial", "part-time"),
    ("tempo pieno", "full-time"),
    ("a tempo parziale", "part-time"),
    ("studia stacjonarne", "full-time"),
    ("studia niestacjonarne", "part-time"),
    ("zaocznie", "part-time"),
    (SCHEDULES["full-time"].uri or "", "full-time"),
    (SCHEDULES["part-time-light"].uri or "", "part-time-light"),
]


@pytest.mark.parametrize(("published", "code"), SCHEDULE_WORDS)
def test_schedule_words(published: str, code: str) -> None:
    assert schedule(published) == (code, ())


# Attendance patterns: none is a schedule, each evening/twilight/weekend/release one implies
# part time, with a note saying so.
PATTERN_WORDS = [
    "Evening",
    "evenings",
    "Twilight",
    "Twilight/Evening/Weekends",
    "Weekend",
    "Block Release",
    "Day release",
    "Day/Block release",
    "en soirée",
    "cours du soir",
    "Abendkurs",
    "am Wochenende",
    "'s avonds",
    "zaterdag",
    "fin de semana",
    "serale",
    "wieczorowe",
    "zjazdy weekendowe",
]


@pytest.mark.parametrize("published", PATTERN_WORDS)
def test_attendance_patterns_imply_part_time_with_a_note(published: str) -> None:
    result = schedule(published)
    assert result.value == "part-time"
    (note,) = result.issues
    assert note.severity is Severity.INFO and note.code == "schedule-implied"


@pytest.mark.parametrize("published", ["Daytime", "Flexible", "Not known", "Customised", "Other"])
def test_words_that_decide_no_schedule_give_none_without_a_warning(published: str) -> None:
    assert schedule(published) == (None, ())
    assert mode(published) == (None, ())


XCRI_CODES = [
    ("CM", (("onsite",), None)),
    ("NC", (("onsite",), None)),
    ("DA", (("blended",), None)),
    ("MM", (("blended",), None)),
    ("DS", (("online",), None)),
    ("ON", (("online",), None)),
    ("WB", (("workbased",), None)),
    ("FT", (None, "full-time")),
    ("PF", (None, "full-time")),
    ("PT", (None, "part-time")),
    ("FL", (None, None)),
    ("NK", (None, None)),
    ("EV", (None, "part-time")),
    ("TW", (None, "part-time")),
    ("WE", (None, "part-time")),
    ("DR", (None, "part-time")),
    ("DT", (None, None)),
    ("CS", (None, None)),
    ("PT | Part Time Day", (None, "part-time")),
    ("CM | Campus", (("onsite",), None)),
    ("DS | Distance without attendance", (("online",), None)),
]


@pytest.mark.parametrize(("published", "expected"), XCRI_CODES)
def test_xcri_cap_identifiers_and_labels(published: str, expected: tuple[Any, Any]) -> None:
    assert (mode(published, codes="xcri-cap").value, schedule(published, codes="xcri-cap").value) == expected


@pytest.mark.parametrize(
    ("codes", "published", "modes", "code"),
    [
        ("lheo", "0", ("onsite",), None),
        ("lheo", "1", ("blended",), None),
        ("lheo", "2", ("online",), None),
        ("formacode", "95001", None, "part-time"),
        ("formacode", "95002", None, "full-time"),
        ("formacode", "96029", ("online",), None),
        ("formacode", "95005", ("workbased",), None),
    ],
)
def test_lheo_and_formacode_codes(codes: str, published: str, modes: Any, code: str | None) -> None:
    assert mode(published, codes=codes).value == modes
    assert schedule(published, codes=codes).value == code


def test_code_lists_apply_only_where_the_spec_names_them() -> None:
    assert mode("DS").issues[0].code == "unknown-mode"
    assert mode("ON").value is None and mode("2").value is None


@pytest.mark.parametrize(
    ("published", "modes", "code"),
    [
        ("Part time distance education course", ("online",), "part-time"),
        ("Full Time", None, "full-time"),  # a schedule written in attendanceMode
        ("Evening", None, "part-time"),
        ("Online and on campus", ("blended",), None),
        ("Online, on campus", ("online", "onsite"), None),
        ("Teilzeit, online", ("online",), "part-time"),
    ],
)
def test_a_phrase_is_read_for_every_element_it_speaks_of(
    published: str, modes: Any, code: str | None
) -> None:
    assert mode(published).value == modes
    assert schedule(published).value == code
    assert all(
        i.severity is not Severity.WARNING for i in (*mode(published).issues, *schedule(published).issues)
    )


@pytest.mark.parametrize(("transform", "published"), [(mode, "by carrier pigeon"), (schedule, "whenever")])
def test_unknown_values_are_warned(transform: Callable[[str], Result[Any]], published: str) -> None:
    result = transform(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


def test_unknown_parts_are_reported_by_the_owner_only() -> None:
    loud = schedule("Evening/Banana")
    assert loud.value == "part-time"
    assert [i.code for i in loud.issues] == ["unknown-schedule", "schedule-implied"]
    assert "'Banana'" in loud.issues[0].message
    assert schedule("Banana", quiet=True) == (None, ())
    assert mode("Banana", quiet=True) == (None, ())


@pytest.mark.parametrize("published", ["not full time", "nicht in Vollzeit", "pas à distance"])
def test_a_negation_makes_the_part_unreadable(published: str) -> None:
    assert schedule(published).value is None and mode(published).value is None


def test_two_schedules_are_reported_not_chosen() -> None:
    result = schedule("Temps plein, temps partiel")
    assert result.value is None and [i.code for i in result.issues] == ["ambiguous-schedule"]


def test_every_table_covers_the_seven_languages() -> None:
    import tomllib
    from importlib import resources

    path = resources.files("course_catalogue.mappings.transforms") / "data" / "participation.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    languages = {"en", "fr", "de", "nl", "es", "it", "pl"}
    for table in ("modes", "schedules"):
        for code in ("online", "onsite", "blended") if table == "modes" else ("full-time", "part-time"):
            assert languages <= set(data[table][code]), (table, code)
    for pattern in ("evening", "weekend", "block-release"):
        assert languages <= set(data["patterns"][pattern]), pattern
    assert vocabulary().implies["evening"] == "part-time" and vocabulary().implies["daytime"] == ""
