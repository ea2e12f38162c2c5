"""CSV harvest throughput: read, map, validate, hash and store a generated feed, against raw `csv`.

The ceiling is Python's `csv` module reading the same bytes into dicts (decode + parse, nothing
else): our share of it says how much the mapping, validation and store cost on top. Each run
uses a fresh SQLite store in a temporary directory. Three passes are measured per size:
a first load (every record ADDED), a re-harvest of the unchanged feed (every record
UNCHANGED, the common scheduled case) and a dry run. Rates are records per second of wall time
and per CPU-second (one core), since the machine may be shared.

    .venv/bin/python -m bench.harvest_bench --docs 10000 100000 --seed 1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from bench.generate import write_csv
from bench.machine import describe_machine
from catalogue.sources import Source
from catalogue.store import CatalogueStore
from harvesters.pipeline import run_harvest

OUT = Path(__file__).parent / "out"
SPEC = Path(__file__).parent / "specs" / "bench-csv.toml"


def feed(docs: int, seed: int, out: Path) -> bytes:
    """The CSV feed of `docs` records, generated once and cached under `out`."""
    path = out / f"harvest-{docs}-{seed}.csv"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        write_csv(buffer, docs, seed)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    return path.read_bytes()


def _timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _ceiling(data: bytes) -> int:
    return sum(1 for _ in csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _harvest_passes(data: bytes) -> dict[str, tuple[float, float, dict[str, int]]]:
    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as directory:
        store = CatalogueStore(f"sqlite:///{directory}/catalogue.db")
        store.migrate()
        source = Source(id="bench", format="csv", name="Benchmark feed", mapping=str(SPEC))
        store.save_source(source)
        passes = {}
        for name, dry in (("first load", False), ("unchanged re-harvest", False), ("dry run", True)):
            wall, cpu, report = _timed(partial(run_harvest, store, source, data=data, dry_run=dry))
            if report.error:
                raise RuntimeError(f"the benchmark harvest failed: {report.error}")
            passes[name] = (wall, cpu, {str(k): v for k, v in report.counts.items()})
        store.close()
    return passes


def measure(docs: int, seed: int, repeats: int, out: Path) -> dict[str, Any]:
    data = feed(docs, seed, out)
    rows = _ceiling(data)
    ceiling = [_timed(lambda: _ceiling(data)) for _ in range(repeats)]
    runs = [_harvest_passes(data) for _ in range(repeats)]
    ceiling_wall = statistics.median(w for w, _, _ in ceiling)
    ceiling_cpu = statistics.median(c for _, c, _ in ceiling)
    result: dict[str, Any] = {
        "rows": rows,
        "feed_bytes": len(data),
        "csv_ceiling": _rates(rows, ceiling_wall, ceiling_cpu),
        "passes": {},
    }
    for name in runs[0]:
        wall = statistics.median(r[name][0] for r in runs)
        cpu = statistics.median(r[name][1] for r in runs)
        rates = _rates(rows, wall, cpu)
        rates["share_of_ceiling_cpu"] = round(
            rates["records_per_cpu_s"] / result["csv_ceiling"]["records_per_cpu_s"], 4
        )
        rates["counts"] = runs[0][name][2]
        result["passes"][name] = rates
        ceiling = result["csv_ceiling"]["records_per_cpu_s"]
        print(
            f"{docs:>8} {name:22} {rates['records_per_s']:8.0f} rec/s wall, "
            f"{rates['records_per_cpu_s']:8.0f} rec/CPU-s "
            f"({rates['share_of_ceiling_cpu']:.1%} of csv's {ceiling})",
            flush=True,
        )
    return result


def _rates(rows: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "records_per_s": round(rows / wall) if wall else None,
        "records_per_cpu_s": round(rows / cpu) if cpu else None,
    }


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="CSV harvest throughput against raw csv parsing.")
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per size; medians are reported")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(list(argv) if argv is not None else None)
    report = {
        "bench": "harvest-csv",
        "command": " ".join(["python -m bench.harvest_bench", *sys.argv[1:]]) if argv is None else None,
        "seed": args.seed,
        "repeats": args.repeats,
        "machine": describe_machine(),
        "sizes": {str(docs): measure(docs, args.seed, args.repeats, args.out) for docs in args.docs},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "-".join(str(d) for d in args.docs)
    (args.out / f"harvest-{name}.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
