"""The autocomplete policy shared by every engine: what is suggested, how much of each kind, and
how a matched record becomes suggestions (see `SearchBackend.suggest` for the contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from course_catalogue.search.backend import Suggestion, SuggestionKind
from course_catalogue.search.documents import provider_key

MIN_PREFIX = 2  # letters typed (over all words) before anything is suggested
MAX_WORDS = 6
FIELDS: tuple[tuple[SuggestionKind, str], ...] = (
    ("provider", "provider"),
    ("keyword", "keywords"),
    ("course", "titles"),
)
"""Kinds in the order they are offered, with the folded document field each is matched on."""
SHARE = {"provider": 3, "keyword": 3}  # at most this many of a kind; titles fill the rest


def from_records(
    kind: SuggestionKind,
    records: Iterable[Mapping[str, Any]],
    words: list[str],
    fold: Callable[[str], list[str]],
) -> Iterable[Suggestion]:
    """Suggestions of `kind` from matched records (cards with id, title, provider, keywords).

    A keyword is suggested only when every typed word starts one of its tokens, which is what
    the index matched on; the other keywords of the same record are not suggested."""
    for record in records:
        if kind == "course" and record.get("title"):
            yield Suggestion("course", str(record["title"]), str(record["id"]))
        elif kind == "provider" and record.get("provider"):
            key = provider_key(str(record["provider"]))
            if key:
                yield Suggestion("provider", str(record["provider"]), key)
        elif kind == "keyword":
            for keyword in record.get("keywords") or ():
                tokens = fold(str(keyword))
                if all(any(token.startswith(word) for token in tokens) for word in words):
                    yield Suggestion("keyword", str(keyword), str(keyword))
