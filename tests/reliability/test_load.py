"""The load run (bench/load.py) end to end at a small size: gunicorn with 2 workers on loopback,
concurrent mixed API requests while harvests commit. Asserts zero 5xx and zero connection
errors only; the figures (throughput, p50/p99) go to RELIABILITY.md from longer runs."""

from __future__ import annotations

from pathlib import Path

from bench import load
from tests.reliability.conftest import SCALE


def test_api_under_load_while_harvesting_has_no_5xx(tmp_path: Path) -> None:
    result = load.main(
        [
            "--seconds",
            str(8 * SCALE),
            "--concurrency",
            "8",
            "--workers",
            "2",
            "--instance",
            str(tmp_path / "instance"),
            "--out",
            str(tmp_path / "load.json"),
        ]
    )
    assert result["requests"] > 0
    assert result["errors_5xx"] == 0, result["status"]
    assert result["connection_errors"] == {}
    assert result["harvests_completed"] >= 1
