"""Fast paths against the plain code, in one run: does each save at least 10% of its stage?

Issue 19's rule: a second, faster implementation beside the readable one stays only when it saves
at least 10% of the stage it serves; otherwise it goes. Measured here (CPU time of this process,
`time.process_time`, best of `--repeat` runs; the machine is shared, so CPU rather than wall):

* **reindex, records -> tantivy JSON**: `record_to_tantivy` (`facts_to_tantivy`: a second builder
  writing tantivy's JSON straight from the record's facts) against the plain path
  `to_tantivy(record_document(...))` (the one search document, then its tantivy JSON). The stage
  is the full reindex (`search.sync.reindex` into the embedded engine) of the same store.

The store is filled by harvesting `bench.harvest_bench`'s generated CSV feed (`--docs` courses).

    .venv/bin/python -m bench.fast_paths --docs 20000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.harvest_bench import MAPPINGS, OUT, feed_path
from bench.machine import describe_machine


def _cpu(run: Callable[[], Any], repeat: int) -> float:
    """Best CPU seconds of `repeat` runs (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def _fill(directory: Path, docs: int, seed: int) -> Any:
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    data = feed_path("csv", docs, seed, OUT).read_bytes()
    store = CatalogueStore(f"sqlite:///{directory}/catalogue.db")
    store.migrate()
    source = Source(id="bench", format="csv", name="Benchmark feed", mapping=MAPPINGS["csv"])
    store.save_source(source)
    settings = HarvestSettings(max_feed_bytes=max(len(data) + 1, HarvestSettings().max_feed_bytes))
    report = run_harvest(store, source, data=data, settings=settings)
    if report.error:
        raise RuntimeError(f"the store fill failed: {report.error}")
    return store


def reindex_conversion(directory: Path, docs: int, seed: int, repeat: int) -> dict[str, Any]:
    from course_catalogue.search.documents import record_document
    from course_catalogue.search.sync import reindex, stored_records
    from course_catalogue.search.tantivy.backend import EmbeddedBackend
    from course_catalogue.search.tantivy.index import record_to_tantivy, to_tantivy

    store = _fill(directory, docs, seed)
    records = list(stored_records(store.iter_records(include_withdrawn=True)))

    def fast() -> None:
        for record in records:
            record_to_tantivy(*record)

    def plain() -> None:
        for record, status, seq, eligible in records:
            to_tantivy(record_document(record, status, seq, eligible))

    same = all(
        record_to_tantivy(*r) == to_tantivy(record_document(r[0], r[1], r[2], r[3])) for r in records[:2000]
    )
    fast_s, plain_s = _cpu(fast, repeat), _cpu(plain, repeat)
    with tempfile.TemporaryDirectory(prefix="index-", dir=directory) as index_dir:
        backend = EmbeddedBackend(index_dir)
        stage_s = _cpu(lambda: reindex(store, backend), repeat)
        backend.close()
    store.close()
    saved = plain_s - fast_s
    return {
        "documents": len(records),
        "same_output_first_2000": same,
        "fast_cpu_s": round(fast_s, 3),
        "plain_cpu_s": round(plain_s, 3),
        "stage": "full reindex (search.sync.reindex, embedded engine, with the fast path)",
        "stage_cpu_s": round(stage_s, 3),
        "saved_share_of_stage": round(saved / (stage_s + saved), 4),
        "keep": saved / (stage_s + saved) >= 0.10,
    }


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(list(argv) if argv is not None else None)
    with tempfile.TemporaryDirectory(prefix="fast-paths-") as tmp:
        result = {
            "machine": describe_machine(),
            "reindex_conversion": reindex_conversion(Path(tmp), args.docs, args.seed, args.repeat),
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
