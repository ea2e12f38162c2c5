"""Vocabulary lookups against the bundled ELM/LOQ 3.1 tables and pycountry."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue import vocabularies as v


@pytest.mark.parametrize(
    ("lookup", "code", "expected"),
    [
        (v.eqf_label, 6, "Level 6"),
        (v.eqf_label, 42, "Level 42"),  # unknown: a readable fallback
        (v.isced_label, "0613", "Software and applications development and analysis"),
        (v.isced_label, "9999", "Field unknown"),
        (v.isced_label, "8888", "8888"),
        (v.country_label, "FRA", "France"),
        (v.country_label, "XXX", "XXX"),
        (v.language_label, "de", "German"),
        (v.language_label, "gsw", "Swiss German"),
        (v.language_label, "zz", "zz"),
        (v.mode_label, "onsite", "On-site"),
        (v.mode_label, "telepathy", "telepathy"),
    ],
)
def test_labels(lookup: object, code: object, expected: str) -> None:
    assert lookup(code) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("code", "uri"),
    [
        ("en", "http://publications.europa.eu/resource/authority/language/ENG"),
        ("fr", "http://publications.europa.eu/resource/authority/language/FRA"),
        ("gsw", "http://publications.europa.eu/resource/authority/language/GSW"),
        ("xx", None),
    ],
)
def test_language_uri(code: str, uri: str | None) -> None:
    assert v.language_uri(code) == uri


@pytest.mark.parametrize(
    ("code", "chain"),
    [("06", ["06"]), ("061", ["06", "061"]), ("0613", ["06", "061", "0613"])],
)
def test_isced_ancestors(code: str, chain: list[str]) -> None:
    assert v.isced_ancestors(code) == chain


def test_tables_are_complete_and_consistent() -> None:
    assert sorted(v.eqf_levels()) == list(range(1, 9))
    assert v.eqf_levels()[4].uri == v.EQF_BASE + "4"
    assert {"EUR", "USD", "GBP"} <= set(v.currencies())
    assert {"FRA", "DEU", "BEL"} <= set(v.countries())
    assert all(code.isdigit() and len(code) in (2, 3, 4) for code in v.isced_fields())
    for code in v.isced_fields():
        assert all(ancestor in v.isced_fields() for ancestor in v.isced_ancestors(code)[:-1])


def test_modes_and_schedules_map_to_elm_iris() -> None:
    assert all(term.uri and term.uri.startswith("http://data.europa.eu/snb/") for term in v.MODES.values())
    elm = [code for code, term in v.SCHEDULES.items() if term.uri]
    assert elm == ["full-time", "part-time-light", "part-time-intensive"]
