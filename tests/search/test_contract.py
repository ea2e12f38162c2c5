"""Contract: writes, rebuilds and their visibility, the same on every engine.

Each test gets a fresh backend of each engine holding the catalogue (see conftest `backend`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.model import lang_text
from course_catalogue.search.backend import Document, SearchBackend
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import BackendUnavailable, IndexingError
from tests.search.conftest import catalogue, cid, make_course, q


def retitled(stored: StoredCourse, title: str) -> StoredCourse:
    return replace(stored, course=replace(stored.course, title=lang_text(title, "en")))


def test_upsert_replaces_by_id(backend: SearchBackend, courses: list[StoredCourse]) -> None:
    before = backend.count()
    assert backend.upsert([to_document(retitled(courses[0], "Advanced Haskell"))]) == 1
    assert backend.count() == before
    assert [h.id for h in backend.search(q("haskell")).hits] == [courses[0].id]
    assert backend.search(q("Introduction")).total == 0


def test_upsert_adds_new_documents(backend: SearchBackend) -> None:
    before = backend.count()
    backend.upsert([to_document(make_course("new", "Quantum computing primer", start=None))])
    assert backend.count() == before + 1
    assert [h.id for h in backend.search(q("quantum")).hits] == [cid("new")]


def test_delete_removes_and_ignores_unknown_ids(backend: SearchBackend) -> None:
    before = backend.count()
    backend.delete([cid("rust"), "no-such-id"])
    assert backend.count() == before - 1
    assert backend.search(q("rust")).total == 0
    backend.delete([])


def test_document_without_id_is_an_indexing_error(backend: SearchBackend) -> None:
    before = backend.count()
    with pytest.raises(IndexingError):
        backend.upsert([to_document(make_course("ok", "Fine")), {"title": "no id"}])
    assert backend.count() == before  # the batch was rolled back


def test_searches_during_rebuild_never_see_an_empty_index(backend: SearchBackend) -> None:
    docs = [to_document(s) for s in catalogue()]
    totals: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop() -> None:
        while not stop.is_set():
            try:
                totals.append(backend.search(q()).total)
            except BaseException as error:  # surfaced by the assertion below
                errors.append(error)
                return

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        for _ in range(5):
            backend.rebuild(iter(docs))
            backend.upsert(docs[:2])
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert totals and min(totals) == 8


def test_closed_backend_is_unavailable(backend: SearchBackend) -> None:
    backend.close()
    with pytest.raises(BackendUnavailable):
        backend.search(q())
    with pytest.raises(BackendUnavailable):
        backend.count()


def test_new_backend_is_empty_and_searchable(empty_backend: SearchBackend) -> None:
    assert empty_backend.count() == 0
    result = empty_backend.search(q("anything"))
    assert result.total == 0 and result.hits == ()


def test_rebuild_replaces_everything(backend: SearchBackend) -> None:
    for _ in range(2):
        assert backend.rebuild(to_document(s) for s in catalogue()[:4]) == 4
    assert backend.count() == 4
    assert backend.search(q("rust")).total == 0  # the fifth course is gone
    assert backend.search(q("python")).hits[0].id == cid("python")


def test_failed_rebuild_keeps_the_old_index(backend: SearchBackend) -> None:
    before = backend.count()

    def broken() -> Iterator[Document]:
        yield to_document(catalogue()[0])
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        backend.rebuild(broken())
    assert backend.count() == before
    with pytest.raises(IndexingError):
        backend.rebuild([{"no": "id"}])
    assert backend.count() == before
    assert backend.search(q()).total == 8


def test_writes_are_visible_when_they_return(backend: SearchBackend) -> None:
    # Searched straight after each write, without any wait or explicit refresh.
    backend.upsert([to_document(make_course("w1", "Bookkeeping for beginners"))])
    assert [h.id for h in backend.search(q("bookkeeping")).hits] == [cid("w1")]
    backend.delete([cid("w1")])
    assert backend.search(q("bookkeeping")).total == 0
    backend.rebuild(to_document(s) for s in catalogue()[:2])
    assert backend.search(q(include_past=True, include_withdrawn=True)).total == 2


def test_a_second_instance_sees_the_same_index(
    backend: SearchBackend, request: pytest.FixtureRequest
) -> None:
    # Another process (web server vs CLI) opens the same index by path or prefix.
    from course_catalogue.search.opensearch.backend import OpenSearchBackend
    from course_catalogue.search.tantivy.backend import EmbeddedBackend

    if isinstance(backend, EmbeddedBackend):
        other: SearchBackend = EmbeddedBackend(backend._versions.root)
    else:
        assert isinstance(backend, OpenSearchBackend)
        other = type(backend)(client=backend._client, index_prefix=backend.alias)
    backend.upsert([to_document(make_course("new", "Quantum computing primer"))])
    assert other.search(q("quantum")).total == 1
    backend.rebuild(to_document(s) for s in catalogue()[:3])
    assert other.count() == 3
    other.upsert([to_document(make_course("late", "Origami"))])
    assert backend.search(q("origami")).total == 1
