"""Never serve a course the store has withdrawn, whatever the index still says.

The index follows the store after each commit (search.sync.drain_outbox), so for a moment (and
after a crash, until the next drain) it can still hold a withdrawn course as active.
`FreshResults` wraps the web layer's backend and asks the store, per answer, which of the
courses about to be served are withdrawn (one indexed primary-key read of at most a page of
ids), and drops them: hits of a search (the total is lowered by as many) and course
suggestions. Queries that ask for withdrawn courses (`include_withdrawn`) are left alone.

What it does not correct during that moment: facet counts and the total of hits beyond the
page (they count the document as the index has it), and provider or keyword suggestions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from course_catalogue.search.backend import Document, SearchBackend, Suggestion
from course_catalogue.search.documents import StoredRecord
from course_catalogue.search.query import Query, SearchResult
from course_catalogue.search.sync import rebuild_from_records

WithdrawnLookup = Callable[[Iterable[str]], set[str]]
"""Which of these course ids does the store hold as withdrawn (catalogue.outbox.Outbox.withdrawn_among)."""


class FreshResults:
    """SearchBackend wrapper that filters answers against the store (see the module docstring);
    writes and everything else pass through to `backend`."""

    def __init__(self, backend: SearchBackend, withdrawn: WithdrawnLookup) -> None:
        self.backend = backend
        self._withdrawn = withdrawn

    def search(self, query: Query) -> SearchResult:
        result = self.backend.search(query)
        if query.include_withdrawn or not result.hits:
            return result
        gone = self._withdrawn(hit.id for hit in result.hits)
        if not gone:
            return result
        hits = tuple(hit for hit in result.hits if hit.id not in gone)
        return replace(result, hits=hits, total=max(len(hits), result.total - len(result.hits) + len(hits)))

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        found = self.backend.suggest(prefix, limit)
        courses = [s.value for s in found if s.kind == "course"]
        gone = self._withdrawn(courses) if courses else set()
        return [s for s in found if not (s.kind == "course" and s.value in gone)]

    def upsert(self, documents: Iterable[Document]) -> int:
        return self.backend.upsert(documents)

    def delete(self, ids: Sequence[str]) -> None:
        self.backend.delete(ids)

    def rebuild(self, documents: Iterable[Document]) -> int:
        return self.backend.rebuild(documents)

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int:
        return rebuild_from_records(self.backend, records)

    def inventory(self) -> dict[str, tuple[int, str]]:
        return self.backend.inventory()

    def count(self) -> int:
        return self.backend.count()

    def close(self) -> None:
        self.backend.close()
