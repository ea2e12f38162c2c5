"""Autocomplete on the tantivy index: prefix matches on titles, provider names and keywords.

Each word the user typed is folded with the index's own `*_other` analyzer and becomes a
prefix term query (a fuzzy query with distance 0 and `prefix=True`); all words must match in
the same field. The texts shown come from each matching document's stored card, so what is
suggested is always something that exists and is visible.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tantivy

from course_catalogue.search.backend import Suggestion
from course_catalogue.search.suggestions import FIELDS, MAX_WORDS, MIN_PREFIX, SHARE, from_records


def suggest(
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    fold: Callable[[str], list[str]],
    visibility: Sequence[tantivy.Query],
    prefix: str,
    limit: int,
) -> list[Suggestion]:
    """Suggestions for `prefix` (see `SearchBackend.suggest` for the contract)."""
    words = fold(prefix)[:MAX_WORDS]
    if limit < 1 or sum(len(w) for w in words) < MIN_PREFIX:
        return []
    found: dict[tuple[str, str], Suggestion] = {}
    for kind, field in FIELDS:
        room = min(SHARE.get(kind, limit), limit - len(found))
        if room <= 0:
            break
        query = _prefix_query(schema, field, words, visibility)
        cards = _cards(searcher, searcher.search(query, room * 4).hits)
        for suggestion in from_records(kind, cards, words, fold):
            found.setdefault((suggestion.kind, suggestion.value), suggestion)
            if sum(1 for k, _ in found if k == kind) >= room:
                break
    return list(found.values())[:limit]


def _prefix_query(
    schema: tantivy.Schema, field: str, words: list[str], visibility: Sequence[tantivy.Query]
) -> tantivy.Query:
    clauses = [
        (tantivy.Occur.Must, tantivy.Query.fuzzy_term_query(schema, field, word, distance=0, prefix=True))
        for word in words
    ]
    clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(v, 0.0)) for v in visibility]
    return tantivy.Query.boolean_query(clauses)


def _cards(
    searcher: tantivy.Searcher, hits: Iterable[tuple[Any, tantivy.DocAddress]]
) -> list[dict[str, Any]]:
    cards = []
    for _score, address in hits:
        doc = searcher.doc(address)
        card: dict[str, Any] = json.loads(bytes(doc.get_first("card") or b"{}"))
        card.setdefault("id", doc.get_first("id"))
        cards.append(card)
    return cards
