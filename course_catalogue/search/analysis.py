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

    An unbalanced quote is just ignored; every other punctuation separates words.
    """
    chunks: list[tuple[str, bool]] = []
    position = 0
    for match in _QUOTED.finditer(text):
        chunks += [(w, False) for w in _WORD.findall(text[position : match.start()])]
        words = _WORD.findall(match.group(1))
        if len(words) > 1:
            chunks.append((" ".join(words), True))
        else:
            chunks += [(w, False) for w in words]
        position = match.end()
    chunks += [(w, False) for w in _WORD.findall(text[position:])]
    return chunks
