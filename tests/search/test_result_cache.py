"""The search result cache (search/result_cache.py): hits, bounds, and above all invalidation.

The embedded tests use a real tantivy index, and a *second* backend on the same directory to
stand for another process (a harvest worker) writing while the cached one serves."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.search.backend import Document, Suggestion
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import Query, SearchResult
from course_catalogue.search.result_cache import (
    CachedBackend,
    EmbeddedGeneration,
    ExpiringGeneration,
    query_key,
    take_outcome,
)
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from tests.search.conftest import TODAY, catalogue, make_course


def _docs(courses: Iterable[Any]) -> list[Document]:
    return [to_document(stored) for stored in courses]


def _extra(ref: str, title: str) -> Document:
    # Starts far ahead: visible whatever "today" is (suggest judges "past" by the real date).
    return to_document(make_course(ref, title, start=date(2099, 9, 1)))


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    engine = EmbeddedBackend(tmp_path / "index")
    engine.rebuild(_docs(catalogue()))
    engine.close()
    return tmp_path / "index"


@pytest.fixture
def cached(index_dir: Path) -> Any:
    backend = CachedBackend(EmbeddedBackend(index_dir), EmbeddedGeneration(index_dir), size=16)
    yield backend
    backend.close()


@pytest.fixture
def other_process(index_dir: Path) -> Any:
    """Another backend on the same index: writes the cached backend does not see go through it."""
    backend = EmbeddedBackend(index_dir)
    yield backend
    backend.close()


def _q(text: str = "", **kwargs: Any) -> Query:
    return Query.create(text, today=TODAY, **kwargs)


def test_a_repeated_search_is_answered_from_the_cache(cached: CachedBackend) -> None:
    first = cached.search(_q("python"))
    assert take_outcome() == "miss"
    again = cached.search(_q("python"))
    assert take_outcome() == "hit"
    assert again is first
    assert take_outcome() is None  # taken
    other = cached.search(_q("python", sort="title"))
    assert take_outcome() == "miss" and other is not first
    stats = cached.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 2, 2)


def test_a_commit_by_another_process_is_visible_to_the_next_search(
    cached: CachedBackend, other_process: EmbeddedBackend
) -> None:
    before = cached.search(_q("quantum"))
    assert before.total == 0
    other_process.upsert([_extra("q1", "Quantum computing basics")])
    after = cached.search(_q("quantum"))
    assert take_outcome() == "miss"
    assert after.total == 1 and after.hits[0].fields["title"]


def test_a_delete_by_another_process_is_visible(
    cached: CachedBackend, other_process: EmbeddedBackend
) -> None:
    found = cached.search(_q("python"))
    assert found.total >= 1
    other_process.delete([hit.id for hit in found.hits])
    assert cached.search(_q("python")).total == 0


def test_a_rebuild_by_another_process_is_visible(
    cached: CachedBackend, other_process: EmbeddedBackend
) -> None:
    assert cached.search(_q()).total > 1
    other_process.rebuild([_extra("only", "The only course left")])
    after = cached.search(_q())
    assert take_outcome() == "miss"
    assert after.total == 1


def test_writes_through_the_wrapper_invalidate(cached: CachedBackend) -> None:
    assert cached.search(_q("quantum")).total == 0
    cached.upsert([_extra("q1", "Quantum computing basics")])
    assert cached.search(_q("quantum")).total == 1
    cached.delete([_extra("q1", "x")["id"]])
    assert cached.search(_q("quantum")).total == 0


def test_suggestions_are_cached_and_invalidated(
    cached: CachedBackend, other_process: EmbeddedBackend
) -> None:
    assert cached.suggest("quant") == []
    assert cached.suggest("quant") == []
    assert take_outcome() == "hit"
    other_process.upsert([_extra("q1", "Quantum computing basics")])
    assert [s.text for s in cached.suggest("quant") if s.kind == "course"] == ["Quantum computing basics"]
    listed = cached.suggest("quant")
    listed.clear()  # callers get their own list
    assert cached.suggest("quant") != []


def test_the_date_is_part_of_the_key(cached: CachedBackend) -> None:
    cached.search(_q("python"))
    later = Query.create("python", today=TODAY + timedelta(days=400))
    cached.search(later)
    assert take_outcome() == "miss"
    # No explicit date: keyed on the date it resolves to, not on None alone.
    assert query_key(Query.create("python")) != query_key(Query.create("python", today=TODAY))
    key = query_key(Query.create("python"))
    assert isinstance(key, tuple) and key[-1] == date.today()


def test_the_key_covers_every_query_field() -> None:
    base = _q("data science", filters={"language": ["en"]})
    variants = [
        _q("data  science", filters={"language": ["en"]}),  # normalised by Query.create: same key
        _q("data science", filters={"language": ["en", "fr"]}),
        _q("data science", filters={"language": ["en"]}, page=2),
        _q("data science", filters={"language": ["en"]}, page_size=5),
        _q("data science", filters={"language": ["en"]}, sort="title"),
        _q("data science", filters={"language": ["en"]}, include_past=True),
        _q("data science", filters={"language": ["en"]}, near=(52.0, 4.0)),
    ]
    keys = [query_key(q) for q in variants]
    assert keys[0] == query_key(base)
    assert len(set(keys[1:]) | {query_key(base)}) == len(variants)


def test_invalid_queries_raise_and_are_not_cached(cached: CachedBackend) -> None:
    bad = Query(text="x", page=0)
    for _ in range(2):
        with pytest.raises(QueryError):
            cached.search(bad)
    assert cached.stats().entries == 0


def test_size_bounds_the_entries_least_recently_used_first(index_dir: Path) -> None:
    cached = CachedBackend(EmbeddedBackend(index_dir), EmbeddedGeneration(index_dir), size=2)
    try:
        cached.search(_q("python"))
        cached.search(_q("rust"))
        cached.search(_q("python"))  # python is now the most recent
        cached.search(_q("energy"))  # evicts rust
        assert cached.stats().entries == 2
        cached.search(_q("python"))
        assert take_outcome() == "hit"
        cached.search(_q("rust"))
        assert take_outcome() == "miss"
    finally:
        cached.close()


def test_size_zero_disables_caching(index_dir: Path) -> None:
    cached = CachedBackend(EmbeddedBackend(index_dir), EmbeddedGeneration(index_dir), size=0)
    try:
        assert cached.search(_q("python")) is not cached.search(_q("python"))
        assert take_outcome() == "miss" and cached.stats().entries == 0
    finally:
        cached.close()


def test_the_embedded_generation_moves_on_commit_and_switch(
    index_dir: Path, other_process: EmbeddedBackend
) -> None:
    generation = EmbeddedGeneration(index_dir)
    first = generation()
    assert generation() == first
    other_process.upsert([_extra("q1", "Quantum computing basics")])
    committed = generation()
    assert committed != first
    other_process.rebuild([_extra("q2", "Another")])
    assert generation() not in {first, committed}


# --- with a fake engine: time-based generations and races -----------------------------------------


class FakeBackend:
    """Counts searches; `during_search` runs inside each one (to simulate a concurrent commit)."""

    def __init__(self) -> None:
        self.searches = 0
        self.during_search: Callable[[], None] = lambda: None

    def search(self, query: Query) -> SearchResult:
        self.searches += 1
        self.during_search()
        return SearchResult(query, self.searches, (), ())

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        return [Suggestion("keyword", prefix, prefix)]

    def upsert(self, documents: Iterable[Document]) -> int:
        return len(list(documents))

    def delete(self, ids: Sequence[str]) -> None:
        pass

    def rebuild(self, documents: Iterable[Document]) -> int:
        return len(list(documents))

    def inventory(self) -> dict[str, tuple[int, str]]:
        return {}

    def count(self) -> int:
        return 0

    def close(self) -> None:
        pass


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> Hashable:
        return self.value


def test_an_answer_computed_while_the_generation_moved_is_not_kept() -> None:
    engine, generation = FakeBackend(), Counter()
    cached = CachedBackend(engine, generation)
    cached.search(_q("a"))  # generation 0 seen

    def commit() -> None:
        engine.during_search = lambda: None
        generation.value += 1
        cached.search(_q("other"))  # another thread sees the new generation meanwhile

    engine.during_search = commit
    cached.search(_q("b"))  # computed under generation 0, finished under 1: dropped
    assert cached.search(_q("b")).total == 4  # recomputed, not the answer of the third search
    assert engine.searches == 4


def test_the_expiring_generation_bounds_staleness() -> None:
    now = [100.0]
    engine = FakeBackend()
    cached = CachedBackend(engine, ExpiringGeneration(5, clock=lambda: now[0]))
    assert cached.search(_q("a")) is cached.search(_q("a"))
    now[0] += 5
    cached.search(_q("a"))
    assert engine.searches == 2
    cached.upsert([])  # a write through the wrapper shows at once, whatever the clock says
    cached.search(_q("a"))
    assert engine.searches == 3
    with pytest.raises(ValueError):
        ExpiringGeneration(0)


def test_concurrent_searches_agree_with_the_engine() -> None:
    engine, generation = FakeBackend(), Counter()
    cached = CachedBackend(engine, generation, size=4)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                result = cached.search(_q(f"w{(n + i) % 6}"))
                assert result.query.text == f"w{(n + i) % 6}"
                if i % 50 == 0:
                    generation.value += 1
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cached.stats().entries <= 4
