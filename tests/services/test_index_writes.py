"""A full reindex and a repair hold the index outbox's drain lock (search.sync.index_writes_held).

Why: a delivery retires its outbox entries once it has written the documents. A delivery made
while a rebuild reads the store goes into the index the rebuild is about to replace (OpenSearch:
the alias's old index; the embedded engine: the old version, when the rebuild read before
holding its writer), and is lost with it: the soak found courses whose eligibility change never
reached search. Held, deliveries wait with their entries pending and the reindex delivers them
before it lets go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.search import sync
from course_catalogue.search.documents import StoredRecord
from course_catalogue.search.query import Query
from course_catalogue.search.sync import RecordRebuild, index_facts
from course_catalogue.services.runtime import Services, get_services
from course_catalogue.web.app import create_app
from tests.registries import publish
from tests.schemes import EligibilityStore


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"BACKGROUND_SECONDS": 0, "RATELIMIT_ANONYMOUS": ""}, instance_path=str(tmp_path))
    with app.app_context():
        get_services().store.migrate()
        yield app
        get_services().close()


def _drift(svc: Services) -> dict[str, Any]:
    """Courses whose indexed (version, status) differs from the store's."""
    courses = list(svc.store.iter_courses(include_withdrawn=True))
    facts = index_facts([c.id for c in courses], EligibilityStore(svc.store))
    expected = {c.id: (max(c.seq, facts.get(c.id, ((), 0))[1]), str(c.status)) for c in courses}
    indexed = svc.backend.inventory()
    return {
        cid: (expected.get(cid), indexed.get(cid))
        for cid in set(expected) | set(indexed)
        if expected.get(cid) != indexed.get(cid)
    }


def test_a_change_committed_during_a_reindex_is_in_the_index_when_it_returns(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = get_services()
    publish(svc.store, {ref: {} for ref in "abcdef"})
    svc.drain_outbox()
    assert _drift(svc) == {}
    during: list[sync.DrainReport] = []
    original = sync.stored_records

    def read_then_change(*args: Any, **kwargs: Any) -> Iterator[StoredRecord]:
        yield from original(*args, **kwargs)
        # the rebuild has read every course; now a harvest commits and its sink tries to deliver
        publish(svc.store, {ref: {"eqf_level": 6} for ref in "abcdef"})
        during.append(svc.drain_outbox(wait=0))

    monkeypatch.setattr(sync, "stored_records", read_then_change)
    assert svc.reindex() == 6
    assert [report.skipped for report in during] == [True]  # held off while the rebuild ran ...
    assert Outbox(svc.store).head() is None  # ... and delivered by the reindex before it returned
    assert _drift(svc) == {}
    found = svc.backend.search(Query.create(filters={"eqf": ("6",)}, page_size=50))
    assert {hit.id for hit in found.hits} == {c.id for c in svc.store.iter_courses()}


def test_repair_waits_for_a_delivery_in_progress_and_a_delivery_waits_for_a_repair(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = get_services()
    publish(svc.store, {ref: {} for ref in "abc"})
    during: list[sync.DrainReport] = []
    original = sync.repair

    def repair_while_delivering(*args: Any, **kwargs: Any) -> sync.RepairReport:
        during.append(svc.drain_outbox(wait=0))
        return original(*args, **kwargs)

    monkeypatch.setattr("course_catalogue.services.runtime.repair", repair_while_delivering)
    delivered, report = svc.repair_index()
    assert delivered.delivered == 3 and report.drift == 0
    assert [r.skipped for r in during] == [True]
    assert _drift(svc) == {}


def test_the_web_backend_rebuilds_from_records_whatever_wraps_the_engine(app: Flask) -> None:
    """The result cache and FreshResults pass `rebuild_records` through, so a full reindex
    streams the store's records into the engine (no list of every document first)."""
    svc = get_services()
    assert isinstance(svc.backend, RecordRebuild)
    publish(svc.store, {ref: {} for ref in "ab"})
    assert svc.reindex() == 2 and _drift(svc) == {}
