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
   documents (`search.sync.record_documents`), decoding the records and converting their
   documents to tantivy's JSON (`to_tantivy_records`: `to_tantivy(record_document(...))`, the
   calling thread's work in the full reindex), and `EmbeddedBackend.rebuild` from documents
   already in memory (the engine alone, including `to_tantivy` on the calling thread);
4. with `--skill-cache`, in the same child after those: the full reindex again with the catalogue's
   kept skill links (`search.skill_cache`, `catalogue.skill_link_store.SkillLinkStore`), first
   with the `skill_links` table emptied (**cold**: every course's links computed and kept, as on
   the first indexing) and then as it was left (**warm**: every course's links reused, as on any
   later reindex), followed by one more reindex without the cache (the same work as step 2, to see
   the drift of a shared machine between the runs) and one with skills off (no taxonomy: only
   stated links, the floor a kept link can approach).

The ESCO taxonomy and its label index are loaded before anything is timed (once per process, ~1 s
of CPU on first use): the figures are per document, not the process's start-up.

Rates are documents per second of wall time and per CPU-second of the process (all threads: the
tantivy writer indexes on its own threads, so CPU can exceed wall); `thread_cpu_us_per_doc` is
the CPU of the calling thread alone per document (the Python side, with tantivy's `add_json`).
`--store DIR` keeps the filled store in DIR and reuses it when it is already there (the fill is
the slow part at 1M; a reused fill is reported with the figures of the run that made it, marked
"reused").

    .venv/bin/python -m bench.index_bench --docs 100000
    .venv/bin/python -m bench.index_bench --docs 100000 --parts-docs 2000 --skill-cache
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


def reindex_child(directory: Path, parts_docs: int, skill_cache: bool = False) -> dict[str, Any]:
    """The full reindex from the store in `directory` (its peak memory alone), then its parts
    over the first `parts_docs` courses, then (`skill_cache`) the reindex with kept skill links,
    cold and warm, and once more without them."""
    from course_catalogue.search.sync import record_documents, reindex
    from course_catalogue.search.tantivy.backend import EmbeddedBackend
    from course_catalogue.skills import linking
    from course_catalogue.skills import taxonomy as skill_taxonomy

    taxonomy = skill_taxonomy.current()
    if taxonomy is not None:
        linking.label_index(taxonomy)  # loaded before the clocks start (see the module docstring)
    store = _store(directory)
    store.migrate()  # a store filled by an older tree lacks the newer tables (skill_links)
    with tempfile.TemporaryDirectory(prefix="index-", dir=directory) as index_dir:
        backend = EmbeddedBackend(index_dir)
        result: dict[str, Any] = {}
        times, indexed = _timed(lambda: reindex(store, backend))
        result["documents"] = indexed
        result["full_reindex"] = {
            **_rates(times, indexed),
            "cpu_us_per_doc": round(times["cpu_s"] / indexed * 1e6, 1) if indexed else None,
            "peak_mb": _peak_mb(),
        }
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
        documents = []
        if skill_cache:
            result["skills"] = "on" if taxonomy is not None else "off"
            result.update(_cached_reindexes(store, backend))
        backend.close()
    store.close()
    return result


def _cached_reindexes(store: Any, backend: Any) -> dict[str, Any]:
    """Full reindexes with the kept skill links, cold then warm, then one without them and one
    with skills off."""
    import sqlalchemy as sa

    from course_catalogue.catalogue.schema import skill_links
    from course_catalogue.catalogue.skill_link_store import SkillLinkStore
    from course_catalogue.search.sync import reindex
    from course_catalogue.skills import taxonomy as skill_taxonomy

    cache = SkillLinkStore(store)
    with store.writing() as conn:
        conn.execute(sa.delete(skill_links))
    result: dict[str, Any] = {}
    for name, kept in (("cold", cache), ("warm", cache), ("plain_again", None)):
        times, indexed = _timed(lambda kept=kept: reindex(store, backend, skill_cache=kept))
        result[f"full_reindex_cached_{name}" if kept else "full_reindex_plain_again"] = {
            **_rates(times, indexed),
            "cpu_us_per_doc": round(times["cpu_s"] / indexed * 1e6, 1) if indexed else None,
        }
    with skill_taxonomy.use(None):
        times, indexed = _timed(lambda: reindex(store, backend))
    result["full_reindex_skills_off"] = {
        **_rates(times, indexed),
        "cpu_us_per_doc": round(times["cpu_s"] / indexed * 1e6, 1) if indexed else None,
    }
    result["kept_rows"] = sum(cache.counts().values())
    return result


def _convert(rows: list[Any]) -> int:
    """Decode `rows` and convert them to tantivy's JSON as a reindex into the embedded engine does
    (`stored_records`, then `to_tantivy(record_document(...))`), each text dropped as the writer
    would drop it: keeping 100k of them would add the page faults of a few hundred MB to what is
    measured."""
    from course_catalogue.search.documents import record_document
    from course_catalogue.search.sync import stored_records
    from course_catalogue.search.tantivy.index import to_tantivy

    count = 0
    for record in stored_records(rows):
        to_tantivy(record_document(*record))
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
    parser.add_argument(
        "--skill-cache",
        action="store_true",
        help="also reindex with the kept skill links, cold and warm (search.skill_cache)",
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(args_list)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        kind, directory = args.child[0], Path(args.child[1])
        if kind == "fill":
            print(json.dumps(fill_child(args.docs[0], args.seed, args.out, directory)))
        else:
            print(json.dumps(reindex_child(directory, args.parts_docs, args.skill_cache)))
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
            parts = ["--parts-docs", str(args.parts_docs), *(["--skill-cache"] if args.skill_cache else [])]
            r = {"store_fill": fill, **_run_child("reindex", str(scratch), *common, *parts)}
        results[str(docs)] = r
        print(
            f"{docs:>8}: full reindex {r['full_reindex']['docs_per_s']} docs/s wall "
            f"({r['full_reindex']['docs_per_cpu_s']} per CPU-s, calling thread "
            f"{r['full_reindex']['thread_cpu_us_per_doc']} us/doc), engine alone "
            f"{r['engine_rebuild']['docs_per_s']} docs/s, peak {r['full_reindex']['peak_mb']} MB",
            flush=True,
        )
        for name in (
            "full_reindex_cached_cold",
            "full_reindex_cached_warm",
            "full_reindex_plain_again",
            "full_reindex_skills_off",
        ):
            if name in r:
                rates = r[name]
                print(f"{'':>8}  {name}: {rates['cpu_us_per_doc']} us CPU/doc, {rates['docs_per_s']} docs/s")
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
