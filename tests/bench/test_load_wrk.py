"""bench/load.py --client wrk: the request-path file, the Lua script's JSON line, and (when wrk is
installed) one short run end to end. No timing is asserted, ever."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench import load
from bench.load import (
    MIX,
    WRK_MARK,
    WRK_SCRIPT,
    QuerySpace,
    WrkSettings,
    draw,
    parse_wrk_output,
    write_paths,
    wrk_command,
    wrk_stats,
)

IDS = ["00155bb5f5cda3af2c3d", "odd id/with:chars"]


def test_path_file_is_seeded_and_follows_the_mix(tmp_path: Path) -> None:
    space = QuerySpace(seed=1, phrases=["data science"])
    first, again, other = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    kinds = write_paths(first, space, IDS, 5000, seed=1)
    write_paths(again, space, IDS, 5000, seed=1)
    write_paths(other, space, IDS, 5000, seed=2)
    assert first.read_bytes() == again.read_bytes() != other.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5000 == sum(kinds.values())
    found = Counter(line.split("\t")[0] for line in lines)
    assert found == kinds and set(found) == set(MIX)
    assert found["search"] > found["detail"] > 0 and found["suggest"] > 0  # 60 / 20 / 20
    prefix = {"search": "/api/v1/search?q=", "detail": "/api/v1/courses/", "suggest": "/api/v1/suggest?q="}
    for line in lines:
        kind, path = line.split("\t")
        assert " " not in path and path.startswith(prefix[kind])  # one token per line for the Lua
    assert "/api/v1/courses/odd%20id%2Fwith%3Achars" in {line.split("\t")[1] for line in lines}


def test_the_path_file_draws_what_the_httpx_client_draws(tmp_path: Path) -> None:
    space = QuerySpace(seed=1)
    write_paths(tmp_path / "p.txt", space, IDS, 50, seed=9)
    rng = random.Random(9)
    expected = []
    for _ in range(50):
        kind, target, params = draw(rng, space, IDS)
        expected.append((kind, target, params))
    lines = (tmp_path / "p.txt").read_text(encoding="utf-8").splitlines()
    for line, (kind, target, params) in zip(lines, expected, strict=True):
        written_kind, path = line.split("\t")
        assert written_kind == kind and path.split("?")[0] == target
        if kind == "search":
            assert "q=" + params["q"].replace(" ", "+") in path


SAMPLE = """Running 2s test @ http://127.0.0.1:5000
  2 threads and 4 connections
  1424 requests in 3.08s, 8.36MB read
WRK_JSON {"bytes":8765432,"cache":{"search:hit":10,"search:miss":30,"suggest:miss":5},\
"duration_us":3080000,"errors":{"connect":0,"read":2,"status":1,"timeout":0,"write":0},\
"issued":{"detail":3,"search":41,"suggest":6},"latency_us":{"max":225437,"mean":11610.775,\
"min":552,"p50":8882,"p90":20231,"p95":27975,"p99":97902,"p99.9":216787,"stdev":18388.625},\
"requests":48,"status":{"200":47,"503":1},"threads":2}
Requests/sec:    462.40
"""


def test_the_lua_json_line_is_parsed_into_the_run_figures() -> None:
    report = parse_wrk_output(SAMPLE)
    assert report["requests"] == 48 and report["duration_us"] == 3_080_000
    stats = wrk_stats(report)
    assert stats["latency_ms"] == {
        "p50": 8.88,
        "p90": 20.23,
        "p95": 27.98,
        "p99": 97.9,
        "p99.9": 216.79,
        "mean": 11.61,
        "max": 225.44,
    }
    assert stats["status"] == Counter({200: 47, 503: 1})
    assert stats["connection_errors"] == Counter({"read": 2})  # socket errors only, non-zero only
    assert stats["requests_by_endpoint"] == {"detail": 3, "search": 41, "suggest": 6}
    assert load._hit_rates(stats["cache"]) == {"search": 0.25, "suggest": 0.0}


def test_no_json_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="WRK_JSON"):
        parse_wrk_output("Running 2s test @ http://127.0.0.1:5000\n")


def test_the_script_is_committed_and_prints_the_marked_line() -> None:
    script = WRK_SCRIPT.read_text(encoding="utf-8")
    assert WRK_MARK.strip() in script and "function done(" in script and "function request(" in script


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-deps)")
def test_wrk_command_is_bounded_and_passes_the_paths(tmp_path: Path) -> None:
    command = wrk_command("http://127.0.0.1:1", 2.4, 1, WrkSettings(threads=4), tmp_path / "p.txt")
    assert command[command.index("-d") + 1] == "2s"
    assert command[command.index("-t") + 1] == "1"  # never more threads than connections
    assert "--latency" in command and command[-2:] == [str(tmp_path / "p.txt"), "1"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-deps)")
def test_wrk_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = load.main(
        [
            "--client",
            "wrk",
            "--seconds",
            "2",
            "--concurrency",
            "4",
            "--workers",
            "1",
            "--cache",
            "on",
            "--wrk-paths",
            "2000",
            "--instance",
            str(tmp_path / "instance"),
            "--out",
            str(out),
        ]
    )
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["client"] == result["client"] == "wrk"
    run = saved["runs"]["cache_on"]
    assert run["client"] == "wrk" and run["requests"] > 0 == run["errors_5xx"]
    assert run["status"] and sum(run["status"].values()) == run["requests"]
    assert set(run["latency_ms"]) >= {"p50", "p90", "p95", "p99", "p99.9"}
    assert set(run["latency_ms_by_endpoint"]) <= set(MIX)
    assert run["worker_cpu_s"] >= 0 and run["requests_per_worker_cpu_s"]
    assert "harvests_completed" in run and run["wrk"]["command"].startswith("wrk ")
    assert saved["requests"] == run["requests"] and saved["wrk_paths"]
