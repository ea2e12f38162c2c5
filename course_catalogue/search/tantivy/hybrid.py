"""Hybrid retrieval on the embedded engine: keyword and sentence-vector retrieval, fused.

`HybridBackend` is the embedded tantivy backend plus an ANN graph of course vectors
(`search.tantivy.vectors`) kept in the same index directory and written in the same calls
(upsert, delete, rebuild, under the same write lock). A query with `retrieval="hybrid"` and text:

1. embeds the text (`search.semantic`) and takes its NEIGHBOURS nearest courses from the graph,
   those at least the model's `min_similarity` (so that nonsense finds nothing by meaning);
2. finds those courses in the index by one term-set query on ID_HASH (the graph's keys are the
   index's id hashes) under the same filters, visibility and geo scope as the keyword query
   (never by listing every course that passes: at 1M courses that is 10^5 of them): the vector
   list keeps only neighbours that pass the filters. The graph is asked for NEIGHBOURS / (the
   share expected to pass) neighbours, at most MAX_NEIGHBOURS, so that about NEIGHBOURS pass;
   the share is estimated without a search (`_passing_share`: the filters' document frequencies,
   times the visible share counted once per index state), and when fewer than NEIGHBOURS pass
   the graph is asked once more, for MAX_NEIGHBOURS;
3. fuses the keyword top CANDIDATES and the filtered vector list (`search.fusion`, RRF by default);
   past the fused list, the remaining keyword matches follow in keyword order;
4. counts facets and the total over the union "keyword matches OR neighbours" with the keyword
   engine's own facet code, in one aggregation (`count_facets_and_total`), so filters and facet
   counts apply to the fused result as they apply to a keyword result. The neighbours of the
   union are the NEIGHBOURS nearest whatever the filters plus the nearest passing ones; a
   facet's own count (without its filter) therefore counts the unfiltered NEIGHBOURS, and
   selecting another value may find a few more neighbours deeper in the graph than its count
   showed.

Without text, with another sort than relevance (the union is then sorted by that key), or with
`retrieval="keyword"`, the keyword path is used unchanged.

Paging: by number or by cursor. The fused ranking is MAX_DEPTH (search.fusion) hits deep (a
page starting past it is a QueryError that says so): fusing deeper would mean reading ever more
keyword hits and neighbours per page. A relevance cursor holds the position and the ID_HASH of
the page's last hit; the next page recomputes the ranking and continues just after that hit (looked for within
CURSOR_WINDOW of its position), so a course added or removed above it since the previous page
neither repeats nor skips a hit. A key-sort cursor continues after the key (`page_by_key`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from course_catalogue.search import fusion
from course_catalogue.search.backend import Document
from course_catalogue.search.documents import StoredRecord
from course_catalogue.search.errors import QueryError
from course_catalogue.search.fusion import fuse
from course_catalogue.search.query import Cursor, Facet, Query, SearchResult, make_cursor, read_cursor
from course_catalogue.search.semantic import DEFAULT_MODEL, Embedder, embedder
from course_catalogue.search.tantivy.backend import EmbeddedBackend, _facet_pool
from course_catalogue.search.tantivy.facets import count_facets, count_facets_and_total
from course_catalogue.search.tantivy.hits import HitBuilder
from course_catalogue.search.tantivy.hybrid_filters import FilterTable, FilterTableFile, State
from course_catalogue.search.tantivy.index import ID_HASH
from course_catalogue.search.tantivy.paging import CURSOR_WINDOW, geo_scope, page_by_key
from course_catalogue.search.tantivy.query import QueryBuilder, combine, filter_terms
from course_catalogue.search.tantivy.vectors import VectorIndex

CANDIDATES = 100
"""Keyword hits fused with the vector list (deeper hits follow in keyword order)."""
NEIGHBOURS = 100
MAX_NEIGHBOURS = 2_000
"""The most neighbours one search asks the graph for (HNSW search cost grows with it: ~2 ms CPU for
1,000 at 200k courses)."""
FEW_IDS = 500
"""Up to this many ids are looked up by an OR of term queries, more by a term set (`_ids_query`)."""
FUSION = "rrf"
"""The default fusion (search.fusion): RRF measured as good as the tuned blend (RELEVANCE.md) with
nothing to tune."""

Address = tuple[int, int]


class HybridBackend(EmbeddedBackend):
    """EmbeddedBackend whose searches can be hybrid (see the module docstring)."""

    def __init__(
        self,
        index_dir: str | Path,
        *,
        model: Embedder | str = DEFAULT_MODEL,
        fusion: str = FUSION,
        writer_timeout: float = 300.0,
    ) -> None:
        super().__init__(index_dir, writer_timeout=writer_timeout)
        self._model = embedder(model) if isinstance(model, str) else model
        self._vectors = VectorIndex(self._versions.root, self._model)
        self._filter_table = FilterTableFile(self._versions.root / "vectors")
        self._fusion = fusion
        self._visible: dict[tuple[Any, ...], float] = {}
        fuse(fusion, [], [])  # an unknown method fails here, not on the first search

    @property
    def vectors(self) -> VectorIndex:
        return self._vectors

    # -- writes: both indexes, under the keyword index's write lock -----------------------------

    def upsert(self, documents: Iterable[Document]) -> int:
        batch = list(documents)
        with self._write_lock:
            before = self._state()
            count = super().upsert(batch)
            self._vectors.upsert(batch)
            self._update_filters(before, batch, ())
        return count

    def delete(self, ids: Sequence[str]) -> None:
        with self._write_lock:
            before = self._state()
            super().delete(ids)
            self._vectors.delete(ids)
            if ids:
                self._update_filters(before, (), ids)

    def rebuild(self, documents: Iterable[Document]) -> int:
        batch = documents if isinstance(documents, list) else list(documents)
        with self._write_lock:
            count = super().rebuild(batch)
            self._vectors.rebuild(batch)
            self._filter_table.write(FilterTable.from_documents(batch, self._state()))
        return count

    def rebuild_records(self, records: Iterable[StoredRecord]) -> int:
        """The keyword index from the records as EmbeddedBackend does (streamed), then the graph
        from what the new index stores: no second pass over the store, no list of documents;
        the filter table from the new index's terms."""
        with self._write_lock:
            count = super().rebuild_records(records)
            self._vectors.rebuild(self._stored_documents())
            self._filters_from_index()
        return count

    def ensure_vectors(self) -> int:
        """Rebuild the graph from the keyword index's stored documents when it is stale (a new
        model, or an index built before hybrid search), and the filter table from the index's
        terms when it does not describe the index's state; returns how many vectors it holds."""
        with self._write_lock:
            if self._vectors.stale(self.count()):
                self._vectors.rebuild(self._stored_documents())
            self.ensure_filters()
        return self._vectors.count()

    def ensure_filters(self) -> bool:
        """Build the filter table from the index when it does not describe the index's current
        state (a graph filled elsewhere, a write cut short); True when it was built."""
        with self._write_lock:
            if self._filter_table.current(self._state()) is not None:
                return False
            self._filters_from_index()
            return True

    def filters_in_step(self) -> bool:
        """Whether searches now use the filter table (it describes the index's current state)."""
        return self._filter_table.current(self._state()) is not None

    def _update_filters(self, before: State, documents: Sequence[Document], removed: Sequence[str]) -> None:
        """The filter table after a write: the written rows changed when the table described the
        index before the write, else built again from the index (a write cut short before)."""
        table = self._filter_table.current(before)
        if table is None:
            self._filters_from_index()
        else:
            self._filter_table.write(table.updated(documents, removed, self._state()))

    def _filters_from_index(self) -> None:
        searcher = self._refresh().index.searcher()
        self._filter_table.write(FilterTable.from_index(searcher, self._schema, self._state()))

    def _state(self) -> State:
        """The keyword index state now: its version and the stamp of its last commit."""
        opened = self._refresh()
        return opened.name, self._meta_stamp

    def _stored_documents(self) -> Iterable[Document]:
        """What the index stores of each document for `passage_text`: the card (title, keywords)
        and the stored descriptions (learning outcomes are indexed, not stored)."""
        searcher = self._refresh().index.searcher()
        total = int(searcher.num_docs)
        if total == 0:
            return
        for _score, address in searcher.search(tantivy.Query.all_query(), limit=total).hits:
            stored = searcher.doc(address).to_dict()
            card: dict[str, Any] = json.loads(bytes((stored.get("card") or [b"{}"])[0]))
            card.setdefault("id", (stored.get("id") or [""])[0])
            descriptions = [v[0] for name, v in stored.items() if name.startswith("description") and v]
            card["description"] = " ".join(str(text) for text in descriptions)
            yield card

    # -- reads ----------------------------------------------------------------------------------

    def _search(self, searcher: tantivy.Searcher, query: Query) -> SearchResult:
        if query.retrieval != "hybrid" or not query.text.strip() or query.sort not in ("relevance",):
            if query.retrieval == "hybrid" and query.text.strip() and query.sort != "distance":
                return self._sorted_union(searcher, query)
            return super()._search(searcher, query)
        cursor = _hybrid_cursor(query, "relevance")
        start = cursor.seen if cursor is not None else query.offset
        _check_depth(start)
        # Past the cursor's position by a window, so that the hit it ended on is found again
        # when courses were added or removed before it since the previous page.
        wanted = min(fusion.MAX_DEPTH, start + query.page_size + (CURSOR_WINDOW if cursor else 0))
        depth = max(CANDIDATES, wanted)
        text, _restrict, _union, kept, addresses, counting, matching = self._union(
            searcher, query, with_total=True, keyword_depth=depth
        )
        keyword: list[tuple[Address, float]] = []
        if matching is not None:
            found = matching.result().hits
            keyword = [(_key(a), float(score)) for score, a in found]
            addresses.update((_key(a), a) for _score, a in found)
        fused = fuse(self._fusion, keyword[:CANDIDATES], kept)
        seen = {address for address, _ in fused}
        ranked = fused + [(address, score) for address, score in keyword[CANDIDATES:] if address not in seen]
        ranked = ranked[: fusion.MAX_DEPTH]
        if cursor is not None and cursor.after:
            start = _resume(searcher, addresses, ranked, cursor)
        end = min(start + query.page_size, len(ranked))
        pairs = [(score, addresses[address]) for address, score in ranked[start:end]]
        hits = HitBuilder(searcher, self._schema, text).hits(pairs, scored=True)
        facets, total = counting.result()
        next_cursor = None
        if hits and end < min(total, fusion.MAX_DEPTH):
            last = searcher.fast_field_values(ID_HASH, [pairs[-1][1]])[0]
            next_cursor = make_cursor(query, "relevance", (None if last is None else int(last),), end)
        return SearchResult(
            query, total, hits, facets, next_cursor=next_cursor, offset=start, retrieval="hybrid"
        )

    def _near(
        self, searcher: tantivy.Searcher, query: Query, restrict: list[tantivy.Query]
    ) -> tuple[tantivy.Query | None, list[tuple[Address, float]], dict[Address, tantivy.DocAddress]]:
        """The query of the neighbours that pass `restrict`, them as (address, similarity), best
        first, and their DocAddress objects by address."""
        vector = self._model.query(query.text)
        share = self._visible_share(searcher, query) * _passing_share(searcher, query)
        if share == 0.0:
            return None, [], {}
        # Ask the graph for enough neighbours that about NEIGHBOURS of them pass the filters (the
        # share that passes estimated from the visible share and the filters' document
        # frequencies: no search per query), within MAX_NEIGHBOURS; when fewer pass, once more
        # with the widest request.
        count = min(MAX_NEIGHBOURS, max(NEIGHBOURS, math.ceil(NEIGHBOURS / share)))
        floor = self._model.min_similarity
        keys, similarities = self._vectors.nearest(vector, count)
        close = similarities >= floor
        keys, similarities = keys[close], similarities[close]
        if not len(keys):
            return None, [], {}
        may_pass = self._prefilter(query)
        passed = self._passing(searcher, may_pass(keys), restrict)
        if len(passed) < NEIGHBOURS and len(keys) == count < MAX_NEIGHBOURS:
            probed = keys
            keys, similarities = self._vectors.nearest(vector, MAX_NEIGHBOURS)
            close = similarities >= floor
            keys, similarities = keys[close], similarities[close]
            passed.update(self._passing(searcher, may_pass(keys[~np.isin(keys, probed)]), restrict))
        # Python objects only for the few kept: the nearest passing, and the NEIGHBOURS nearest
        passing = np.isin(keys, np.fromiter(passed, dtype=np.int64, count=len(passed)))
        nearest_passing = keys[passing][:NEIGHBOURS].tolist()
        similarity = dict(zip(nearest_passing, similarities[passing][:NEIGHBOURS].tolist(), strict=True))
        # The union always holds the NEIGHBOURS nearest courses whatever the filters, so that a
        # facet counted without its own filter (as keyword search counts it) sees them too.
        chosen = set(keys[:NEIGHBOURS].tolist()) | set(nearest_passing)
        near = _ids_query(self._builder, sorted(chosen))
        kept = [(_key(passed[key]), similarity[key]) for key in nearest_passing]
        return near, kept, {_key(passed[key]): passed[key] for key in nearest_passing}

    def _prefilter(self, query: Query) -> Callable[[np.ndarray], list[int]]:
        """Drops the keys that certainly fail the query's term filters or visibility, by the
        filter table (hybrid_filters), when it describes the searcher's index state; else keeps
        every key (the exact probe decides alone)."""
        opened = self._opened  # as `search` just refreshed it
        table = self._filter_table.current(None if opened is None else (opened.name, self._meta_stamp))
        if table is None:
            return _keep_all
        terms = [terms for name, values in query.filters.items() if (terms := filter_terms(name, values))]
        if not query.include_withdrawn:
            terms.append(("status", ["active"]))
        today = None if query.include_past else (query.today or date.today()).toordinal()

        def may_pass(keys: np.ndarray) -> list[int]:
            return table.may_pass(keys, terms, today)

        return may_pass

    def _visible_share(self, searcher: tantivy.Searcher, query: Query) -> float:
        """The share of courses that visibility (withdrawn, past) lets through: counted once per
        index state (the commit stamp) and visibility, then kept; a hidden course otherwise
        makes the filters' estimate too high."""
        key = (self._meta_stamp, query.include_withdrawn, query.include_past, query.today or date.today())
        share = self._visible.get(key)
        if share is None:
            total = int(searcher.num_docs)
            visible = self._builder.visibility(query)
            found = total
            if visible:
                counted = searcher.search(combine(None, visible), limit=1, count=True)
                found = int(counted.count or 0)  # type: ignore[attr-defined]  # stub omits count
            share = found / total if total else 0.0
            if len(self._visible) >= 64:  # a new day or commit: the old entries are of no use
                self._visible.clear()
            self._visible[key] = share
        return share

    def _passing(
        self, searcher: tantivy.Searcher, keys: Sequence[int], restrict: list[tantivy.Query]
    ) -> dict[int, tantivy.DocAddress]:
        """Graph key -> DocAddress of those of `keys` that pass `restrict`: one term set of the
        keys under the restrictions (at most MAX_NEIGHBOURS terms), never the list of every
        passing course (at 1M courses a filter passes 10^5 of them)."""
        if not keys:
            return {}
        probe = _ids_query(self._builder, sorted(keys))
        found = [a for _score, a in searcher.search(combine(probe, restrict), limit=len(keys)).hits]
        hashes = searcher.fast_field_values(ID_HASH, found) if found else []
        return {int(h): a for a, h in zip(found, hashes, strict=True) if h is not None}

    def _sorted_union(self, searcher: tantivy.Searcher, query: Query) -> SearchResult:
        """Hybrid with a key sort: the union of keyword matches and neighbours, sorted by the key."""
        cursor = _hybrid_cursor(query, query.sort)
        start = cursor.seen if cursor is not None else query.offset
        text, restrict, union, _kept, _addresses, counting, _none = self._union(
            searcher, query, with_total=False
        )
        pairs, after, total = page_by_key(searcher, combine(union, restrict), query.sort, query, cursor)
        hits = HitBuilder(searcher, self._schema, text).hits(pairs, scored=False)
        end = start + len(hits)
        next_cursor = make_cursor(query, query.sort, after, end) if hits and end < total else None
        facets, _none = counting.result()
        return SearchResult(
            query, total, hits, facets, next_cursor=next_cursor, offset=start, retrieval="hybrid"
        )

    def _union(
        self, searcher: tantivy.Searcher, query: Query, *, with_total: bool, keyword_depth: int = 0
    ) -> tuple[
        tantivy.Query | None,
        list[tantivy.Query],
        tantivy.Query | None,
        list[tuple[Address, float]],
        dict[Address, tantivy.DocAddress],
        Future[Any],
        Future[Any] | None,
    ]:
        """What both hybrid orders share: the keyword query, the restrictions (visibility, place,
        filters), the union of keyword matches and kept neighbours (`_near`: the neighbours and
        their DocAddress objects), and its facet counting, started on the facet pool: its result
        is (facets, how many of the union pass the restrictions) with `with_total`, else
        (facets, None). With `keyword_depth`, also the keyword search's top `keyword_depth` under
        the restrictions, started on the facet pool before the neighbours are looked for (it
        does not depend on them: on an idle machine the two run on two cores), None without text."""
        text, reach = self._builder.text_and_reach(query.text, searcher, any_words=query.any_words)
        filters = self._builder.filters(query)
        scope = geo_scope(searcher, self._builder, query)
        restrict = [*self._builder.visibility(query), *scope, *filters.values()]
        matching = None
        if keyword_depth and text is not None:
            matching = _facet_pool().submit(searcher.search, combine(text, restrict), keyword_depth)
        near, kept, addresses = self._near(searcher, query, restrict)
        union = _either(text, near)
        bound = None if reach is None else reach + len(kept)
        labeller = self._labeller(searcher)
        slugs = partial(self._slug, searcher)
        counting = _facet_pool().submit(
            _facets_and_total if with_total else _facets_only,
            searcher, self._builder, query, union, filters, labeller, slugs, scope, bound,
        )  # fmt: skip
        return text, restrict, union, kept, addresses, counting, matching


def _ids_query(builder: QueryBuilder, keys: Sequence[int]) -> tantivy.Query:
    """The courses whose ID_HASH is one of `keys`: an OR of term queries for up to FEW_IDS keys,
    else one term set. A term set pays a fixed cost per segment (~5 ms CPU at 1M courses in 5
    segments, whatever the number of ids) where a term query costs ~6 us: for the ~100-200 ids
    left by the filter table (and the union's), the OR is 7x cheaper; for thousands the set is."""
    if len(keys) <= FEW_IDS:
        clauses = [(tantivy.Occur.Should, builder.term(ID_HASH, key)) for key in keys]
        return tantivy.Query.boolean_query(clauses)
    return builder.term_set(ID_HASH, keys)


def _keep_all(keys: np.ndarray) -> list[int]:
    result: list[int] = np.asarray(keys).tolist()
    return result


def _facets_and_total(*args: Any) -> tuple[tuple[Facet, ...], int | None]:
    return count_facets_and_total(*args)


def _facets_only(*args: Any) -> tuple[tuple[Facet, ...], int | None]:
    return count_facets(*args), None


def _passing_share(searcher: tantivy.Searcher, query: Query) -> float:
    """An estimate of the share of courses that pass the query's filters, from the document
    frequencies of their terms (no search): the product of each filter's share, as if the facets
    were independent. A range on a float column (start dates) counts as passing everything, and
    so does the place (geo radius); visibility is `HybridBackend._visible_share`'s. An estimate
    too high costs a second, wider graph request (`_near`), one too low a wider first one. 0
    when a filter matches no course at all."""
    total = int(searcher.num_docs)
    if total == 0:
        return 0.0
    share = 1.0
    for name, values in query.filters.items():
        terms = filter_terms(name, values)
        if terms is None:
            continue
        field, keys = terms
        matched = sum(int(searcher.doc_freq(field, key)) for key in keys)
        share *= min(1.0, matched / total)
    return share


def _hybrid_cursor(query: Query, sort: str) -> Cursor | None:
    """The cursor of `query` (QueryError when it is not one of this hybrid search and order)."""
    cursor = read_cursor(query)
    if cursor is not None and cursor.sort != sort:
        raise QueryError("cursor belongs to another search; start again from the first page")
    return cursor


def _check_depth(start: int) -> None:
    """QueryError for a page that starts at or past MAX_DEPTH of the fused ranking."""
    if start >= fusion.MAX_DEPTH:
        raise QueryError(
            f"hybrid results are ranked {fusion.MAX_DEPTH} deep; narrow the search (words, filters) "
            "or use retrieval=keyword to page further"
        )


def _resume(
    searcher: tantivy.Searcher,
    addresses: dict[Address, tantivy.DocAddress],
    ranked: Sequence[tuple[Address, float]],
    cursor: Cursor,
) -> int:
    """Where the page after `cursor` starts in `ranked`: just after the hit the previous page
    ended on (its ID_HASH, looked for within CURSOR_WINDOW of its old position), so that courses
    added or removed before it since then neither repeat nor skip a hit; at the old position when
    that hit is gone (deleted, or no longer retrieved)."""
    (wanted,) = cursor.after
    low = max(0, cursor.seen - CURSOR_WINDOW)
    window = ranked[low : cursor.seen + CURSOR_WINDOW]
    hashes = searcher.fast_field_values(ID_HASH, [addresses[a] for a, _ in window]) if window else []
    for offset, value in enumerate(hashes):
        if value is not None and int(value) == wanted:
            return low + offset + 1
    return cursor.seen


def _either(text: tantivy.Query | None, near: tantivy.Query | None) -> tantivy.Query | None:
    """Documents matching the keyword query or among the kept neighbours."""
    if near is None:
        return text
    if text is None:
        return near
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, text), (tantivy.Occur.Should, near)])


def _key(address: tantivy.DocAddress) -> Address:
    return (address.segment_ord, address.doc)
