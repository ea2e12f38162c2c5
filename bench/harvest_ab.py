"""First-load CPU of two source trees, measured alternately in one run: what a change to the harvest saves.

Each tree is a checkout of the repository (e.g. `git archive <commit> | tar -x -C DIR`); both run
with this interpreter and its packages. Per format and repeat, one `bench.harvest_bench` harvest
child per tree, A then B, on the same generated feed (`--out`, shared), SQLite, one process
(`--workers 1`), without the one-record-change pass: so the machine's load drifts alike over both.
Reports records per CPU-second of the first load and of the unchanged re-harvest, medians of
`--repeats`, and B against A.

    nice -n 10 .venv/bin/python -m bench.harvest_ab --a /tmp/base --b . --formats csv xcri-cap --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.generate import FORMATS
from bench.harvest_bench import OUT, feed_path

PASSES = ("first load", "unchanged re-harvest")


def child(tree: Path, fmt: str, path: Path) -> dict[str, float]:
    """CPU seconds of each pass of one harvest child run from `tree`."""
    command = [sys.executable, "-m", "bench.harvest_bench", "--child", "harvest", fmt, str(path), "0", "1"]
    env = {**os.environ, "PYTHONPATH": str(tree), "BENCH_SKIP_CHANGE": "1"}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {' '.join(command)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: result[name]["cpu_s"] for name in PASSES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="the tree measured first (before)")
    parser.add_argument("--b", type=Path, required=True, help="the tree measured second (after)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for fmt in args.formats:
        path = feed_path(fmt, args.docs, args.seed, args.out.resolve())
        runs: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
        for _ in range(args.repeats):
            runs["a"].append(child(args.a.resolve(), fmt, path))
            runs["b"].append(child(args.b.resolve(), fmt, path))
        records = _records(fmt, path)
        for name in PASSES:
            a = statistics.median(r[name] for r in runs["a"])
            b = statistics.median(r[name] for r in runs["b"])
            print(
                f"{fmt:10} {name:21} A {records / a:7.0f}  B {records / b:7.0f} records per CPU-second"
                f"  (B/A {a / b:.2f}x; CPU s A {[round(r[name], 2) for r in runs['a']]},"
                f" B {[round(r[name], 2) for r in runs['b']]})",
                flush=True,
            )


def _records(fmt: str, path: Path) -> int:
    """Records in the feed: its rows for CSV, else what the raw parser counts (`ceiling`)."""
    if fmt == "csv":
        with open(path, "rb") as lines:
            return sum(1 for _ in lines) - 1
    from bench.harvest_bench import ceiling

    return ceiling(fmt, path.read_bytes())


if __name__ == "__main__":
    main()
