"""The soak's short version: bench/soak.py for 45 s with a kill every ~6 s against a served
instance (gunicorn, `catalogue worker`), then no discrepancy between store and index, nothing
published lost, no 5xx. `make soak` runs it for 30 minutes (figures in RELIABILITY.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import SCALE

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_ends_with_store_and_index_in_agreement(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    seconds = 45 * SCALE
    command = [
        sys.executable, "-m", "bench.soak", "--seconds", str(seconds), "--kill-every", "6",
        "--rows", "300", "--push-rows", "100", "--settle", "300", "--seed", "7", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 900)
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text())
    print(json.dumps({k: result[k] for k in ("operations", "kills", "errors_5xx", "discrepancies")}))
    assert result["discrepancies"] == 0, result["discrepancy_sample"]
    assert result["errors_5xx"] == 0, result["errors_5xx_sample"]
    assert result["settled_in_s"] is not None
    assert result["kills_total"] >= 3 and result["operations_total"] >= 5
    assert done.returncode == 0
