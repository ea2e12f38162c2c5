"""Search latency: the embedded tantivy engine against an SQLite FTS5 baseline, same data, same run.

Builds (or reuses, under bench/out/) an embedded index and an FTS5 database of the same
synthetic documents, then runs a mix of query types N times each. Every query goes to both
engines back to back (in random order), so machine load hits both alike. Reports wall and
process-CPU p50/p95/p99 per query type and engine, and the FTS5/embedded ratio.

`--opensearch local|local:3|URL` adds a real OpenSearch as a third engine in the same run (see
`bench.opensearch_engine`): the corpus is bulk-indexed into it (bulk throughput in the report),
and every measured query also goes to it, in the same random order. Its CPU figures are the
client's (HTTP and JSON in this process); the nodes' JVM CPU per query is reported as a mean.

    nice -n 10 .venv/bin/python -m bench.search_bench --docs 1000000 --queries 200 --seed 1
    nice -n 10 .venv/bin/python -m bench.search_bench --docs 100000 --opensearch local
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from bench.fts_baseline import FtsBaseline
from bench.generate import ANCHOR, stored_courses
from bench.machine import describe_machine, percentiles
from bench.opensearch_engine import OpenSearchEngine, fill, open_engine, warm_up
from bench.vocab import TOPICS
from course_catalogue.search.backend import Document, SearchBackend
from course_catalogue.search.documents import to_document
from course_catalogue.search.query import FACETS, Query
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.index import SCHEMA_VERSION

OUT = Path(__file__).parent / "out"
CORPUS_VERSION = "1"  # bump when the generator changes, so cached corpora are rebuilt
_CHUNK = 20_000

QueryMaker = Callable[[random.Random], Query]
SIX_FACETS = ("country", "eqf", "mode", "language", "field", "provider")
"""The target's "6 facet counts": the three filtered facets (each counted without its own
filter, the costly kind) and three of the largest others; provider has thousands of values."""


def _words(rng: random.Random, count: int) -> str:
    """A topic name of `count` words in one of its languages (English most often)."""
    while True:
        topic = rng.choice(TOPICS)
        lang = "en" if rng.random() < 0.6 else rng.choice(list(topic.names))
        words = topic.names[lang].split()
        if len(words) >= count:
            return " ".join(words[:count])
        if count == 3 and len(words) == 2:
            return f"{topic.names[lang]} {rng.choice(('online', 'course', 'advanced', 'professional'))}"


def _three_filters(rng: random.Random) -> dict[str, list[str]]:
    country = rng.choices(
        ("DEU", "FRA", "ITA", "ESP", "POL", "NLD", "BEL", "AUT"), (84, 68, 59, 48, 37, 18, 12, 9)
    )
    return {
        "country": country,
        "eqf": rng.choice((["6"], ["7"], ["5", "6"], ["6", "7"])),
        "mode": rng.choice((["online"], ["blended"], ["online", "blended"], ["onsite"])),
    }


def _query(text: str = "", filters: dict[str, list[str]] | None = None, **options: Any) -> Query:
    return Query.create(text, filters or {}, today=ANCHOR, **options)


QUERY_TYPES: dict[str, QueryMaker] = {
    "1 word": lambda rng: _query(_words(rng, 1)),
    "2 words": lambda rng: _query(_words(rng, 2)),
    "2 words + 3 filters": lambda rng: _query(_words(rng, 2), _three_filters(rng)),
    "2 words + 3 filters + 6 facets": lambda rng: _query(
        _words(rng, 2), _three_filters(rng), facets=SIX_FACETS
    ),
    "3 words + 1 filter": lambda rng: _query(_words(rng, 3), {"language": [rng.choice(("en", "de", "fr"))]}),
    "no text + 2 filters, by date": lambda rng: _query(
        "", {"country": ["DEU", "AUT"], "price": ["free"]}, sort="start_date"
    ),
    "2 words, page 40": lambda rng: _query(_words(rng, 2), page=40),
}
"""Query type -> maker. Every type counts every facet of search.query.FACETS (13), except the
target's own shape, which asks for SIX_FACETS (the API's `facets` parameter)."""
BROWSE_TYPES: dict[str, QueryMaker] = {
    "no text, every facet": lambda rng: _query(""),
    "no text, every facet but skill": lambda rng: _query(
        "", facets=tuple(spec.name for spec in FACETS if spec.name != "skill")
    ),
    "no text, skill facet only": lambda rng: _query("", facets=("skill",)),
}
"""What the skill facet (multi-valued, counted on hashes) costs a browse without text: run only
when named (`--type`), so that the mix of QUERY_TYPES stays comparable across rounds."""
ALL_TYPES: dict[str, QueryMaker] = {**QUERY_TYPES, **BROWSE_TYPES}


# -- building ------------------------------------------------------------------------------------


def documents(docs: int, seed: int) -> Iterator[Document]:
    for stored in stored_courses(docs, seed, hashed=False):
        yield to_document(stored)


def build(directory: Path, docs: int, seed: int, *, index: bool = True, fts5: bool = True) -> dict[str, Any]:
    """Fill `directory` with index/ and/or fts.db from one pass over the documents; return timings.

    Each part has its own marker (index.json, fts.json) keyed on what it depends on, so a schema
    change rebuilds the engine index but reuses the FTS5 baseline (and the reverse)."""
    directory.mkdir(parents=True, exist_ok=True)
    timings: dict[str, Any] = {"generate_s": 0.0}
    fts: FtsBaseline | None = None
    if fts5:
        (directory / "fts.json").unlink(missing_ok=True)
        for stale in directory.glob("fts.db*"):
            stale.unlink()
        fts = FtsBaseline(directory / "fts.db")
        fts.create()
        timings["fts5_insert_s"] = 0.0

    def feed() -> Iterator[Document]:
        stream = documents(docs, seed)
        count = 0
        while True:
            started = time.perf_counter()
            chunk = list(itertools.islice(stream, _CHUNK))
            timings["generate_s"] += time.perf_counter() - started
            if not chunk:
                return
            if fts is not None:
                started = time.perf_counter()
                fts.insert(chunk)
                timings["fts5_insert_s"] += time.perf_counter() - started
            count += len(chunk)
            yield from chunk
            print(f"  built {count} documents", file=sys.stderr, end="\r")

    started = time.perf_counter()
    if index:
        (directory / "index.json").unlink(missing_ok=True)
        shutil.rmtree(directory / "index", ignore_errors=True)
        backend = EmbeddedBackend(directory / "index")
        timings["documents"] = backend.rebuild(feed())
        backend.close()
    else:
        timings["documents"] = sum(1 for _ in feed())
    total = time.perf_counter() - started
    if fts is not None:
        started = time.perf_counter()
        fts.finish()
        timings["fts5_finish_s"] = time.perf_counter() - started
        fts.close()
        timings["fts5_total_s"] = timings["fts5_insert_s"] + timings["fts5_finish_s"]
        (directory / "fts.json").write_text(json.dumps({"key": _fts_key(docs, seed), **timings}))
    if index:
        timings["embedded_index_s"] = total - timings["generate_s"] - timings.get("fts5_insert_s", 0.0)
        (directory / "index.json").write_text(json.dumps({"key": _index_key(docs, seed), **timings}))
    return timings


def _fts_key(docs: int, seed: int) -> str:
    return f"{docs}:{seed}:{CORPUS_VERSION}"


def _index_key(docs: int, seed: int) -> str:
    return f"{docs}:{seed}:{CORPUS_VERSION}:{SCHEMA_VERSION}"


def _marker(path: Path, key: str) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("key") == key else None


def open_corpus(
    docs: int, seed: int, out: Path, rebuild: bool, *, baseline: bool = True
) -> tuple[Path, dict[str, Any]]:
    """The cached corpus directory, (re)building whichever of its parts is missing or stale (the
    FTS5 baseline only if `baseline`)."""
    directory = out / f"search-corpus-{docs}-{seed}"
    index = None if rebuild else _marker(directory / "index.json", _index_key(docs, seed))
    fts = None if rebuild else _marker(directory / "fts.json", _fts_key(docs, seed))
    if not baseline:
        fts = fts or {"skipped": True}
    if index is not None and fts is not None:
        return directory, {"index": index, "fts5": fts, "reused": True}
    parts = [name for name, info in (("engine index", index), ("FTS5 baseline", fts)) if info is None]
    print(f"building the {docs}-document {' and '.join(parts)} in {directory} ...", file=sys.stderr)
    timings = build(directory, docs, seed, index=index is None, fts5=fts is None)
    return directory, {"built": timings, "index": index, "fts5": fts, "reused": False}


# -- measuring -----------------------------------------------------------------------------------


def _timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def _embedded_total(backend: SearchBackend, query: Query) -> int:
    return backend.search(query).total


def _fts_total(fts: FtsBaseline, query: Query) -> int:
    return int(fts.search(query)["total"])


def measure(
    backend: EmbeddedBackend,
    fts: FtsBaseline | None,
    queries: int,
    seed: int,
    baseline_queries: int | None = None,
    warmup: int = 5,
    types: Iterable[str] | None = None,
    others: dict[str, SearchBackend] | None = None,
) -> dict[str, Any]:
    """Per query type (`types`, default all of QUERY_TYPES): `queries` measured queries (after
    `warmup`), the first `baseline_queries` of them (default all) also sent to FTS5 (none when
    `fts` is None); ratios compare the same queries. Each type draws from its own seeded
    generator, so a type's queries are the same whichever others run. `others` (name -> backend)
    get every query."""
    others = others or {}
    paired = queries if baseline_queries is None else min(queries, baseline_queries)
    if fts is None:
        paired = 0
    order = random.Random(seed + 1)
    report: dict[str, Any] = {}
    chosen = list(QUERY_TYPES) if types is None else list(types)
    pooled: dict[str, list[float]] = {"wall": [], "cpu": []}
    pooled_others: dict[str, dict[str, list[float]]] = {}
    for name in chosen:
        rng = random.Random(f"{seed}:{name}")
        batch = [ALL_TYPES[name](rng) for _ in range(queries + warmup)]
        names = ("embedded", "fts5", *others)
        samples: dict[str, dict[str, list[float]]] = {e: {"wall": [], "cpu": []} for e in names}
        totals: dict[str, list[int]] = {e: [] for e in names}
        for number, query in enumerate(batch):
            engines: list[tuple[str, Callable[[], Any]]] = [
                ("embedded", partial(_embedded_total, backend, query)),
                *((name, partial(_embedded_total, other, query)) for name, other in others.items()),
                *([("fts5", partial(_fts_total, fts, query))] if fts is not None else []),
            ]
            if fts is not None and number >= warmup + paired:
                engines = engines[:-1]
            order.shuffle(engines)
            for engine, run in engines:
                wall, cpu, total = _timed(run)
                if number >= warmup:
                    samples[engine]["wall"].append(wall)
                    samples[engine]["cpu"].append(cpu)
                    totals[engine].append(total)
        report[name] = _summary(samples, totals, paired)
        _print_row(name, report[name])
        for kind in ("wall", "cpu"):
            pooled[kind] += samples["embedded"][kind]
            for other in others:
                pooled_others.setdefault(other, {"wall": [], "cpu": []})[kind] += samples[other][kind]
    if len(chosen) > 1:
        # The mix: every measured query of every type, one sample each (types equally weighted).
        report["mix"] = {"embedded": {f"{k}_ms": percentiles(v) for k, v in pooled.items()}}
        for other, times in pooled_others.items():
            report["mix"][other] = {f"{k}_ms": percentiles(v) for k, v in times.items()}
            print(f"{'mix of all types':32} {other} wall {report['mix'][other]['wall_ms']}", flush=True)
        wall, cpu = report["mix"]["embedded"]["wall_ms"], report["mix"]["embedded"]["cpu_ms"]
        print(f"{'mix of all types':32} embedded wall p50 {wall['p50']:7.2f} p95 {wall['p95']:7.2f} "
              f"p99 {wall['p99']:7.2f} cpu p50 {cpu['p50']:7.2f}", flush=True)  # fmt: skip
    return report


def _summary(
    samples: dict[str, dict[str, list[float]]], totals: dict[str, list[int]], paired: int
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        engine: {
            "wall_ms": percentiles(times["wall"]),
            "cpu_ms": percentiles(times["cpu"]),
            "mean_total_hits": round(statistics.fmean(totals[engine]), 1) if totals[engine] else None,
            "queries": len(times["wall"]),
        }
        for engine, times in samples.items()
    }
    embedded = percentiles(samples["embedded"]["wall"][:paired])  # the queries FTS5 also ran
    fts5 = summary["fts5"]["wall_ms"]
    summary["fts5_over_embedded_p50"] = round(fts5["p50"] / embedded["p50"], 1) if fts5["p50"] else None
    summary["fts5_over_embedded_p99"] = round(fts5["p99"] / embedded["p99"], 1) if fts5["p99"] else None
    everything = summary["embedded"]["wall_ms"]
    for other in samples.keys() - {"embedded", "fts5"}:
        mine = summary[other]["wall_ms"]
        summary[f"{other}_over_embedded_p50"] = (
            round(mine["p50"] / everything["p50"], 1) if everything["p50"] else None
        )
        summary[f"{other}_over_embedded_p99"] = (
            round(mine["p99"] / everything["p99"], 1) if everything["p99"] else None
        )
    return summary


def _print_row(name: str, row: dict[str, Any]) -> None:
    e, f = row["embedded"], row["fts5"]
    for other in row.keys() - {"embedded", "fts5"}:
        if isinstance(row[other], dict):
            o = row[other]
            print(f"{name:32} {other} wall p50 {o['wall_ms']['p50']:7.2f} p95 {o['wall_ms']['p95']:7.2f} "
                  f"p99 {o['wall_ms']['p99']:7.2f} client cpu p50 {o['cpu_ms']['p50']:7.2f} "
                  f"(hits {o['mean_total_hits']:.0f})", flush=True)  # fmt: skip
    if not f["queries"]:
        print(f"{name:32} embedded wall p50 {e['wall_ms']['p50']:7.2f} p95 {e['wall_ms']['p95']:7.2f} "
              f"p99 {e['wall_ms']['p99']:7.2f} cpu p50 {e['cpu_ms']['p50']:7.2f}", flush=True)  # fmt: skip
        return
    print(
        f"{name:32} embedded wall p50 {e['wall_ms']['p50']:7.2f} p95 {e['wall_ms']['p95']:7.2f} "
        f"p99 {e['wall_ms']['p99']:7.2f} cpu p50 {e['cpu_ms']['p50']:7.2f} | "
        f"fts5 wall p50 {f['wall_ms']['p50']:8.2f} p99 {f['wall_ms']['p99']:8.2f} | "
        f"x{row['fts5_over_embedded_p50']} (hits {e['mean_total_hits']:.0f} vs {f['mean_total_hits']:.0f})",
        flush=True,
    )


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Embedded search vs SQLite FTS5 latency.")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="measured queries per query type")
    parser.add_argument(
        "--baseline-queries", type=int, default=None, help="of those, how many FTS5 also runs (default all)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT, help="corpus cache and results directory")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if cached")
    parser.add_argument(
        "--type", action="append", choices=list(ALL_TYPES), dest="types", help="only this type (repeat)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="the embedded engine alone: no FTS5 database is built or queried (a cached 1M index "
        "from bench.hybrid_bench, which builds none)",
    )
    parser.add_argument(
        "--opensearch",
        metavar="WHERE",
        help="also measure OpenSearch: 'local' (a node from tools/opensearch), 'local:3' (3 nodes, "
        "2 shards, 1 replica) or a cluster URL",
    )
    parser.add_argument("--opensearch-heap-mb", type=int, default=512, help="heap of each local node")
    parser.add_argument("--opensearch-warmup", type=int, default=100, help="unmeasured queries per type")
    args = parser.parse_args(list(argv) if argv is not None else None)
    directory, built = open_corpus(
        args.docs, args.seed, args.out, args.rebuild, baseline=not args.no_baseline
    )
    backend = EmbeddedBackend(directory / "index")
    fts = None if args.no_baseline else FtsBaseline(directory / "fts.db")
    opensearch: OpenSearchEngine | None = None
    others: dict[str, SearchBackend] = {}
    try:
        if args.opensearch:
            opensearch = open_engine(args.opensearch, args.opensearch_heap_mb)
            opensearch.info["bulk"] = fill(opensearch, documents(args.docs, args.seed))
            warm_up(opensearch, QUERY_TYPES, args.opensearch_warmup)
            others["opensearch"] = opensearch.backend
            jvm_before = opensearch.jvm_cpu_seconds()
        results = measure(
            backend, fts, args.queries, args.seed, args.baseline_queries, types=args.types, others=others
        )
        if opensearch is not None:
            jvm_after = opensearch.jvm_cpu_seconds()
            sent = sum(row["opensearch"]["queries"] for key, row in results.items() if key != "mix")
            if jvm_before is not None and jvm_after is not None and sent:
                opensearch.info["jvm_cpu_ms_per_query"] = round((jvm_after - jvm_before) * 1000 / sent, 2)
            opensearch.info["rss_mb_after_queries"] = opensearch.memory_mb()
    finally:
        backend.close()
        if fts is not None:
            fts.close()
        if opensearch is not None:
            opensearch.close()
    report = {
        "bench": "search",
        "command": " ".join(["python -m bench.search_bench", *sys.argv[1:]]) if argv is None else None,
        "docs": args.docs,
        "queries_per_type": args.queries,
        "baseline_queries_per_type": args.baseline_queries or args.queries,
        "seed": args.seed,
        "machine": describe_machine(),
        "build": built,
        "opensearch": opensearch.info if opensearch is not None else None,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-opensearch" if args.opensearch else ""
    (args.out / f"search-{args.docs}{suffix}.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
