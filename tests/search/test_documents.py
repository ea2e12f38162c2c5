"""to_document: one flattening, per-language text keys, facet values, card fields."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from bench.generate import stored_courses
from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_from_dict, course_to_dict
from course_catalogue.catalogue.model import Location
from course_catalogue.search.documents import (
    CARD_FIELDS,
    provider_key,
    record_document,
    text_language,
    to_document,
)
from tests.search.conftest import NOW, catalogue, make_course


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


def _both_ways(stored: StoredCourse, eligible: tuple[str, ...] = ()) -> tuple[str, str]:
    """The document of `stored` as the store hands it back, built from the Course and from the
    record, as exact JSON text (key order and int/float types count): what a reindex builds must
    equal what a sync builds. (The store's Course is read from the record, whose mappings
    `course_to_dict` sorted: the order of a title's languages can differ from the original's.)"""
    record = json.loads(json.dumps(course_to_dict(stored.course)))  # the stored JSON, read back
    from_course = to_document(replace(stored, course=course_from_dict(record)), eligible)
    from_record = record_document(record, stored.status, stored.seq, eligible)
    return json.dumps(from_course), json.dumps(from_record)


def test_record_document_equals_to_document_on_the_fixture_catalogue() -> None:
    for stored in catalogue():
        course_doc, record_doc = _both_ways(stored, ("scheme-b", "scheme-a"))
        assert course_doc == record_doc, stored.id


def test_record_document_equals_to_document_on_generated_courses() -> None:
    # the bench generator: many languages, prices, ECTS bases, places, outcomes and tombstones
    for stored in stored_courses(400, seed=5, hashed=False):
        course_doc, record_doc = _both_ways(stored)
        assert course_doc == record_doc, stored.id


def test_record_document_normalises_records_as_the_codec_reads_them() -> None:
    """A record with text the codec strips or drops, "und" tags, several outcome languages,
    string and float numbers: the record path must apply course_from_dict's normalisation."""
    record = course_to_dict(
        make_course(
            "x",
            {"en": "Energy", "fr": "Énergie", "und": "Energia"},
            outcomes=["Measure power"],
            languages=["fr"],
            modes=["blended"],
            isced=["0713", "07"],
            ects="7.50",
            price="0.00",
            start=date(2025, 1, 2),
            locations=[Location("FRA", " Bretagne ", "Rennes", latitude=48.1, longitude=-1.68)],
        ).course
    )
    record["title"]["de"] = "  Energie  "  # unstripped: course_from_dict strips it
    record["description"] = {"en": "   ", "pl": "Energia odnawialna"}  # a blank entry is dropped
    record["learning_outcomes"].append({"text": {"und": "Bilanz", "fr": " Bilan "}})
    record["workload"]["ects"] = 7.5  # a JSON number instead of the codec's string
    record["price"]["amount"] = 0
    stored = StoredCourse(course_from_dict(record), CourseStatus.WITHDRAWN, "h", 42, NOW, NOW)
    expected = to_document(stored, ["erasmus"])
    assert json.dumps(record_document(record, "withdrawn", 42, ["erasmus"])) == json.dumps(expected)
    assert expected["title_de"] == "Energie" and "description_en" not in expected
    assert expected["free"] is True and expected["ects"] == 7.5
