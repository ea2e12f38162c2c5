"""Translate a `search.query.Query` into tantivy Query objects: user text, filters, visibility.

User text is never handed to tantivy's query-string parser. It is cut into words (and
"quoted phrases") here, each word is run through every language analyzer, and the resulting
terms become term/phrase/fuzzy queries built through the tantivy.Query API, so no character
the user types can be query syntax.

Per word, the fields compete in a disjunction-max (the best field wins, the others add a
little): title x3, provider x2, outcomes and keywords x1.5, description x1, and a fuzzy match
on titles (edit distance 1 for 5-8 letters, 2 for longer) at a constant 0.5, below any exact
title match. The fuzzy alternative is left out for a word that KNOWN_WORD_TITLES or more titles
contain exactly: it is a word of the catalogue, not a typo, and a fuzzy term walks the whole
title dictionary (a third of a two-word query at a million courses). Words must all match;
stop words are optional when other words are present; with four or more words one in four may
be missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import tantivy

from course_catalogue.search.analysis import (
    FIELD_BOOSTS,
    FOLDED_BOOSTS,
    FUZZY_BOOST,
    FUZZY_FIELD,
    TIE_BREAKER,
    excluded_text,
    fuzzy_distance,
    split_text,
)
from course_catalogue.search.documents import LANGUAGES, OTHER
from course_catalogue.search.geo import bounding_box
from course_catalogue.search.query import FACETS, FACETS_BY_NAME, Query, facet_ranges
from course_catalogue.search.tantivy.index import BUCKET_FIELDS, text_field

MAX_WORDS = 32  # a pasted paragraph is not a query; the rest is ignored
KNOWN_WORD_TITLES = 5
FILTER_FIELDS: Mapping[str, str] = {spec.name: spec.filter_field for spec in FACETS if spec.filter_field}
"""Facet name -> the field its filter uses when that differs from the counted field: a broad
ISCED code selects every course under it, and narrower codes can be filtered on too."""

_ALL = 2**62  # "every document": a bound that compares above any index's document count
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # every indexed facet value has this shape
_URI = re.compile(r'^https?://[^\s"\\]+$')  # ...or this one (ESCO skill URIs): quoted, it is one term


@dataclass(frozen=True)
class Analysis:
    """The terms of one user word (or phrase) per language key of LANGUAGES."""

    terms: Mapping[str, list[str]]
    stopword: bool

    @property
    def empty(self) -> bool:
        return not any(self.terms.values())


class QueryBuilder:
    """Builds tantivy queries against one schema with the analyzers the index uses."""

    def __init__(
        self,
        schema: tantivy.Schema,
        analyzers: Mapping[str, tantivy.TextAnalyzer],
        stopword_analyzers: Sequence[tantivy.TextAnalyzer],
    ) -> None:
        self._schema = schema
        self._analyzers = analyzers
        self._stopwords = stopword_analyzers

    # -- user text -------------------------------------------------------------------------

    def text(
        self, text: str, searcher: tantivy.Searcher | None = None, *, any_words: bool = False
    ) -> tantivy.Query | None:
        """The query for user text, or None when it holds no searchable word (match all).

        With a `searcher`, words that KNOWN_WORD_TITLES titles contain get no fuzzy alternative.
        With `any_words`, one word suffices (the fallback when no course has them all)."""
        return self.text_and_reach(text, searcher, any_words=any_words)[0]

    def text_and_reach(
        self, text: str, searcher: tantivy.Searcher | None = None, *, any_words: bool = False
    ) -> tuple[tantivy.Query | None, int | None]:
        """`text()`, and with a `searcher` an upper bound of the documents it can match (from
        the document frequencies of its terms; typo alternatives are not counted): None without
        a searcher or text. Facet counting (search.tantivy.facets) picks its plan by it.
        Excluded words (`-word`) become must-not clauses."""
        included, reach = self._included(text, searcher, any_words=any_words)
        excluded = [
            self._clause(analysis, fuzzy=False)[0]
            for chunk, is_phrase in excluded_text(text)[:MAX_WORDS]
            if not (analysis := self._analyse(chunk, check_stopword=False)).empty
        ]
        if not excluded:
            return included, reach
        base = included if included is not None else tantivy.Query.all_query()
        clauses = [(tantivy.Occur.Must, base), *((tantivy.Occur.MustNot, q) for q in excluded)]
        return tantivy.Query.boolean_query(clauses), reach

    def _included(
        self, text: str, searcher: tantivy.Searcher | None, *, any_words: bool
    ) -> tuple[tantivy.Query | None, int | None]:
        required: list[tantivy.Query] = []
        optional: list[tantivy.Query] = []
        reaches: list[int] = []
        optional_reaches: list[int] = []
        for chunk, is_phrase in split_text(text)[:MAX_WORDS]:
            analysis = self._analyse(chunk, check_stopword=not is_phrase)
            if analysis.empty:
                continue
            fuzzy = not is_phrase and not _known(searcher, analysis)
            clause, reach = self._clause(analysis, fuzzy=fuzzy, searcher=searcher)
            (optional if analysis.stopword else required).append(clause)
            (optional_reaches if analysis.stopword else reaches).append(reach)
        if not required:
            required, optional, reaches = optional, [], optional_reaches
        if not required:
            return None, None
        core = _any_of(required) if any_words else _at_least(required)  # stop words stay optional
        # A document matching at least m of n words matches one of any n - m + 1 of them.
        needed = 1 if any_words else _required_count(len(reaches))
        least = sum(sorted(reaches)[: len(reaches) - needed + 1])
        bound = min(least, int(searcher.num_docs)) if searcher is not None else None
        if not optional:
            return core, bound
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, core), *((tantivy.Occur.Should, q) for q in optional)]
        ), bound

    def _analyse(self, chunk: str, *, check_stopword: bool) -> Analysis:
        terms = {lang: self._analyzers[lang].analyze(chunk) for lang in LANGUAGES}
        stop = check_stopword and any(not a.analyze(chunk) for a in self._stopwords)
        return Analysis(terms, stop)

    def _clause(
        self, analysis: Analysis, *, fuzzy: bool, searcher: tantivy.Searcher | None = None
    ) -> tuple[tantivy.Query, int]:
        """One word's (or phrase's) alternatives, and how many documents they can match at most
        (the sum of the single terms' document frequencies; a phrase counts as every document).
        With a `searcher`, a single term absent from a field is left out: it could match
        nothing there, and each of the ~50 per-language alternatives costs a dictionary lookup
        in every segment, on every pass of the query."""
        # A phrase differs from a word only in having several terms (_match makes a phrase
        # query of them) and in getting no fuzzy alternative.
        fields = [
            (text_field(kind, lang), terms, boost)
            for lang, terms in analysis.terms.items()
            if terms
            for kind, boost in FIELD_BOOSTS.items()
        ]
        folded = analysis.terms[OTHER]
        if folded:
            fields += [(name, folded, boost) for name, boost in FOLDED_BOOSTS.items()]
        clauses = []
        reach = 0
        for name, terms, boost in fields:
            if searcher is not None and len(terms) == 1:
                found = int(searcher.doc_freq(name, terms[0]))
                if not found:
                    continue
                reach += found
            elif searcher is not None:
                reach = _ALL
            clauses.append(self._boosted(self._match(name, terms), boost))
        typo = self._fuzzy(folded) if fuzzy else None
        if typo is not None:
            clauses.append(typo)
        if not clauses:
            return tantivy.Query.empty_query(), 0
        return tantivy.Query.disjunction_max_query(clauses, tie_breaker=TIE_BREAKER), min(reach, _ALL)

    def _match(self, field: str, terms: list[str]) -> tantivy.Query:
        if len(terms) == 1:
            return tantivy.Query.term_query(self._schema, field, terms[0])
        return tantivy.Query.phrase_query(self._schema, field, list(terms))

    def _fuzzy(self, folded: list[str]) -> tantivy.Query | None:
        if len(folded) != 1:
            return None
        distance = fuzzy_distance(folded[0])
        if distance == 0:
            return None
        fuzzy = tantivy.Query.fuzzy_term_query(self._schema, FUZZY_FIELD, folded[0], distance=distance)
        return tantivy.Query.boost_query(fuzzy, FUZZY_BOOST)

    @staticmethod
    def _boosted(query: tantivy.Query, boost: float) -> tantivy.Query:
        return query if boost == 1.0 else tantivy.Query.boost_query(query, boost)

    # -- filters -----------------------------------------------------------------------------

    def filters(self, query: Query) -> dict[str, tantivy.Query]:
        """Facet name -> the (non-scoring) query of its selected values, OR-ed."""
        return {name: self._facet_filter(name, values, query) for name, values in query.filters.items()}

    def _facet_filter(self, name: str, values: Sequence[str], query: Query) -> tantivy.Query:
        terms = filter_terms(name, values)
        if terms is not None:
            field, keys = terms
            # An OR of term queries, not term_set_query: that one builds an FST of the set (with a
            # large scratch allocation) every time a weight is made, a third of a filtered query.
            return _any_of([self.term(field, value) for value in keys]) if keys else _nothing()
        spec = FACETS_BY_NAME[name]
        ranges = [r for r in facet_ranges(spec, query) if r.key in values]
        return _any_of([self.range(spec.field, r.low, r.high) for r in ranges])

    def filter_expression(self, name: str, values: Sequence[str], query: Query) -> str | None:
        """The same filter as `filters()` in tantivy query-string syntax, for filter aggregations.

        Only values of the shape every indexed facet value has (codes, slugs, range keys, or URIs
        without quotes, backslashes or blanks) are written into the string, always quoted; None
        means no value can match anything.
        """
        terms = filter_terms(name, values)
        if terms is None:
            spec = FACETS_BY_NAME[name]
            ranges = [r for r in facet_ranges(spec, query) if r.key in values]
            parts = [_range_expression(spec.field, r.low, r.high) for r in ranges]
        else:
            field, keys = terms
            parts = [f'{field}:"{value}"' for value in keys if _CODE.match(value) or _URI.match(value)]
        return " OR ".join(parts) if parts else None

    def range(self, field: str, low: float | None, high: float | None) -> tantivy.Query:
        """Documents whose float `field` is in [low, high); None is open-ended."""
        return tantivy.Query.range_query(
            self._schema,
            field,
            tantivy.FieldType.Float,
            None if low is None else float(low),
            None if high is None else float(high),
            include_lower=True,
            include_upper=high is None,  # tantivy wants open ends marked inclusive
        )

    def box(self, near: tuple[float, float], km: float) -> tantivy.Query:
        """Documents with a geo point in the bounding box of the circle (`near`, `km`)."""
        min_lat, max_lat, min_lon, max_lon = bounding_box(near, km)
        lat = tantivy.Query.range_query(
            self._schema,
            "lat",
            tantivy.FieldType.Float,
            min_lat,
            max_lat,
            include_lower=True,
            include_upper=True,
        )
        lon = tantivy.Query.range_query(
            self._schema,
            "lon",
            tantivy.FieldType.Float,
            min_lon,
            max_lon,
            include_lower=True,
            include_upper=True,
        )
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, lat), (tantivy.Occur.Must, lon)])

    def visibility(self, query: Query) -> list[tantivy.Query]:
        """Hide withdrawn and past courses unless the query asks for them."""
        clauses = []
        if not query.include_withdrawn:
            clauses.append(tantivy.Query.term_query(self._schema, "status", "active"))
        if not query.include_past:
            today = (query.today or date.today()).toordinal()
            clauses.append(
                tantivy.Query.range_query(
                    self._schema, "visible_until", tantivy.FieldType.Integer, today, None
                )
            )
        return clauses

    def term(self, field: str, value: str | int) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value)

    def term_set(self, field: str, values: Sequence[int]) -> tantivy.Query:
        """Documents whose integer `field` is one of `values` (geo: the ids outside a radius)."""
        return tantivy.Query.term_set_query(self._schema, field, list(values))


def combine(text: tantivy.Query | None, filters: Sequence[tantivy.Query]) -> tantivy.Query:
    """text AND every filter; filters score 0 so they never change relevance."""
    base = text if text is not None else tantivy.Query.all_query()
    if not filters:
        return base
    clauses = [(tantivy.Occur.Must, base)]
    clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
    return tantivy.Query.boolean_query(clauses)


def _required_count(words: int) -> int:
    """How many of `words` required words a document must match: all of up to three, else all
    but one in four."""
    return words if words < 4 else words - words // 4


def _at_least(clauses: list[tantivy.Query]) -> tantivy.Query:
    if len(clauses) == 1:
        return clauses[0]
    if len(clauses) < 4:
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in clauses])
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, q) for q in clauses],
        minimum_number_should_match=_required_count(len(clauses)),
    )


def _range_expression(field: str, low: float | None, high: float | None) -> str:
    """[low, high) in query-string syntax; repr() of a float is a literal tantivy reads back."""
    if high is None:
        return f"{field}:>={float(low or 0.0)!r}"
    if low is None:
        return f"{field}:<{float(high)!r}"
    return f"{field}:[{float(low)!r} TO {float(high)!r}}}"


def filter_terms(name: str, values: Sequence[str]) -> tuple[str, list[str]] | None:
    """The field and the terms a facet's filter matches (any of them), or None for a range facet
    that is filtered by a range on its float column (relative start dates). ECTS and price ranges
    are terms of their range-key field (BUCKET_FIELDS): a term is a posting list, where a range
    scans the column, and a filter aggregation materialises its filter over the whole index."""
    spec = FACETS_BY_NAME[name]
    if spec.ranges and spec.field not in BUCKET_FIELDS:
        return None
    field = FILTER_FIELDS.get(name, BUCKET_FIELDS.get(spec.field, spec.field))
    keys = [r.key for r in spec.ranges if r.key in values] if spec.ranges else list(values)
    return field, keys


def _known(searcher: tantivy.Searcher | None, analysis: Analysis) -> bool:
    """Whether the word is in at least KNOWN_WORD_TITLES titles (exactly, after folding)."""
    folded = analysis.terms[OTHER]
    if searcher is None or len(folded) != 1:
        return False
    return int(searcher.doc_freq(FUZZY_FIELD, folded[0])) >= KNOWN_WORD_TITLES


def _nothing() -> tantivy.Query:
    return tantivy.Query.empty_query()


def _any_of(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])
