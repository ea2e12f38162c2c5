"""The interface every search engine implements (embedded tantivy, OpenSearch)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from course_catalogue.search.query import Query, SearchResult

Document = dict[str, Any]
"""A flat search document made by `search.documents.to_document`; "id" is the course id."""


SuggestionKind = Literal["course", "provider", "keyword"]


@dataclass(frozen=True)
class Suggestion:
    """One autocomplete entry. `value` is what selecting it means: the course id for "course",
    the `provider` facet value (provider_key) for "provider", the keyword itself for "keyword"
    (keywords hold skills, subjects and names)."""

    kind: SuggestionKind
    text: str
    value: str


class SearchBackend(Protocol):
    """Contract (the backend contract tests check it on every engine):

    * `upsert` adds or replaces documents by id, `delete` removes ids (unknown ids are ignored);
      both are visible to `search` when they return.
    * `rebuild` replaces the whole index with `documents` such that concurrent searches see
      either the old or the new index, never an empty or partial one.
    * `search` never raises on user text; only `QueryError` for invalid requests.
    * `suggest(prefix, limit)` completes what a user is typing, over visible courses only (active,
      not past): every word of `prefix` (folded, lowercased) must start a word of the course
      title, the provider name or a keyword. At most `limit` suggestions: providers first, then
      keywords, then course titles by relevance; no duplicate (kind, value); fewer than
      2 letters gives []. Never raises on user text.
    """

    def upsert(self, documents: Iterable[Document]) -> int: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def rebuild(self, documents: Iterable[Document]) -> int: ...

    def search(self, query: Query) -> SearchResult: ...

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]: ...

    def inventory(self) -> dict[str, tuple[int, str]]:
        """Every indexed document's id -> (seq, status), tombstones included (for repair)."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...
