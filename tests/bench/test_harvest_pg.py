"""bench.harvest_pg runs end to end at a tiny size on PostgreSQL (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import harvest_pg
from tests.conftest import POSTGRES_URL, require_postgres


@pytest.mark.postgres
def test_harvest_pg_reports_both_passes(tmp_path: Path) -> None:
    require_postgres()
    rows = harvest_pg.main(
        ["--docs", "200", "--out", str(tmp_path), "--postgres", POSTGRES_URL, "--tick", "0.2"]
    )
    assert [row["pass"] for row in rows] == ["first load", "unchanged re-harvest"]
    first, again = (row["counts"] for row in rows)
    assert first.get("added", 0) > 0 and again.get("unchanged") == first["added"] and "added" not in again
    assert all(row["server_cpu_s"] >= 0 and row["peak_mb"] > 0 for row in rows)
