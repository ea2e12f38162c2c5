"""Searches that help: spelling correction from the index's own vocabulary and the any-word
fallback, on top of any `SearchBackend` (only its public `search` and `suggest` are used, so
both engines behave alike).

* Correction: each searched word of five letters or more (shorter words get no typo
  tolerance from the engines either, see `analysis.fuzzy_distance`) is looked up alone;
  the titles of the courses it finds (the engines match titles with typo tolerance) are the
  vocabulary. A word those titles hold is kept; otherwise the closest title word within the
  allowed edit distance (transpositions count one) replaces it; a title word that extends the
  typed one or that it extends ("course", "courses") counts as holding it (an inflection, not
  a typo). The corrected search is shown when it finds at least as many courses as the text as
  typed (the engines' typo tolerance often finds the same courses, ranked worse).
* Fallback: a search of several words that finds nothing is run again with any word
  sufficing (`Query.any_words`), and says so.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace

from course_catalogue.search.analysis import excluded_text, fuzzy_distance, split_text, words
from course_catalogue.search.backend import SearchBackend, Suggestion
from course_catalogue.search.query import Query, SearchResult

MAX_CHECKED_WORDS = 6
"""Words of one search looked up for a correction (each costs one small search)."""
VOCABULARY_HITS = 20
"""Titles read per looked-up word."""


@dataclass(frozen=True)
class Assisted:
    """A search result and what was done to get it. `typed` is the text as the user typed it
    when `result` is for a corrected text (`result.query.text`); `result.query.any_words`
    says the fallback ran."""

    result: SearchResult
    typed: str | None = None

    @property
    def corrected(self) -> bool:
        return self.typed is not None

    @property
    def relaxed(self) -> bool:
        return self.result.query.any_words


def assisted_search(backend: SearchBackend, query: Query, *, correct: bool = True) -> Assisted:
    """`backend.search(query)`, corrected and relaxed as the module docstring says. Only the
    first page of a search that is not already relaxed is assisted: later pages carry the
    corrected text and `any_words` in their links (`web.facets.query_params`)."""
    result = backend.search(query)
    if not assistable(query):
        return Assisted(result)
    typed = None
    if correct:
        better = better_spelling(backend, query, result)
        if better is not None:
            result, typed = better, query.text
    if result.total == 0 and len(split_text(result.query.text)) > 1:
        relaxed = backend.search(replace(result.query, any_words=True))
        if relaxed.total:
            result = relaxed
    return Assisted(result, typed)


def assistable(query: Query) -> bool:
    """Whether `query` is one this module helps: search words, first page, not already relaxed."""
    return bool(query.text) and query.cursor is None and query.page == 1 and not query.any_words


def better_spelling(backend: SearchBackend, query: Query, result: SearchResult) -> SearchResult | None:
    """The search of `query` with its misspelt words corrected (`corrected_text`), when that
    finds some courses and at least as many as `result` (the search as typed); else None. None
    too for a query that is not `assistable`."""
    if not assistable(query):
        return None
    corrected = corrected_text(backend, query, seen=_title_words(result))
    if corrected is None:
        return None
    better = backend.search(replace(query, text=corrected))
    return better if better.total and better.total >= result.total else None


def corrected_text(backend: SearchBackend, query: Query, seen: Collection[str] = ()) -> str | None:
    """The search text with misspelt words replaced by the closest words of the catalogue's
    titles, or None when no word needs it. Quoted phrases and excluded words are kept as typed.
    `seen`: folded title words known already (those of the search's own hits): a typed word
    among them (or an inflection of one) is not looked up."""
    if excluded_text(query.text) or '"' in query.text:
        return None  # query syntax: the user chose the words exactly
    typed = words(query.text)
    if not typed or len(typed) > MAX_CHECKED_WORDS:
        return None
    changed = False
    out: list[str] = []
    for word in typed:
        folded = fold(word)
        known = any(inflected(folded, t) for t in seen)
        replacement = None if known else _correct_word(backend, query, word)
        changed |= replacement is not None
        out.append(replacement or word)
    return " ".join(out) if changed else None


def corrected_suggestions(backend: SearchBackend, prefix: str, limit: int) -> list[Suggestion]:
    """Autocomplete that survives typos: the engine's suggestions for `prefix`, and when it has
    none, those for the prefix with its complete misspelt words corrected ("pyhton" ->
    "python")."""
    found = backend.suggest(prefix, limit)
    if found or not prefix.strip():
        return found
    corrected = corrected_text(backend, Query.create(prefix, page_size=1, facets=()))
    return backend.suggest(corrected, limit) if corrected else []


def _title_words(result: SearchResult) -> set[str]:
    return {fold(token) for hit in result.hits for token in words(str(hit.fields.get("title") or ""))}


def _correct_word(backend: SearchBackend, query: Query, word: str) -> str | None:
    folded = fold(word)
    distance = fuzzy_distance(folded)
    if distance == 0:
        return None
    probe = Query(text=word, page_size=VOCABULARY_HITS, facets=(), include_past=True, today=query.today)
    vocabulary: Counter[str] = Counter()
    for hit in backend.search(probe).hits:
        vocabulary.update(fold(token) for token in words(str(hit.fields.get("title") or "")))
    if not vocabulary or any(inflected(folded, t) for t in vocabulary):
        return None
    close = [
        (d, -count, token)
        for token, count in vocabulary.items()
        if token[:1].isalpha() and (d := edit_distance(folded, token, distance)) <= distance
    ]
    return min(close)[2] if close else None


def inflected(a: str, b: str) -> bool:
    """Whether folded words `a` and `b` are one word, or one extends the other by an ending of
    at most four letters ("course"/"courses", "program"/"programming"; not "mac"/"machne")."""
    short, long = sorted((a, b), key=len)
    return a == b or (long.startswith(short) and len(short) >= max(4, len(long) - 4))


def fold(text: str) -> str:
    """Lower case without accents, as the engines' folded fields compare words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of `a` and `b` (an adjacent transposition counts one,
    as in the engines' fuzzy matching); any value over `limit` is returned as `limit + 1`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)
