"""First load on one core vs two: the wall time a harvest gains from its mapping workers.

Issue 21 asks for a first load at least 1.7x faster in wall time on 2 cores than on 1 (100k
records). Per format, each repeat runs two children one after the other (alternating, so a change
in the machine's load hits both alike), each a first load of the same generated feed
(`bench.generate`, cached under --out) into a fresh SQLite store:

* `1 core`: `taskset -c <first core>`, `HarvestSettings(workers=1)`: the whole run in one process;
* `N cores`: `taskset -c <all cores>`, `HarvestSettings(workers=N)` (forked mapping workers).

Each child reports wall time, CPU time (its own and its reaped workers'), the run's counts and the
load average before and after. The medians over --repeats are printed with the wall ratio. On a
shared machine the wall ratio understates what an idle one gives (the workers wait for a core):
read it with the load average, and re-run on a quiet machine:

    nice -n 10 .venv/bin/python -m bench.cores_bench --formats csv xcri-cap --docs 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.harvest_bench import MAPPINGS, OUT, _cpu, bench_source, feed_path


def first_load(fmt: str, path: Path, workers: int) -> dict[str, Any]:
    """In a child: one first load of `path` with `workers` mapping processes."""
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    limit = max(path.stat().st_size + 1, HarvestSettings().max_feed_bytes)
    settings = HarvestSettings(max_feed_bytes=limit, workers=workers)
    with bench_source(fmt, path, limit) as (store, source, data):
        load = os.getloadavg()[0]
        cpu, own, main, wall = _cpu(), time.process_time(), time.thread_time(), time.perf_counter()
        report = run_harvest(store, source, data=data, settings=settings)
        wall, cpu, own = time.perf_counter() - wall, _cpu() - cpu, time.process_time() - own
        main = time.thread_time() - main
    if report.error:
        raise RuntimeError(f"the benchmark harvest failed: {report.error}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "harvesting_process_cpu_s": round(own, 2),  # the rest is the workers'
        "main_thread_cpu_s": round(main, 2),  # the rest of the process's is the writer thread's
        "counts": {str(k): v for k, v in report.counts.items()},
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def _child(fmt: str, path: Path, workers: int, cores: list[int]) -> dict[str, Any]:
    command = ["taskset", "-c", ",".join(map(str, cores)), sys.executable, "-m", "bench.cores_bench"]
    command += ["--child", fmt, str(path), str(workers)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def compare(fmt: str, docs: int, seed: int, repeats: int, out: Path) -> dict[str, Any]:
    path = feed_path(fmt, docs, seed, out)
    cores = sorted(os.sched_getaffinity(0))
    configs = {"1 core": (1, cores[:1]), f"{len(cores)} cores": (len(cores), cores)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for _ in range(repeats):
        for name, (workers, allowed) in configs.items():
            runs[name].append(_child(fmt, path, workers, allowed))
    counts = {json.dumps(r["counts"], sort_keys=True) for rs in runs.values() for r in rs}
    if len(counts) != 1:
        raise RuntimeError(f"runs disagree on the outcome: {counts}")
    summary: dict[str, Any] = {"format": fmt, "docs": docs, "counts": json.loads(counts.pop())}
    for name, rs in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in rs)
            for key in ("wall_s", "cpu_s", "harvesting_process_cpu_s", "main_thread_cpu_s")
        }
        summary[name] |= {"load": [r["load_before"] for r in rs], "runs": rs}
    (one, many), n = (summary[name] for name in configs), len(cores)
    summary["wall_ratio"] = round(one["wall_s"] / many["wall_s"], 2)
    # What an idle machine would give if every thread had a core when it can run: the serial
    # run's CPU over the longest of the harvesting thread's CPU (its work is a chain: read,
    # settle), the writer thread's, and the whole CPU spread over the cores. An estimate, not a
    # measurement: it ignores waits between them.
    writer = many["harvesting_process_cpu_s"] - many["main_thread_cpu_s"]
    bound = max(many["main_thread_cpu_s"], writer, many["cpu_s"] / n)
    summary["idle_estimate_ratio"] = round(one["cpu_s"] / bound, 2)
    return summary


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--formats", nargs="+", default=["csv", "xcri-cap"], choices=sorted(MAPPINGS))
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", nargs=3, metavar=("FORMAT", "FEED", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args(None if argv is None else list(argv))
    if args.child:
        fmt, path, workers = args.child
        print(json.dumps(first_load(fmt, Path(path), int(workers))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for fmt in args.formats:
        summary = compare(fmt, args.docs, args.seed, args.repeats, args.out)
        print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
