"""Stored records that disagree with their content hash (catalogue/record_checks.py), and the ids
and provenance a remap reads even from a record that no longer decodes (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from course_catalogue.catalogue.codec import record_hash
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.record_checks import UNREADABLE, Inconsistent, inconsistent_records, rehash
from course_catalogue.catalogue.schema import courses
from course_catalogue.catalogue.store import CatalogueStore
from tests.registries import SOURCE, publish


def _set(store: CatalogueStore, ref: str, **values: object) -> None:
    with store.writing() as conn:
        conn.execute(courses.update().where(courses.c.id == course_id(SOURCE, ref)).values(**values))


def _row(store: CatalogueStore, ref: str) -> Any:
    with store.reading() as conn:
        query = sa.select(courses.c.content_hash, courses.c.record).where(
            courses.c.id == course_id(SOURCE, ref)
        )
        return conn.execute(query).one()


def test_records_that_disagree_with_their_hash_are_found_and_rehashed(store: CatalogueStore) -> None:
    publish(store, {f"c{i}": {"eqf_level": 4} for i in range(5)})
    assert inconsistent_records(store, SOURCE) == []  # what the harvest path writes agrees
    edited = {**_row(store, "c1").record, "title": {"en": "Edited by hand"}}
    _set(store, "c1", record=edited)
    _set(store, "c2", content_hash="f" * 64)
    _set(store, "c3", record={"nonsense": True})
    _set(store, "c4", status="withdrawn", content_hash="0" * 64)  # tombstones are not checked
    found = inconsistent_records(store, SOURCE)
    expected = {course_id(SOURCE, "c1"): False, course_id(SOURCE, "c2"): False, course_id(SOURCE, "c3"): True}
    assert found == sorted(Inconsistent(cid, unreadable) for cid, unreadable in expected.items())
    assert inconsistent_records(store, "another-source") == []

    assert rehash(store, [entry.course_id for entry in found]) == 3
    assert _row(store, "c1").content_hash == record_hash(edited)  # now describes what is stored
    assert _row(store, "c3").content_hash == UNREADABLE  # no candidate's hash equals it
    assert [entry.course_id for entry in inconsistent_records(store, SOURCE)] == [course_id(SOURCE, "c3")]


def test_provenance_is_read_even_from_a_record_that_does_not_decode(store: CatalogueStore) -> None:
    publish(store, {"a": {}, "b": {}})
    _set(store, "b", record={"nonsense": True})
    found = dict(store.iter_provenance(source_id=SOURCE))
    good, bad = found[course_id(SOURCE, "a")], found[course_id(SOURCE, "b")]
    assert (good.source_id, good.provider_ref) == (SOURCE, "a") and good.harvested_at is not None
    assert (bad.source_id, bad.provider_ref, bad.harvested_at, bad.pointer) == (SOURCE, "b", None, None)
