"""record_to_tantivy: the embedded reindex's record -> tantivy JSON path, equal to the document path.

A full reindex into the embedded engine converts each stored record straight to the JSON object
`IndexWriter.add_json` takes, without the search document in between. What it hands to tantivy
must be the very text `to_tantivy(record_document(...))` gives: the comparisons below are on the
exact JSON strings (key order, int/float types and escapes count).
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.generate import stored_courses
from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.model import Location
from course_catalogue.search.documents import StoredRecord, record_document
from course_catalogue.search.errors import IndexingError
from course_catalogue.search.sync import RecordRebuild, record_documents, reindex, stored_records
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.index import _card_bytes, _encode_doc, record_to_tantivy, to_tantivy
from tests.search.conftest import catalogue, make_course, q
from tests.search.test_sync import ListStore

ELIGIBLE = (("erasmus", "bildungsgutschein"), (), ("a-scheme",))


def _record(stored: StoredCourse) -> dict[str, Any]:
    """The record as the store hands it back: its JSON text read back."""
    return dict(json.loads(json.dumps(course_to_dict(stored.course))))


def _both(record: dict[str, Any], status: str, seq: int, eligible: Any = ()) -> tuple[str, str]:
    via_document = to_tantivy(record_document(record, status, seq, eligible))
    direct = record_to_tantivy(record, status, seq, eligible)
    return via_document, direct


def test_equals_the_document_path_on_generated_courses() -> None:
    # the bench generator: many languages, prices, ECTS bases, places, outcomes and tombstones
    courses = list(stored_courses(600, seed=7, hashed=False))
    assert {str(s.status) for s in courses} == {"active", "withdrawn"}
    for i, stored in enumerate(courses):
        via_document, direct = _both(_record(stored), str(stored.status), stored.seq, ELIGIBLE[i % 3])
        assert direct == via_document, stored.id


def test_equals_the_document_path_on_the_fixture_catalogue() -> None:
    for stored in catalogue():
        via_document, direct = _both(_record(stored), stored.status, stored.seq, ["scheme-b", "scheme-a"])
        assert direct == via_document, stored.id


def _odd_record() -> dict[str, Any]:
    """A record with what the codec strips, drops or normalises, "und" tags, several outcome
    languages, numbers as strings and floats, places with and without coordinates."""
    record = course_to_dict(
        make_course(
            "odd",
            {"en": "Énergie  solaire\tavancée", "fr": "Énergie", "und": "Energia", "nb": "Energi"},
            description={"de": "Solarenergie", "pt-BR": "Energia solar"},
            outcomes=["Measure power", "Size a panel"],
            languages=["fr"],
            modes=["blended"],
            isced=["0713", "07", "0"],
            ects="7.50",
            price="0.00",
            start=date(2025, 1, 2),
            end=date(2025, 3, 4),
            locations=[
                Location("FRA", " Bretagne ", "Rennes"),
                Location("FRA", "Bretagne", " Brest ", latitude=48.39, longitude=-4.49),
                Location("FRA", "  ", "", latitude=1.0, longitude=2.0),
            ],
        ).course
    )
    record["title"]["de"] = "  Energie  "  # unstripped: the codec strips it
    record["description"]["en"] = "   "  # blank: dropped
    record["learning_outcomes"].append({"text": {"und": "Bilanz", "fr": " Bilan "}})
    record["workload"]["ects"] = 7.5  # a JSON number instead of the codec's string
    record["price"]["amount"] = 0
    record["keywords"] = ["solar", "", "énergie"]
    record["eqf_level"] = 0
    return dict(json.loads(json.dumps(record)))


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"languages": ["fr", "de"]},  # no implied language: "und" text is "other"
        {"languages": []},
        {"modes": ["online"]},  # no geo point
        {"modes": []},  # no modes: the geo point is kept
        {"price": None, "workload": None},
        {
            "price": {"amount": "1250.5", "currency": "EUR"},
            "workload": {"ects": "120", "ects_basis": "stated"},
        },
        {"start_date": None, "end_date": None},
        {"start_date": None},
        {"title": {}, "description": {}, "learning_outcomes": []},
        {"title": {"el": "Ενέργεια", "zh": "能源"}},
        {"locations": [], "isced_f": [], "keywords": []},
        {"provider": {"name": {"pl": "Politechnika Łódzka"}, "country": None}},
        {"provider": {"name": {}}},
        {"schedule": "", "url": None},
    ],
)
def test_equals_the_document_path_on_odd_records(change: dict[str, Any]) -> None:
    record = {**_odd_record(), **change}
    for status, seq, eligible in (("withdrawn", 42, ["erasmus"]), ("active", 0, ())):
        via_document, direct = _both(record, status, seq, eligible)
        assert direct == via_document
    assert json.loads(direct)["status"] == "active"


def test_odd_record_values() -> None:
    """What the odd record gives, so that the comparisons above do not pass on empty output."""
    converted = json.loads(record_to_tantivy(_odd_record(), "withdrawn", 42, ["b", "a"]))
    assert converted["title_fr"] == ["Énergie\nEnergia"]  # "und" is the course's only language
    assert converted["title_no"] == ["Energi"] and converted["title_de"] == ["Energie"]
    assert converted["description_pt"] == ["Energia solar"] and "description_en" not in converted
    assert converted["outcomes_fr"] == ["Measure power\nSize a panel\nBilan\nBilanz"]
    assert converted["keywords"] == ["solar", "énergie"] and converted["eqf"] == ["0"]
    assert converted["isced"] == ["07", "071", "0713"] and converted["isced_detailed"] == ["0713"]
    assert converted["city_keys"] == ["rennes", "brest"] and converted["region_keys"] == ["bretagne"]
    assert (converted["lat"], converted["lon"]) == (48.39, -4.49)
    assert converted["ects"] == 7.5 and converted["price_bucket"] == "free"
    assert converted["eligible"] == ["a", "b"] and converted["seq"] == 42
    assert converted["visible_until"] == date(2025, 3, 4).toordinal()


def test_a_record_without_an_id_fails_as_the_document_path_does() -> None:
    record = {**_odd_record(), "id": ""}
    with pytest.raises(IndexingError) as via_document:
        to_tantivy(record_document(record, "active", 1))
    with pytest.raises(IndexingError) as direct:
        record_to_tantivy(record, "active", 1)
    assert str(direct.value) == str(via_document.value)
    with pytest.raises(KeyError):
        record_to_tantivy({"title": {}}, "active", 1)


def test_encoders_give_the_values_of_json_dumps() -> None:
    """orjson writes the tantivy JSON and the card: compact text, the same values as the
    stdlib's `json.dumps` (what the engine and the hits read back); what orjson refuses falls
    back to the stdlib."""
    card = {
        "id": "x",
        "title": "Économie\u2028",
        "ects": 7.5,
        "price": Decimal("1.50"),
        "day": date(2025, 1, 2),
        "at": datetime(2025, 1, 2, 3, 4),  # default=str: "2025-01-02 03:04:00", as before
        "big": 2**70,  # beyond orjson: the stdlib's text
    }
    expected = json.loads(json.dumps(card, ensure_ascii=False, default=str))
    assert json.loads(_card_bytes(card)) == expected
    assert json.loads(_card_bytes({k: v for k, v in card.items() if k != "big"})) == {
        k: v for k, v in expected.items() if k != "big"
    }
    doc = {"id": "x", "titles": ["Ωmega \x01", '"quoted"'], "n": 2**62, "f": 0.1, "g": 1e16, "none": None}
    assert json.loads(_encode_doc(doc)) == doc
    assert json.loads(_encode_doc({**doc, "n": 2**70})) == {**doc, "n": 2**70}
    for value in (Decimal("1"), date(2025, 1, 2)):
        with pytest.raises(TypeError):
            _encode_doc({"price": value})  # documents hold JSON values only, as before


def test_stored_records_feed_record_documents() -> None:
    store = ListStore(catalogue())
    records = list(stored_records(store.iter_records(include_withdrawn=True)))
    documents = list(record_documents(store.iter_records(include_withdrawn=True)))
    assert [record_document(*r) for r in records] == documents and len(documents) == 10


def test_reindex_into_the_embedded_engine_converts_records_directly(tmp_path: Path) -> None:
    """`reindex` hands the embedded engine records (`rebuild_records`); the index it builds holds
    what a rebuild from the documents holds."""
    store = ListStore(catalogue())
    direct, via_documents = EmbeddedBackend(tmp_path / "a"), EmbeddedBackend(tmp_path / "b")
    try:
        assert isinstance(direct, RecordRebuild)
        calls: list[int] = []
        rebuild_records = direct.rebuild_records

        def spy(records: Any) -> int:
            calls.append(1)
            return rebuild_records(records)

        direct.rebuild_records = spy  # type: ignore[method-assign]
        assert reindex(store, direct) == 10 and calls == [1]
        assert via_documents.rebuild(record_documents(store.iter_records(include_withdrawn=True))) == 10
        assert direct.inventory() == via_documents.inventory()
        for text in ("", "python", "donnees", "energie"):
            a, b = direct.search(q(text)), via_documents.search(q(text))
            assert [h.fields for h in a.hits] == [h.fields for h in b.hits]
            assert a.total == b.total and a.facets == b.facets
    finally:
        direct.close()
        via_documents.close()


def test_a_failing_record_aborts_the_rebuild_and_keeps_the_old_index(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        backend.rebuild_records([StoredRecord(_record(make_course("a", "Kept")), "active", 1)])
        bad = StoredRecord({"id": "b", "title": {}}, "active", 2)  # no provider: KeyError, unchanged
        with pytest.raises(KeyError):
            backend.rebuild_records([bad])
        assert backend.count() == 1 and backend.search(q("kept")).total == 1
    finally:
        backend.close()


def test_status_of_a_stored_course_enum() -> None:
    stored = make_course("w", "Withdrawn", status=CourseStatus.WITHDRAWN)
    converted = json.loads(record_to_tantivy(_record(stored), CourseStatus.WITHDRAWN, 3))
    assert converted["status"] == "withdrawn"


def _random_record(rng: random.Random) -> dict[str, Any]:
    """A record mixing what the fixed cases above try one at a time."""
    tags = ["en", "fr", "de", "und", "nb", "pt-BR", "pl", "zh-Hant", "EL"]
    words = ["Énergie", "data", "  spaced  ", "", " ", "Ωmega", "Łódź", "naïve café", "x" * 70, "a\nb"]

    def text() -> dict[str, str]:
        return {tag: rng.choice(words) for tag in rng.sample(tags, rng.randint(0, 3))}

    def place() -> dict[str, Any]:
        latitude = rng.choice([None, 48.1, -0.0, 0.0])
        return {
            "country": "FRA",
            "region": rng.choice([None, "", " Bretagne ", "Île-de-France", "★"]),
            "city": rng.choice([None, "Rennes", " Brest ", "", "Saint-Étienne"]),
            "postcode": None,
            "address": None,
            "latitude": latitude,
            "longitude": None if latitude is None else rng.choice([2.35, None]),
        }

    record = _odd_record()
    record.update(
        {
            "title": text(),
            "description": text(),
            "learning_outcomes": [{"text": text()} for _ in range(rng.randint(0, 3))],
            "provider": {"name": text(), "country": rng.choice([None, "FRA", ""])},
            "languages": rng.sample(["fr", "en", "nb", "und", "xx"], rng.randint(0, 2)),
            "modes": rng.sample(["online", "onsite", "blended", "workbased"], rng.randint(0, 2)),
            "isced_f": rng.sample(["0713", "07", "0", "061", "0612", "0612"], rng.randint(0, 3)),
            "keywords": rng.sample(["solar", "", "énergie", "data"], rng.randint(0, 3)),
            "eqf_level": rng.choice([None, 0, 4, 8]),
            "schedule": rng.choice([None, "", "part-time"]),
            "start_date": rng.choice([None, "", "2025-01-02", "0001-01-01"]),
            "end_date": rng.choice([None, "2025-03-04", "9999-12-31"]),
            "price": rng.choice(
                [None, {"amount": "0"}, {"amount": 12.5, "currency": "EUR"}, {"amount": "-1"}]
            ),
            "workload": rng.choice([None, {}, {"ects": "0.005", "ects_basis": "estimated-from-hours"}]),
            "locations": [place() for _ in range(rng.randint(0, 3))],
        }
    )
    return record


def test_equals_the_document_path_on_random_records() -> None:
    rng = random.Random(20261123)
    for i in range(400):
        record = _random_record(rng)
        via_document, direct = _both(record, rng.choice(["active", "withdrawn"]), i, ELIGIBLE[i % 3])
        assert direct == via_document, record
