"""Embedded-only behaviour: version directories, reopening from disk, locking, schema markers.

What every engine must do (writes, rebuild, visibility) is in test_contract.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import tantivy

from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.model import lang_text
from course_catalogue.search.backend import Document
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import BackendUnavailable, IndexingError, IndexOutdated
from course_catalogue.search.index_versions import MARKER, POINTER
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from tests.search.conftest import catalogue, make_course, q


@pytest.fixture
def backend(embedded_backend: EmbeddedBackend) -> EmbeddedBackend:
    return embedded_backend


def retitled(stored: StoredCourse, title: str) -> StoredCourse:
    return replace(stored, course=replace(stored.course, title=lang_text(title, "en")))


def test_new_directory_gives_an_empty_working_index(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "fresh" / "index")
    assert backend.count() == 0
    result = backend.search(q("anything"))
    assert result.total == 0 and result.hits == ()
    assert (tmp_path / "fresh" / "index" / POINTER).read_text().strip() == "v000001"


def test_reopen_from_disk(tmp_path: Path, backend: EmbeddedBackend) -> None:
    expected = [h.id for h in backend.search(q("python")).hits]
    again = EmbeddedBackend(tmp_path / "index")
    assert again.count() == backend.count()
    assert [h.id for h in again.search(q("python")).hits] == expected
    assert again.search(q("donnees")).total == 1  # analyzers registered on open


def test_another_instance_sees_writes_on_its_next_search(tmp_path: Path, backend: EmbeddedBackend) -> None:
    reader = EmbeddedBackend(tmp_path / "index")
    assert reader.search(q("quantum")).total == 0
    backend.upsert([to_document(make_course("new", "Quantum computing primer"))])
    assert reader.search(q("quantum")).total == 1
    backend.rebuild(to_document(s) for s in catalogue()[:3])
    assert reader.count() == 3


def test_rebuild_replaces_everything_and_prunes_old_versions(
    tmp_path: Path, backend: EmbeddedBackend
) -> None:
    for _ in range(3):
        assert backend.rebuild(to_document(s) for s in catalogue()[:4]) == 4
    assert backend.count() == 4
    versions = sorted(p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("v"))
    assert len(versions) == 2  # the live one and the one it replaced
    assert (tmp_path / "index" / POINTER).read_text().strip() == versions[-1]


def test_failed_rebuild_keeps_the_old_index(tmp_path: Path, backend: EmbeddedBackend) -> None:
    before = backend.count()
    versions = {p.name for p in (tmp_path / "index").iterdir()}

    def broken() -> Iterator[Document]:
        yield to_document(catalogue()[0])
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        backend.rebuild(broken())
    assert backend.count() == before
    with pytest.raises(IndexingError):
        backend.rebuild([{"no": "id"}])
    assert backend.count() == before
    assert {p.name for p in (tmp_path / "index").iterdir()} == versions


def test_busy_writer_in_another_process_times_out_as_indexing_error(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index", writer_timeout=0.2)
    live = (tmp_path / "index" / POINTER).read_text().strip()
    other = tantivy.Index.open(str(tmp_path / "index" / live))  # stands in for another process
    writer = other.writer(15_000_000, 1)
    try:
        with pytest.raises(IndexingError, match="writer"):
            backend.upsert([to_document(make_course("x", "Blocked"))])
    finally:
        writer.wait_merging_threads()
    assert backend.upsert([to_document(make_course("x", "Unblocked"))]) == 1


def test_index_from_an_older_schema_needs_a_reindex(tmp_path: Path, backend: EmbeddedBackend) -> None:
    live = (tmp_path / "index" / POINTER).read_text().strip()
    (tmp_path / "index" / live / MARKER).write_text("0\n")
    stale = EmbeddedBackend(tmp_path / "index")
    with pytest.raises(IndexOutdated, match="reindex"):
        stale.search(q())
    with pytest.raises(IndexOutdated, match="reindex"):
        stale.count()
    with pytest.raises(IndexingError, match="reindex"):
        stale.upsert([to_document(catalogue()[0])])
    assert stale.rebuild(to_document(s) for s in catalogue()) == 10
    assert stale.search(q()).total == 8


def test_unusable_directory_is_backend_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BackendUnavailable):
        EmbeddedBackend(blocker / "index")


def test_title_sort_key_folds_accents_but_keeps_every_script() -> None:
    from course_catalogue.search.sorting import title_key

    titles = ["مسائل اللغة العربية", "Finance", "Économie", "Data", "Ωκεανογραφία", "数据科学"]
    ordered = sorted(titles, key=title_key)
    assert ordered[:3] == ["Data", "Économie", "Finance"]  # Latin first, accents folded
    assert all(title_key(t) for t in titles)  # no script folds to an empty key


def test_sort_keys_are_fast_columns_only(tmp_path: Path, backend: EmbeddedBackend) -> None:
    """Sort keys (SORT_KEY) add no term to the inverted index but keep their whole text in the
    fast column: the key order, cursors and upserts through a reopened index are unchanged."""
    from course_catalogue.search.sorting import SORT_FIELDS, sort_key

    searcher = backend._refresh().index.searcher()
    docs = [to_document(s) for s in catalogue()]
    for sort, field in SORT_FIELDS.items():
        keys = sorted(sort_key(sort, doc) for doc in docs)
        term = backend._builder.term(field, keys[0])
        assert searcher.search(term, 10).count == 0  # not searchable: no terms
        found = searcher.search(tantivy.Query.all_query(), 20, order_by_field=field, order=tantivy.Order.Asc)
        assert [str(key) for key, _ in found.hits] == keys  # the whole keys, in key order
    reopened = EmbeddedBackend(tmp_path / "index")  # the fast-field tokenizer registered on open
    added = make_course("aaa", "Aardvark studies")
    reopened.upsert([to_document(added)])
    first = reopened.search(q(sort="title", include_past=True, include_withdrawn=True)).hits[0]
    assert first.id == added.id
    page = reopened.search(q(sort="title", page_size=3))
    rest = reopened.search(q(sort="title", page_size=3, cursor=page.next_cursor))
    assert [h.id for h in rest.hits] == [h.id for h in reopened.search(q(sort="title", page_size=6)).hits][3:]
