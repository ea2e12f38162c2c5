"""The parts of a hybrid search timed one by one (CPU ms), on a cached `bench.search_bench` corpus.

Each part of `HybridBackend` search for the target query shape (2 words, 3 filters, 6 facets) is
run alone, in process CPU time, over N queries: the passing-share estimate, the probe that finds
2,000 neighbours by id hash under the filters, the keyword top 100, the facet counts with and
without the total, and the two counts the hybrid search no longer makes (for comparison); and
the filter table's route (search.tantivy.hybrid_filters): which of the 2,000 may pass by the
table, then the probe of those alone (an OR of term queries for so few ids, `_ids_query`). It
needs only the keyword index: courses of the index stand
in for the graph's neighbours (finding an id costs the same whatever its similarity): 100 that
pass the query's filters (as the graph request is sized to give) among 1,900 random ones, so it
runs on a corpus whose graph is not built yet (the filter table is built from the index and
saved beside it when missing). The graph search and the query embedding are measured by `bench.hybrid_bench`.

    nice -n 10 .venv/bin/python -m bench.hybrid_parts --docs 1000000 --queries 30
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import tantivy

from bench.hybrid_bench import TARGET
from bench.machine import describe_machine
from bench.search_bench import OUT, QUERY_TYPES, _index_key, _marker
from course_catalogue.search.query import Query
from course_catalogue.search.tantivy.facets import count_facets, count_facets_and_total
from course_catalogue.search.tantivy.hybrid import (
    MAX_NEIGHBOURS,
    NEIGHBOURS,
    HybridBackend,
    _either,
    _ids_query,
    _passing_share,
)
from course_catalogue.search.tantivy.index import ID_HASH
from course_catalogue.search.tantivy.paging import geo_scope
from course_catalogue.search.tantivy.query import combine

UNION_NEIGHBOURS = 150  # about what the union holds: the 100 nearest and the nearest passing


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--out", type=Path, default=OUT, help="where the corpus is cached")
    args = parser.parse_args(argv)
    directory = args.out / f"search-corpus-{args.docs}-{args.seed}"
    if _marker(directory / "index.json", _index_key(args.docs, args.seed)) is None:
        raise SystemExit(
            f"no cached index in {directory}: build it with bench.search_bench or bench.hybrid_bench"
        )
    backend = HybridBackend(directory / "index")
    started = time.process_time()
    built = backend.ensure_filters()
    table_cpu_s = round(time.process_time() - started, 1)
    searcher = backend._refresh().index.searcher()
    builder = backend._builder
    pool = [address for _score, address in searcher.search(tantivy.Query.all_query(), limit=20_000).hits]
    hashes = [int(value) for value in searcher.fast_field_values(ID_HASH, pool) if value is not None]
    rng = random.Random(args.seed)
    make = QUERY_TYPES[TARGET]
    times: dict[str, list[float]] = {}
    left: list[int] = []  # neighbours the filter table leaves to the probe, per query

    def timed(name: str, run: Callable[[], Any]) -> Any:
        started = time.process_time()
        result = run()
        times.setdefault(name, []).append((time.process_time() - started) * 1000)
        return result

    for number in range(args.queries + 2):  # the first two warm up
        base = make(rng)
        query = Query.create(
            base.text, base.filters, today=base.today, facets=base.facets, retrieval="hybrid"
        )
        text, reach = builder.text_and_reach(query.text, searcher)
        filters = builder.filters(query)
        scope = geo_scope(searcher, builder, query)
        restrict = [*builder.visibility(query), *scope, *filters.values()]
        passing_pool = [a for _s, a in searcher.search(combine(None, restrict), limit=5_000).hits]
        passing = rng.sample(passing_pool, min(NEIGHBOURS, len(passing_pool)))
        passing_keys = [int(v) for v in searcher.fast_field_values(ID_HASH, passing) if v is not None]
        others = rng.sample(hashes, min(MAX_NEIGHBOURS, len(hashes)) - len(passing_keys))
        keys = sorted(set(passing_keys) | set(others))
        timed("estimate of the passing share", partial(_passing_share, searcher, query))
        probe = combine(builder.term_set(ID_HASH, keys), restrict)
        timed(
            "probe: the neighbours by id hash under the filters", partial(searcher.search, probe, len(keys))
        )
        may_pass = timed("filter table: which of them may pass", partial(backend._prefilter(query), keys))
        left.append(len(may_pass))
        survivors = combine(_ids_query(builder, may_pass), restrict)
        timed(
            "probe of those the table left, under the filters",
            partial(searcher.search, survivors, max(len(may_pass), 1)),
        )
        as_set = combine(builder.term_set(ID_HASH, may_pass), restrict)
        timed(
            "the same, the ids as one term set",
            partial(searcher.search, as_set, max(len(may_pass), 1)),
        )
        alone = builder.term_set(ID_HASH, keys)
        timed("the same ids without the filters", partial(searcher.search, alone, len(keys)))
        union = _either(text, _ids_query(builder, keys[:UNION_NEIGHBOURS]))
        union_set = _either(text, builder.term_set(ID_HASH, keys[:UNION_NEIGHBOURS]))
        timed("keyword top 100 under the filters", partial(searcher.search, combine(text, restrict), 100))
        labeller, slugs = backend._labeller(searcher), partial(backend._slug, searcher)
        counting = (searcher, builder, query, union, filters, labeller, slugs, scope, reach)
        timed("facets over the union", partial(count_facets, *counting))
        timed("facets and total over the union", partial(count_facets_and_total, *counting))
        as_set = (searcher, builder, query, union_set, filters, labeller, slugs, scope, reach)
        timed("the same, the union's ids as one term set", partial(count_facets_and_total, *as_set))
        everything = combine(None, restrict)
        timed(
            "no longer made: count of the courses passing",
            partial(searcher.search, everything, 1, count=True),
        )
        timed(
            "no longer made: count of the union",
            partial(searcher.search, combine(union, restrict), 1, count=True),
        )
        if number < 2:
            times.clear()
            left.clear()
    report = {
        "docs": args.docs,
        "indexed": int(searcher.num_docs),
        "segments": int(searcher.num_segments),
        "neighbours_probed": min(MAX_NEIGHBOURS, len(hashes)),
        "filter_table": {"built_now": built, "cpu_s": table_cpu_s if built else None},
        "neighbours_left_by_the_table": {"p50": statistics.median(left), "max": max(left)},
        "machine": describe_machine(),
        "cpu_ms": {
            name: {"p50": round(statistics.median(v), 2), "mean": round(statistics.fmean(v), 2)}
            for name, v in times.items()
        },
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
