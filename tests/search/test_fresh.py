"""FreshResults: hits and course suggestions the store holds withdrawn are never served, whatever a
lagging index says; queries that ask for withdrawn courses are left alone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from course_catalogue.search.documents import to_document
from course_catalogue.search.fresh import FreshResults
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from tests.search.conftest import cid, make_course, q


class Withdrawn:
    """The store's answer, with a count of how often it was asked."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids
        self.asked = 0

    def __call__(self, ids: Iterable[str]) -> set[str]:
        self.asked += 1
        return self.ids & set(ids)


def test_hits_the_store_withdrew_are_dropped_and_the_total_follows(embedded_backend: EmbeddedBackend) -> None:
    plain = embedded_backend.search(q(page_size=100))
    gone = {plain.hits[0].id, plain.hits[2].id}
    fresh = FreshResults(embedded_backend, Withdrawn(gone))
    result = fresh.search(q(page_size=100))
    assert [h.id for h in result.hits] == [h.id for h in plain.hits if h.id not in gone]
    assert result.total == plain.total - 2
    asked_for_them = fresh.search(q(page_size=100, include_withdrawn=True, include_past=True))
    assert gone <= {h.id for h in asked_for_them.hits}


def test_nothing_withdrawn_leaves_the_answer_as_it_is(embedded_backend: EmbeddedBackend) -> None:
    lookup = Withdrawn(set())
    fresh = FreshResults(embedded_backend, lookup)
    assert fresh.search(q("python")) == embedded_backend.search(q("python"))
    assert lookup.asked == 1
    assert fresh.search(q("no such words at all")).hits == ()
    assert lookup.asked == 1  # no hits: nothing to ask


def test_course_suggestions_the_store_withdrew_are_dropped(embedded_backend: EmbeddedBackend) -> None:
    # starting far ahead: visible whatever "today" is (suggest judges "past" by the real date)
    ahead = [make_course(f"q{i}", f"Quantum computing part {i}", start=date(2099, 9, 1)) for i in range(3)]
    embedded_backend.upsert(to_document(c) for c in ahead)
    plain = embedded_backend.suggest("quant", 8)
    courses = [s.value for s in plain if s.kind == "course"]
    assert courses, plain
    fresh = FreshResults(embedded_backend, Withdrawn({courses[0]}))
    assert courses[0] not in {s.value for s in fresh.suggest("quant", 8) if s.kind == "course"}
    assert fresh.count() == embedded_backend.count() and fresh.inventory() == embedded_backend.inventory()
    assert cid("python") in {
        h.id for h in FreshResults(embedded_backend, Withdrawn(set())).search(q("python")).hits
    }
