"""Every atheris fuzz target runs a bounded number of inputs in CI (longer runs: `make reliability`)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fuzz.harness import FEEDS
from tests.reliability.conftest import SCALE

ROOT = Path(__file__).resolve().parents[2]
RUNS = 60 * SCALE


def fuzz(name: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    corpus = workdir / name
    corpus.mkdir()
    (corpus / "seed").write_bytes(FEEDS[name].load())
    return subprocess.run(
        [sys.executable, "-m", f"fuzz.{name}_target", f"-atheris_runs={RUNS}", "-seed=1", str(corpus)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300 * SCALE,
    )


def test_every_fuzz_target_survives_its_runs(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: one target per core
        results = dict(zip(FEEDS, pool.map(lambda n: fuzz(n, tmp_path), FEEDS), strict=True))
    for name, done in results.items():
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        assert f"Done {RUNS} " in done.stderr, f"{name}: {done.stderr[-1000:]}"
