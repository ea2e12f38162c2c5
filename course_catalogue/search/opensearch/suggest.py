"""Autocomplete on OpenSearch: prefix matches on titles, provider names and keywords.

Same contract and policy as `search.tantivy.suggest`: each typed word is folded client-side
with the shared folding analyzer of `search.analysis` (so both engines agree on what a word is)
and becomes a `prefix` query on the folded field (prefix queries are not analysed: no user text
is ever syntax); all words must match in the same field; providers first, then keywords,
then course titles. One `_msearch` round trip asks for all three kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import tantivy

from course_catalogue.search.analysis import build_analyzers
from course_catalogue.search.backend import Suggestion, SuggestionKind
from course_catalogue.search.documents import OTHER
from course_catalogue.search.opensearch.query import visibility
from course_catalogue.search.query import Query
from course_catalogue.search.suggestions import FIELDS, MAX_WORDS, MIN_PREFIX, SHARE, from_records


@cache
def _fold_analyzer() -> tantivy.TextAnalyzer:
    return build_analyzers()[OTHER]


def fold(text: str) -> list[str]:
    """The words of `text`, lowercased and folded to ASCII as the folded fields index them."""
    return list(_fold_analyzer().analyze(text))


def suggest_requests(prefix: str, limit: int) -> list[tuple[SuggestionKind, dict[str, Any]]] | None:
    """(kind, search body) per kind, or None when `prefix` is too short to suggest anything."""
    words = fold(prefix)[:MAX_WORDS]
    if limit < 1 or sum(len(w) for w in words) < MIN_PREFIX:
        return None
    scope = visibility(Query())
    requests = []
    for kind, field in FIELDS:
        room = min(SHARE.get(kind, limit), limit)
        clauses = [{"prefix": {field: {"value": word}}} for word in words]
        body = {
            "query": {"bool": {"must": clauses, "filter": scope}},
            "size": room * 4,
            "_source": {"includes": ["id", "title", "provider", "keywords"]},
            "sort": [{"_score": "desc"}, {"id": "asc"}],
        }
        requests.append((kind, body))
    return requests


def read_suggestions(
    kinds: list[SuggestionKind], responses: list[Mapping[str, Any]], prefix: str, limit: int
) -> list[Suggestion]:
    """Suggestions from the per-kind responses, in kind order, without duplicates, at most `limit`."""
    words = fold(prefix)[:MAX_WORDS]
    found: dict[tuple[str, str], Suggestion] = {}
    for kind, response in zip(kinds, responses, strict=True):
        room = min(SHARE.get(kind, limit), limit - len(found))
        if room <= 0:
            break
        sources = [hit.get("_source") or {} for hit in (response.get("hits") or {}).get("hits") or ()]
        taken = 0
        for suggestion in from_records(kind, sources, words, fold):
            if (suggestion.kind, suggestion.value) in found:
                continue
            found[suggestion.kind, suggestion.value] = suggestion
            taken += 1
            if taken >= room:
                break
    return list(found.values())[:limit]
