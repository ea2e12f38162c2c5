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

from search.backend import Suggestion, SuggestionKind
from search.documents import provider_key

MIN_PREFIX = 2
MAX_WORDS = 6
_FIELDS: tuple[tuple[SuggestionKind, str], ...] = (
    ("provider", "provider"),
    ("keyword", "keywords"),
    ("course", "titles"),
)
_SHARE = {"provider": 3, "keyword": 3}  # at most this many of a kind; titles fill the rest


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
    for kind, field in _FIELDS:
        room = min(_SHARE.get(kind, limit), limit - len(found))
        if room <= 0:
            break
        query = _prefix_query(schema, field, words, visibility)
        cards = _cards(searcher, searcher.search(query, room * 4).hits)
        for suggestion in _from_cards(kind, cards, words, fold):
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


def _from_cards(
    kind: SuggestionKind, cards: list[dict[str, Any]], words: list[str], fold: Callable[[str], list[str]]
) -> Iterable[Suggestion]:
    for card in cards:
        if kind == "course" and card.get("title"):
            yield Suggestion("course", str(card["title"]), str(card["id"]))
        elif kind == "provider" and card.get("provider"):
            key = provider_key(str(card["provider"]))
            if key:
                yield Suggestion("provider", str(card["provider"]), key)
        elif kind == "keyword":
            for keyword in card.get("keywords") or ():
                if _starts_words(fold(str(keyword)), words):
                    yield Suggestion("keyword", str(keyword), str(keyword))


def _starts_words(tokens: list[str], words: list[str]) -> bool:
    """Every typed word starts some token of the keyword (what the index matched on)."""
    return all(any(token.startswith(word) for token in tokens) for word in words)
