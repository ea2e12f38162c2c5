"""Hybrid search latency beside keyword-only, same engine, same index, same run.

Builds (or reuses, under bench/out/) the synthetic catalogue of `bench.search_bench` as an
embedded index, embeds every course with the real model (`search.semantic`), fills the HNSW
graph beside the index (`HybridBackend.vectors`), then runs the target query shape -- two words,
three filters, six facet counts -- N times, each query as keyword and as hybrid back to back in
random order, so machine load hits both alike. Reports wall and process-CPU p50/p95/p99 of
`backend.search` (query embedding included), the query embedding alone, the embedding throughput
of the build, and the graph's size on disk.

What is embedded: `--text title` (default) embeds title and keywords (about 45 characters a
course): the full passage (`passage_text`, ~700 characters of synthetic description) costs eight
times as much CPU per course, which this shared machine cannot spend on a million courses; its
throughput is measured on `--passage-sample` courses and reported beside. `--text passage`
embeds full passages for every course.

    nice -n 10 .venv/bin/python -m bench.hybrid_bench --docs 200000 --queries 200
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from bench.machine import describe_machine, percentiles
from bench.search_bench import OUT, QUERY_TYPES, _index_key, _marker, build, documents
from course_catalogue.search.query import Query
from course_catalogue.search.semantic import embedder, passage_text
from course_catalogue.search.tantivy import hybrid as hybrid_module
from course_catalogue.search.tantivy import vectors as vectors_module
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.hybrid import HybridBackend

TARGET = "2 words + 3 filters + 6 facets"
BATCH = 512


def _short_text(doc: dict[str, Any]) -> str:
    return ". ".join(
        part for part in (str(doc.get("title") or ""), ", ".join(doc.get("keywords") or [])) if part
    )


def _vectors(
    directory: Path, docs: int, seed: int, model: str, text: str
) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Every course's id and vector (cached in `directory`), and the embedding throughput.

    Each distinct text is embedded once and its vector reused for every course carrying it: the
    synthetic catalogue repeats titles (a topic's title patterns) and keyword sets, so a million
    courses need far fewer model calls. `distinct_texts` in the report says how many vectors are
    really different -- a limit of the synthetic catalogue (real courses are nearly all distinct),
    which also makes the ANN graph hold many exact duplicates."""
    path = directory / f"vectors-{model}-{text}.npy"
    ids_path = directory / "vector-ids.json"
    info_path = directory / f"vectors-{model}-{text}.json"
    if path.exists() and ids_path.exists() and info_path.exists():
        return json.loads(ids_path.read_text()), np.load(path), json.loads(info_path.read_text())
    encoder = embedder(model)
    read = passage_text if text == "passage" else _short_text
    ids: list[str] = []
    rows: list[int] = []
    distinct: dict[str, int] = {}
    # Titles and keywords are in the built index's cards: reading them there is a tenth of the
    # time of generating the million documents again (full passages are not stored whole).
    source = _cards(directory / "index") if text == "title" else documents(docs, seed)
    for doc in source:
        ids.append(str(doc["id"]))
        rows.append(distinct.setdefault(read(doc), len(distinct)))
        if len(ids) % 10_000 == 0:
            print(f"  read {len(ids)} courses, {len(distinct)} distinct texts", file=sys.stderr, end="\r")
    texts = list(distinct)
    parts: list[np.ndarray] = []
    cpu = wall = 0.0  # the model's time only, not the synthetic documents' generation
    for start in range(0, len(texts), BATCH):
        started, started_wall = time.process_time(), time.perf_counter()
        parts.append(encoder.passages(texts[start : start + BATCH]).astype(np.float16))
        cpu += time.process_time() - started
        wall += time.perf_counter() - started_wall
        print(f"  embedded {start + BATCH} of {len(texts)}", file=sys.stderr, end="\r")
    unique = np.vstack(parts)
    vectors = unique[np.asarray(rows, dtype=np.int64)]
    info = {
        "courses": len(ids),
        "distinct_texts": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "texts_per_cpu_s": round(len(texts) / cpu, 1),
    }
    np.save(path, vectors)
    ids_path.write_text(json.dumps(ids))
    info_path.write_text(json.dumps(info))
    return ids, vectors, info


def _no_table(_query: Query) -> Any:
    return hybrid_module._keep_all


def _cards(index_dir: Path) -> Iterator[dict[str, Any]]:
    """The card (id, title, keywords, ...) of every course in the index at `index_dir`."""
    searcher = EmbeddedBackend(index_dir)._refresh().index.searcher()
    total = int(searcher.num_docs)
    for _score, address in searcher.search(tantivy.Query.all_query(), limit=max(total, 1)).hits:
        stored = searcher.doc(address).to_dict()
        card: dict[str, Any] = json.loads(bytes(stored["card"][0]))
        card["id"] = stored["id"][0]
        yield card


def _recall(backend: HybridBackend, vectors: np.ndarray, queries: list[str], k: int) -> dict[str, Any]:
    """Recall@k of the HNSW graph against the exact k nearest (a brute-force scan of every
    vector), for the benchmark's own query texts. With duplicate vectors several courses tie at
    the k-th similarity; a graph neighbour counts as found when its similarity reaches the exact
    k-th one (ties are interchangeable), so duplicates do not count against the graph."""
    found = 0
    cpu_ms: list[float] = []
    for text in queries:
        vector = backend._model.query(text).astype(np.float32)
        exact = np.empty(len(vectors), dtype=np.float32)
        for start in range(0, len(vectors), 100_000):
            exact[start : start + 100_000] = vectors[start : start + 100_000].astype(np.float32) @ vector
        kth = float(np.partition(exact, len(exact) - k)[len(exact) - k])
        started = time.process_time()
        approx = backend.vectors.nearest_keys(vector, k)
        cpu_ms.append((time.process_time() - started) * 1000)
        # f16 storage and the graph's own distance arithmetic differ from this scan by ~1e-3
        found += sum(1 for _key, similarity in approx if similarity >= kth - 2e-3)
    return {
        "k": k,
        "queries": len(queries),
        "recall": round(found / (k * len(queries)), 4),
        "graph_search_cpu_ms": percentiles(cpu_ms),
    }


def _profile(backend: HybridBackend, queries: list[Query]) -> list[str]:
    """The functions hybrid search spends its time in (cProfile, cumulative), the top lines."""
    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        backend.search(query)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return [line for line in out.getvalue().splitlines() if line.strip()][-30:]


def _passage_rate(model: str, sample: int, seed: int) -> dict[str, Any]:
    docs = list(itertools.islice(documents(sample, seed), sample))
    texts = [passage_text(doc) for doc in docs]
    cpu = time.process_time()
    for start in range(0, len(texts), 64):
        embedder(model).passages(texts[start : start + 64])
    cpu = time.process_time() - cpu
    return {
        "courses": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "courses_per_cpu_s": round(len(texts) / cpu, 1),
    }


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="use")
    parser.add_argument("--text", choices=("title", "passage"), default="title")
    parser.add_argument("--passage-sample", type=int, default=2000)
    parser.add_argument("--recall-queries", type=int, default=50, help="queries for ANN recall@100")
    parser.add_argument("--profile", type=int, default=30, help="hybrid queries profiled (0: none)")
    parser.add_argument(
        "--ef", type=int, default=None, help="HNSW search breadth instead of vectors.EXPANSION_SEARCH"
    )
    parser.add_argument(
        "--without-table",
        action="store_true",
        help="also time each query as hybrid without the filter table (every neighbour probed by id)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    directory = OUT / f"search-corpus-{args.docs}-{args.seed}"
    report: dict[str, Any] = {"machine": describe_machine(), "docs": args.docs, "model": args.model}
    if _marker(directory / "index.json", _index_key(args.docs, args.seed)) is None:
        print(f"building the {args.docs}-document index in {directory} ...", file=sys.stderr)
        report["index_build"] = build(directory, args.docs, args.seed, index=True, fts5=False)
    if args.ef is not None:
        vectors_module.EXPANSION_SEARCH = args.ef  # read when the graph is loaded
        report["expansion_search"] = args.ef
    else:
        report["expansion_search"] = vectors_module.EXPANSION_SEARCH
    backend = HybridBackend(directory / "index", model=args.model)
    ids, vectors, report["embedding"] = _vectors(directory, args.docs, args.seed, args.model, args.text)
    if backend.vectors.count() != len(ids):
        cpu, wall = time.process_time(), time.perf_counter()
        backend.vectors.rebuild(())
        backend.vectors.add_vectors(ids, vectors)
        report["graph_build"] = {
            "cpu_s": round(time.process_time() - cpu, 1),
            "wall_s": round(time.perf_counter() - wall, 1),
        }
    cpu, wall = time.process_time(), time.perf_counter()
    if backend.ensure_filters():  # the graph was filled from cached vectors, not by upserts
        report["filter_table_build"] = {
            "cpu_s": round(time.process_time() - cpu, 1),
            "wall_s": round(time.perf_counter() - wall, 1),
        }
    report["filter_table_bytes"] = (directory / "index" / "vectors" / "filters.npz").stat().st_size
    report["graph_bytes"] = _size(directory / "index" / "vectors") - report["filter_table_bytes"]
    report["keyword_index_bytes"] = _size(directory / "index") - report["graph_bytes"]
    report["passage_embedding"] = _passage_rate(args.model, args.passage_sample, args.seed)
    rng = random.Random(args.seed)
    make = QUERY_TYPES[TARGET]
    modes = ["keyword", "hybrid", *(["hybrid without the table"] if args.without_table else [])]
    times: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in (*modes, "query embedding")
    }
    totals: dict[str, list[int]] = {name: [] for name in modes}
    warm = make(rng)
    for retrieval in ("keyword", "hybrid"):
        backend.search(
            Query.create(warm.text, warm.filters, today=warm.today, facets=warm.facets, retrieval=retrieval)
        )
    with_table = backend._prefilter
    for _ in range(args.queries):
        base = make(rng)
        order = list(modes)
        rng.shuffle(order)
        for mode in order:
            retrieval = "keyword" if mode == "keyword" else "hybrid"
            query = Query.create(
                base.text, base.filters, today=base.today, facets=base.facets, retrieval=retrieval
            )
            # the same backend with its filter table set aside: the code before the table
            backend._prefilter = with_table if mode != "hybrid without the table" else _no_table  # type: ignore[method-assign]
            cpu, wall = time.process_time(), time.perf_counter()
            result = backend.search(query)
            times[mode]["wall"].append((time.perf_counter() - wall) * 1000)
            times[mode]["cpu"].append((time.process_time() - cpu) * 1000)
            totals[mode].append(result.total)
        backend._prefilter = with_table  # type: ignore[method-assign]
        cpu, wall = time.process_time(), time.perf_counter()
        backend._model.query(base.text)
        times["query embedding"]["wall"].append((time.perf_counter() - wall) * 1000)
        times["query embedding"]["cpu"].append((time.process_time() - cpu) * 1000)
    report["latency_ms"] = {
        name: {kind: percentiles(values) for kind, values in measured.items()}
        for name, measured in times.items()
    }
    report["median_total"] = {name: statistics.median(values) for name, values in totals.items()}
    recall_rng = random.Random(args.seed + 1)
    texts = [make(recall_rng).text for _ in range(args.recall_queries)]
    if texts:
        report["ann_recall"] = _recall(backend, vectors, texts, 100)
    if args.profile:
        profiled = [make(recall_rng) for _ in range(args.profile)]
        report["profile"] = _profile(
            backend,
            [
                Query.create(q.text, q.filters, today=q.today, facets=q.facets, retrieval="hybrid")
                for q in profiled
            ],
        )
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["process_cpu_s"] = round(time.process_time(), 1)
    print(json.dumps(report, indent=1, default=str))
    return report


if __name__ == "__main__":
    main()
