"""to_document: one flattening, per-language text keys, facet values, card fields."""

from __future__ import annotations

import json
from datetime import date

from catalogue.changes import CourseStatus
from catalogue.model import Location
from search.documents import CARD_FIELDS, provider_key, text_language, to_document
from tests.search.conftest import make_course


def test_flattens_facets_numbers_and_dates() -> None:
    stored = make_course(
        "x",
        "Data science",
        description="Statistics",
        provider="Université de Lyon",
        country="FRA",
        eqf=6,
        languages=["fr"],
        modes=["onsite", "online"],
        isced=["0613", "0542"],
        ects="7.5",
        price="0",
        start=date(2025, 1, 2),
        end=date(2025, 3, 4),
    )
    doc = to_document(stored)
    assert doc["id"] == stored.id
    assert doc["status"] == "active"
    assert doc["eqf"] == "6"
    assert doc["isced"] == ["06", "061", "0613", "05", "054", "0542"]
    assert doc["isced_broad"] == ["06", "05"]
    assert doc["isced_narrow"] == ["061", "054"] and doc["isced_detailed"] == ["0613", "0542"]
    assert doc["start_day"] == float(date(2025, 1, 2).toordinal())
    assert doc["ects"] == 7.5 and isinstance(doc["ects"], float)
    assert doc["price"] == 0.0 and doc["free"] is True and doc["currency"] is None
    assert doc["start_date"] == "2025-01-02" and doc["end_date"] == "2025-03-04"
    assert doc["provider_key"] == "universite-de-lyon"
    assert doc["languages"] == ["fr"] and doc["modes"] == ["onsite", "online"]
    json.dumps(doc)  # every backend can serialise it


def test_places_and_geo_point() -> None:
    places = [
        Location("FRA", "Auvergne-Rhône-Alpes", "Lyon"),
        Location("FRA", "Île-de-France", "Paris", latitude=48.85, longitude=2.35),
        Location("FRA", "Île-de-France", " Paris "),
    ]
    doc = to_document(make_course("p", "On site", modes=["blended"], locations=places))
    assert doc["cities"] == ["Lyon", "Paris"] and doc["city_keys"] == ["lyon", "paris"]
    assert doc["regions"] == ["Auvergne-Rhône-Alpes", "Île-de-France"]
    assert doc["region_keys"] == ["auvergne-rhone-alpes", "ile-de-france"]
    assert doc["geo"] == {"lat": 48.85, "lon": 2.35}  # the first location with coordinates
    online = to_document(make_course("o", "Online", modes=["online"], locations=places))
    assert online["geo"] is None and online["city_keys"] == ["lyon", "paris"]
    undated = to_document(make_course("u", "Undated"))
    assert undated["start_day"] > date(9999, 12, 31).toordinal() and undated["geo"] is None


def test_text_is_split_by_language() -> None:
    doc = to_document(make_course("x", {"en": "Energy", "fr": "Énergie", "pl": "Energia"}, languages=["en"]))
    assert doc["title_en"] == "Energy"
    assert doc["title_fr"] == "Énergie"
    assert doc["title_other"] == "Energia"
    assert doc["title"] == "Energy"
    assert set(doc["titles"].split("\n")) == {"Energy", "Énergie", "Energia"}


def test_undetermined_text_takes_the_only_course_language() -> None:
    doc = to_document(make_course("x", {"und": "Formation continue"}, languages=["fr"]))
    assert doc["title_fr"] == "Formation continue"
    assert "title_other" not in doc


def test_language_tags_and_provider_keys() -> None:
    assert text_language("fr-BE") == "fr"
    assert text_language("nb") == "no"
    assert text_language("pl") == "other"
    assert text_language("und") == "other"
    assert provider_key("  Technische Hochschule München ") == "technische-hochschule-munchen"
    assert provider_key("★") is None


def test_withdrawn_status_and_card_fields_present() -> None:
    doc = to_document(make_course("x", "T", status=CourseStatus.WITHDRAWN))
    assert doc["status"] == "withdrawn"
    assert set(CARD_FIELDS) <= set(doc)


def test_is_pure() -> None:
    stored = make_course("x", "Same", description="Same text", ects="1")
    assert to_document(stored) == to_document(stored)
