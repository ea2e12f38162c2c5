"""The offline postcode index: parsing what people type, placing codes at gazetteer towns or at
the table's coordinates, exact before area before prefix matches, and the covered countries."""

from __future__ import annotations

import pytest

from course_catalogue.search.gazetteer import Gazetteer, Place
from course_catalogue.search.postcodes import (
    COVERED,
    PostcodeQuery,
    compact,
    display,
    from_tables,
    parse,
    postcodes,
)

COUNTRY_HINTS = {"france": "FR", "fr": "FR", "poland": "PL", "netherlands": "NL"}


def country_of(hint: str) -> str | None:
    return COUNTRY_HINTS.get(hint.strip().lower())


def town(id: int, name: str, country: str, lat: float, lon: float, population: int) -> Place:
    return Place(id, name, country, country + "X", country, "", lat, lon, population)


LYON = town(1, "Lyon", "FR", 45.75, 4.85, 500_000)
BRNO = town(2, "Brno", "CZ", 49.2, 16.6, 380_000)
UTRECHT = town(3, "Utrecht", "NL", 52.09, 5.12, 360_000)


def small_index() -> object:
    gazetteer = Gazetteer([(LYON, ["Lugdunum"]), (BRNO, []), (UTRECHT, [])])
    tables = [
        ("FR", [{"code": "69002", "localityName": "LYON"}, {"code": "69003", "localityName": "Lugdunum"}]),
        ("CZ", [{"code": "690 02", "localityName": "Nowhere"}, {"code": "602 00", "localityName": "Brno"}]),
        ("NL", [{"code": "3511", "localityName": "Utrecht"}]),
        ("PL", [{"code": "31-008", "localityName": "KRAKÓW", "latitude": 50.06, "longitude": 19.94}]),
    ]
    return from_tables(tables, gazetteer, {"PL": ("POL", "Poland")})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("69002", PostcodeQuery("69002", None, "")),
        ("69002 Lyon", PostcodeQuery("69002", None, "lyon")),
        ("Lyon 69002", PostcodeQuery("69002", None, "lyon")),
        ("D-80331 München", PostcodeQuery("80331", "DE", "munchen")),
        ("FR-69002", PostcodeQuery("69002", "FR", "")),
        ("3511 EP Utrecht", PostcodeQuery("3511EP", None, "utrecht")),
        ("31-008 Kraków, Poland", PostcodeQuery("31008", "PL", "krakow")),
        ("4050-279", PostcodeQuery("4050279", None, "")),
        ("100 04 Stockholm", PostcodeQuery("10004", None, "stockholm")),
        ("8000, Atlantis", PostcodeQuery("8000", None, "atlantis")),  # an unknown hint stays words
    ],
)
def test_parse_reads_code_country_and_town(text: str, expected: PostcodeQuery) -> None:
    assert parse(text, country_of) == expected


@pytest.mark.parametrize("text", ["Lyon", "Paris 16", "Lyon 03", "", "A-1"])
def test_parse_leaves_town_names_alone(text: str) -> None:
    assert parse(text, country_of) is None


def test_codes_compact_and_display_as_their_country_writes_them() -> None:
    assert compact(" 31-008 ") == "31008" and compact("3511 ep") == "3511EP"
    assert (display("PL", "31008"), display("PT", "4050279"), display("SE", "10004")) == (
        "31-008",
        "4050-279",
        "100 04",
    )
    assert display("FR", "69002") == "69002"


def test_codes_are_placed_at_towns_or_own_coordinates_else_left_out() -> None:
    index = small_index()
    found = index.find(PostcodeQuery("69002", None, ""))  # type: ignore[attr-defined]
    assert [(m.country, m.place) for m in found] == [("FR", LYON)]  # CZ 690 02 "Nowhere" left out
    assert index.find(PostcodeQuery("69003", "FR", ""))[0].place == LYON  # type: ignore[attr-defined]
    krakow = index.find(PostcodeQuery("31008", None, ""))[0]  # type: ignore[attr-defined]
    assert (krakow.place.name, krakow.place.lat, krakow.place.country3) == ("Kraków", 50.06, "POL")
    assert krakow.display_code == "31-008"
    assert index.countries == ("CZ", "FR", "NL", "PL")  # type: ignore[attr-defined]


def test_exact_then_area_then_prefix_and_town_words_filter() -> None:
    index = small_index()
    assert index.find(PostcodeQuery("3511EP", None, ""))[0].place == UTRECHT  # type: ignore[attr-defined]
    assert index.find(PostcodeQuery("602", None, ""))[0].place == BRNO  # type: ignore[attr-defined]
    assert index.find(PostcodeQuery("69002", None, "brno")) == []  # type: ignore[attr-defined]
    assert index.find(PostcodeQuery("69002", "CZ", "")) == []  # type: ignore[attr-defined]
    assert index.find(PostcodeQuery("99999", None, "")) == []  # type: ignore[attr-defined]
    suggested = index.suggest(PostcodeQuery("690", None, ""), 5)  # type: ignore[attr-defined]
    assert [(m.code, m.place.name) for m in suggested] == [("69002", "Lyon")]  # one per town


def test_shipped_tables_cover_the_listed_countries() -> None:
    index = postcodes(5000)
    assert index.countries == tuple(sorted(COVERED))
    expected = [("50667", None, "Köln"), ("75001", None, "Paris"), ("1000", None, "Brussels")]
    expected += [("00100", None, "Warsaw"), ("00100", "FI", "Helsinki")]  # PL 00-100 is bigger
    for code, country, name in expected:
        assert index.find(PostcodeQuery(code, country, ""))[0].place.name == name
