"""How text becomes terms, and the relevance policy: shared by both engines so they agree.

Text is analysed with one tokenizer chain (tantivy's simple tokenizer, tokens over MAX_TOKEN
characters dropped, lowercase, ASCII folding, then a Snowball stemmer per language of
`documents.STEMMERS`; OTHER folds without stemming). The embedded index registers these
analyzers on its fields; the OpenSearch backend runs them client-side to fold suggestion
prefixes and to recognise stop words. This module uses the tantivy *library* as a text-analysis
toolkit; it holds nothing of the embedded engine (`search/tantivy/`).

User text is cut into words and "quoted phrases" by `split_text` before any engine sees it, so
no character typed is ever query syntax. The relevance policy (per-field boosts, the fuzzy title
match, the tie breaker of the per-word disjunction) is data both query builders read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import tantivy

from course_catalogue.search.documents import OTHER, STEMMERS

MAX_TOKEN = 40  # longer "words" are noise (hashes, URLs) and bloat the term dictionary
FIELD_BOOSTS: Mapping[str, float] = {"title": 3.0, "outcomes": 1.5, "description": 1.0}
FOLDED_BOOSTS: Mapping[str, float] = {"provider": 2.0, "keywords": 1.5}
FUZZY_FIELD = "titles"
FUZZY_BOOST = 0.5
TIE_BREAKER = 0.1

_WORD = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r'"([^"]*)"')
_NEGATED = re.compile(r'(?:^|(?<=\s))-(?:"([^"]*)"|([^\s"]+))')
"""`-word` or `-"a phrase"` at the start of the text or after a blank: left out of the results.
A hyphen inside a word ("e-learning") or followed by a blank ("C - advanced") is not a minus."""


def build_analyzers() -> dict[str, tantivy.TextAnalyzer]:
    """Analyzer per language key of LANGUAGES (OTHER folds without stemming)."""
    analyzers = {lang: _analyzer(stemmer) for lang, stemmer in STEMMERS.items()}
    analyzers[OTHER] = _analyzer(None)
    return analyzers


def build_stopword_analyzers() -> list[tantivy.TextAnalyzer]:
    """Analyzers that drop the stop words of the languages tantivy has lists for."""
    analyzers = []
    for stemmer in STEMMERS.values():
        builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
        try:
            analyzers.append(builder.filter(tantivy.Filter.stopword(stemmer)).build())
        except ValueError:  # no stop word list for this language
            continue
    return analyzers


def _analyzer(stemmer: str | None) -> tantivy.TextAnalyzer:
    # Fold before stemming so that text typed without accents stems exactly like accented text.
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stemmer:
        builder = builder.filter(tantivy.Filter.stemmer(stemmer))
    return builder.build()


def split_text(text: str) -> list[tuple[str, bool]]:
    """Cut user text into (chunk, is_phrase): balanced "quotes" make phrases, the rest words.
    Excluded parts (`-word`, `-"a phrase"`: see `excluded_text`) are not among them.

    An unbalanced quote is just ignored; every other punctuation separates words.
    """
    return _chunks(_NEGATED.sub(" ", text))


def fuzzy_distance(term: str) -> int:
    """Edit distance allowed for a folded term: none under 5 letters, 1 up to 8, else 2 (the
    embedded engine's fuzzy terms; OpenSearch's "AUTO:5,9" is the same rule)."""
    if len(term) < 5:
        return 0
    return 1 if len(term) <= 8 else 2


def words(text: str) -> list[str]:
    """The words of `text` as the query splits them (letters and digits; the rest separates)."""
    return _WORD.findall(text)


def excluded_text(text: str) -> list[tuple[str, bool]]:
    """The (chunk, is_phrase) the user excluded with a leading minus: `-java` or `-"web design"`.
    A course matching any of them is not found (both engines: a must-not clause)."""
    chunks: list[tuple[str, bool]] = []
    for match in _NEGATED.finditer(text):
        quoted, word = match.groups()
        chunks += _chunks(f'"{quoted}"' if quoted is not None else word)
    return chunks


def _chunks(text: str) -> list[tuple[str, bool]]:
    chunks: list[tuple[str, bool]] = []
    position = 0
    for match in _QUOTED.finditer(text):
        chunks += [(w, False) for w in _WORD.findall(text[position : match.start()])]
        found = _WORD.findall(match.group(1))
        if len(found) > 1:
            chunks.append((" ".join(found), True))
        else:
            chunks += [(w, False) for w in found]
        position = match.end()
    chunks += [(w, False) for w in _WORD.findall(text[position:])]
    return chunks
