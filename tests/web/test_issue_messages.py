"""Engine issue messages said in the reader's language when their template is known, kept in
English (and marked so) otherwise."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from course_catalogue.catalogue.model import Course, Organisation, Provenance
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.validate import validate
from course_catalogue.web.issue_messages import TEMPLATES, say


def issue(code: str, message: str, field: str | None = None) -> Issue:
    return Issue(Severity.WARNING, message, field=field, code=code)


@pytest.mark.parametrize(
    ("lang", "given", "expected"),
    [
        (
            "fr",
            issue("missing-element", "missing standard element: EQF level", "eqf_level"),
            "élément standard manquant : Niveau CEC",
        ),
        ("de", issue("missing-description", "no description", "description"), "keine Beschreibung"),
        (
            "de",
            issue("ects-estimated", "ECTS estimated from 5 notional hours at 25 h/ECTS"),
            "ECTS geschätzt aus 5 Stunden nomineller Arbeitszeit zu 25 h/ECTS",
        ),
        (
            "fr",
            issue("unknown-level", "'Introductory' is not an EQF level (no referenced framework level)"),
            "'Introductory' n'est pas un niveau du CEC (aucun niveau de cadre référencé)",
        ),
        (
            "de",
            issue("unknown-mode", "unknown mode of participation 'Fernunterricht', 'X'"),
            "unbekannte Teilnahmeform 'Fernunterricht', 'X'",
        ),
        (
            "fr",
            issue("range-midpoint", "duration range '2-3 months' read as its midpoint P2.5M"),
            "fourchette de durée '2-3 months' lue comme son milieu P2.5M",
        ),
    ],
)
def test_known_templates_are_translated_with_their_values(
    app_factory: Callable[..., Flask], lang: str, given: Issue, expected: str
) -> None:
    with app_factory().test_request_context(f"/?lang={lang}"):
        said = say(given)
    assert (said.text, said.english) == (expected, False)


def test_unknown_or_changed_messages_stay_english(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    with app.test_request_context("/?lang=de"):
        crosswalk = issue("level-crosswalk", "award 'BA' is SCQF level 9 = EQF 6")
        assert say(crosswalk).english and say(crosswalk).text == crosswalk.message
        reworded = issue("ects-estimated", "ECTS guessed from 5 hours")  # the template changed
        assert say(reworded).english
    with app.test_request_context("/?lang=en"):
        written = issue("missing-description", "no description", "description")
        assert say(written).text == "no description"


def test_the_patterns_match_what_the_validator_writes(app_factory: Callable[..., Flask]) -> None:
    """The validator's own messages for an empty record match their templates (a reworded
    engine message would otherwise silently fall back to English)."""
    course = Course(
        id="x", title={"en": "T"}, provider=Organisation({"en": "P"}), provenance=Provenance("s", "ref")
    )
    found = validate(course)
    codes = {i.code for i in found} & set(TEMPLATES)
    assert {"missing-element", "missing-optional", "missing-description"} <= codes
    with app_factory().test_request_context("/?lang=fr"):
        assert all(not say(i).english for i in found if i.code in TEMPLATES)
