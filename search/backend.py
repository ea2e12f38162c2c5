"""The interface every search engine implements (embedded tantivy, OpenSearch)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from search.query import Query, SearchResult

Document = dict[str, Any]
"""A flat search document made by `search.documents.to_document`; "id" is the course id."""


class SearchBackend(Protocol):
    """Contract (the backend contract tests check it on every engine):

    * `upsert` adds or replaces documents by id, `delete` removes ids (unknown ids are ignored);
      both are visible to `search` when they return.
    * `rebuild` replaces the whole index with `documents` such that concurrent searches see
      either the old or the new index, never an empty or partial one.
    * `search` never raises on user text; only `QueryError` for invalid requests.
    """

    def upsert(self, documents: Iterable[Document]) -> int: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def rebuild(self, documents: Iterable[Document]) -> int: ...

    def search(self, query: Query) -> SearchResult: ...

    def count(self) -> int: ...

    def close(self) -> None: ...
