"""Indexing throughput into the embedded engine: a full reindex from the store, and its parts.

Per size, in two child processes (so the peak memory, `ru_maxrss`, of the reindex is its own):

1. a fresh SQLite store is filled by harvesting the generated CSV feed (`bench.harvest_bench`'s
   cached feed; this fill is timed, with its own peak, but is not an indexing figure);
2. in a second child, **full reindex**: `search.sync.reindex(store, EmbeddedBackend)` end to
   end: read every course (tombstones included) from the store, build its search document,
   write a new index version and switch to it. The peak memory is read right after it;
3. the parts of the reindex path, each over the first `--parts-docs` courses (all of them up to
   that many: the engine part holds its documents in memory): reading the store
   (`iter_records`: rows with the record's JSON text), decoding the records and building their
   documents (`search.sync.record_documents`), decoding the records and converting them straight
   to tantivy's JSON (`to_tantivy_records`: `record_to_tantivy`, the calling thread's work in the
   full reindex), and `EmbeddedBackend.rebuild` from documents already in memory (the engine
   alone, including `to_tantivy` on the calling thread).

Rates are documents per second of wall time and per CPU-second of the process (all threads: the
tantivy writer indexes on its own threads, so CPU can exceed wall); `thread_cpu_us_per_doc` is
the CPU of the calling thread alone per document (the Python side, with tantivy's `add_json`).
`--store DIR` keeps the filled store in DIR and reuses it when it is already there (the fill is
the slow part at 1M; a reused fill is reported with the figures of the run that made it, marked
"reused").

    .venv/bin/python -m bench.index_bench --docs 100000
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from bench.harvest_bench import MAPPINGS, OUT, feed_path
from bench.machine import describe_machine

T = TypeVar("T")


def _timed(run: Callable[[], T]) -> tuple[dict[str, float], T]:
    cpu, wall, thread = time.process_time(), time.perf_counter(), time.thread_time()
    result = run()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "thread_cpu_s": time.thread_time() - thread,
    }, result


def _rates(times: dict[str, float], docs: int) -> dict[str, Any]:
    return {
        "wall_s": round(times["wall_s"], 3),
        "cpu_s": round(times["cpu_s"], 3),
        # the calling thread's share of cpu_s: the Python side (tantivy indexes on its own threads)
        "thread_cpu_us_per_doc": round(times["thread_cpu_s"] / docs * 1e6, 1) if docs else None,
        "docs_per_s": round(docs / times["wall_s"]) if times["wall_s"] else None,
        "docs_per_cpu_s": round(docs / times["cpu_s"]) if times["cpu_s"] else None,
    }


def _store(directory: Path) -> Any:
    from course_catalogue.catalogue.store import CatalogueStore

    return CatalogueStore(f"sqlite:///{directory}/catalogue.db")


def fill_child(docs: int, seed: int, out: Path, directory: Path) -> dict[str, Any]:
    """Harvest the generated CSV feed into a fresh store in `directory` (not an indexing figure)."""
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    data = feed_path("csv", docs, seed, out).read_bytes()
    # The 1M-record CSV is 850 MB, over the default 200 MB cap on a feed: raised here (an operator
    # setting), as bench.harvest_bench does, so the cap does not decide what is measured.
    settings = HarvestSettings(max_feed_bytes=max(len(data) + 1, HarvestSettings().max_feed_bytes))
    store = _store(directory)
    store.migrate()
    source = Source(id="bench", format="csv", name="Benchmark feed", mapping=MAPPINGS["csv"])
    store.save_source(source)
    times, report = _timed(lambda: run_harvest(store, source, data=data, settings=settings))
    store.close()
    if report.error:
        raise RuntimeError(f"the store fill failed: {report.error}")
    counts = {str(k): v for k, v in report.counts.items()}
    return {**_rates(times, sum(counts.values())), "counts": counts, "peak_mb": _peak_mb()}


def reindex_child(directory: Path, parts_docs: int) -> dict[str, Any]:
    """The full reindex from the store in `directory` (its peak memory alone), then its parts
    over the first `parts_docs` courses."""
    from course_catalogue.search.sync import record_documents, reindex
    from course_catalogue.search.tantivy.backend import EmbeddedBackend

    store = _store(directory)
    with tempfile.TemporaryDirectory(prefix="index-", dir=directory) as index_dir:
        backend = EmbeddedBackend(index_dir)
        result: dict[str, Any] = {}
        times, indexed = _timed(lambda: reindex(store, backend))
        result["documents"] = indexed
        result["full_reindex"] = {**_rates(times, indexed), "peak_mb": _peak_mb()}
        rows = store.iter_records(include_withdrawn=True)
        times, stored = _timed(lambda: list(itertools.islice(rows, parts_docs)))
        result["parts_docs"] = len(stored)
        result["read_store"] = _rates(times, len(stored))
        times, documents = _timed(lambda: list(record_documents(stored)))
        result["to_document"] = _rates(times, len(documents))
        times, converted = _timed(lambda: _convert(stored))
        result["to_tantivy_records"] = _rates(times, converted)
        stored = []
        times, indexed = _timed(lambda: backend.rebuild(documents))
        result["engine_rebuild"] = _rates(times, indexed)
        result["peak_mb_with_parts"] = _peak_mb()  # the parts' documents held for the engine pass
        backend.close()
    store.close()
    return result


def _convert(rows: list[Any]) -> int:
    """Decode `rows` and convert them to tantivy's JSON as a reindex into the embedded engine does
    (`stored_records`, `record_to_tantivy`), each text dropped as the writer would drop it: keeping
    100k of them would add the page faults of a few hundred MB to what is measured."""
    from course_catalogue.search.sync import stored_records
    from course_catalogue.search.tantivy.index import record_to_tantivy

    count = 0
    for record in stored_records(rows):
        record_to_tantivy(*record)
        count += 1
    return count


def _run_child(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.index_bench", "--child", *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    args_list = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description="Indexing throughput into the embedded engine.")
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--parts-docs", type=int, default=100_000, help="courses the parts run over (held in memory)"
    )
    parser.add_argument(
        "--store", type=Path, help="keep the filled store in this directory; reuse it if it is there"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(args_list)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        kind, directory = args.child[0], Path(args.child[1])
        if kind == "fill":
            print(json.dumps(fill_child(args.docs[0], args.seed, args.out, directory)))
        else:
            print(json.dumps(reindex_child(directory, args.parts_docs)))
        return {}
    results = {}
    for docs in args.docs:
        feed_path("csv", docs, args.seed, args.out)  # generated here, outside the children's peaks
        with contextlib.ExitStack() as stack:
            if args.store is None:
                scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="index-bench-")))
            else:
                scratch = args.store / f"store-{docs}-{args.seed}"
            common = ["--docs", str(docs), "--seed", str(args.seed), "--out", str(args.out)]
            filled = scratch / "fill.json"  # written once the fill completed
            if filled.exists():
                fill: dict[str, Any] = {**json.loads(filled.read_text()), "reused": True}
            else:
                scratch.mkdir(parents=True, exist_ok=True)
                for leftover in scratch.glob("catalogue.db*"):  # of an interrupted fill
                    leftover.unlink()
                fill = _run_child("fill", str(scratch), *common)
                filled.write_text(json.dumps(fill))
            parts = ["--parts-docs", str(args.parts_docs)]
            r = {"store_fill": fill, **_run_child("reindex", str(scratch), *common, *parts)}
        results[str(docs)] = r
        print(
            f"{docs:>8}: full reindex {r['full_reindex']['docs_per_s']} docs/s wall "
            f"({r['full_reindex']['docs_per_cpu_s']} per CPU-s, calling thread "
            f"{r['full_reindex']['thread_cpu_us_per_doc']} us/doc), engine alone "
            f"{r['engine_rebuild']['docs_per_s']} docs/s, peak {r['full_reindex']['peak_mb']} MB",
            flush=True,
        )
    report = {
        "bench": "index",
        "command": " ".join(["python -m bench.index_bench", *args_list]),
        "seed": args.seed,
        "machine": describe_machine(),
        "results": results,
    }
    name = "-".join(str(d) for d in args.docs)
    (args.out / f"index-{name}.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
