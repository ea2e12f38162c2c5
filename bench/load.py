"""Search API under concurrent load on loopback while harvests run: throughput, p50/p99, errors.

    python -m bench.load --seconds 60 --concurrency 32 --workers 2

Sets up an instance under a temp directory (or --instance) holding the edX fixture, serves it
with gunicorn (--workers processes on 127.0.0.1), and for --seconds sends mixed requests from
--concurrency asyncio clients (httpx): searches (text, filters, sorts, pages), course details
and suggestions. Meanwhile a harvest loop re-harvests a slice of the feed in this process,
alternating two versions, so every cycle commits to the store and upserts into the index the
servers read. Prints (and writes to bench/out/load.json) requests, throughput, latency
percentiles, counts by status, connection errors and harvests completed.

The anonymous rate limit is off for the run (one client address would only measure 429s).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.machine import describe_machine, percentiles

ROOT = Path(__file__).resolve().parent.parent
EDX = ROOT / "tests" / "fixtures" / "csv_edx_courses.csv"
WORDS = ["data", "python", "history", "business", "health", "design", "law", "music", "energy", "math"]
FILTERS = [{}, {"language": "en"}, {"sort": "title"}, {"page": "2"}, {"sort": "ects"}, {"sort": "start_date"}]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(instance: Path) -> list[str]:
    """Migrate, harvest the edX feed into store and index; return some course ids."""
    os.environ["CATALOGUE_INSTANCE_PATH"] = str(instance)
    from catalogue.sources import Source
    from harvesters.pipeline import run_harvest
    from web.app import create_app
    from web.services import get_services

    app = create_app(instance_path=str(instance))
    services = get_services(app)
    services.store.migrate()
    source = Source(id="edx", format="csv", name="edX", mapping="edx-csv")
    services.store.save_source(source)
    run_harvest(services.store, source, data=EDX.read_bytes(), sinks=services.sinks)
    ids = [s.id for s in services.store.iter_courses()][:500]
    services.close()
    return ids


def harvest_loop(instance: Path, stop: threading.Event, done: list[int]) -> None:
    """Harvest a 200-row slice of the feed as its own source, alternating two versions."""
    from catalogue.sources import Source
    from harvesters.jobs import run_harvest_exclusive
    from web.app import create_app
    from web.services import get_services

    app = create_app(instance_path=str(instance))  # kept: services close when the app is collected
    services = get_services(app)
    rows = list(csv.reader(io.StringIO(EDX.read_text(encoding="utf-8"))))[:201]
    source = Source(id="load", format="csv", name="Load slice", mapping="edx-csv")
    services.store.save_source(source)
    n = 0
    while not stop.is_set():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[0])
        writer.writerows([[f"{r[0]} (edition {n % 2})", *r[1:]] for r in rows[1:]])
        attempt = run_harvest_exclusive(
            services.store, source, locks=services.locks, data=out.getvalue().encode(), sinks=services.sinks
        )
        if attempt.report is not None and attempt.report.status.value == "succeeded":
            done.append(n)
        n += 1
    services.close()


async def client(base: str, ids: list[str], until: float, rng: random.Random, stats: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < until:
            kind = rng.choice(["search", "search", "search", "detail", "suggest"])
            if kind == "search":
                params = {"q": rng.choice(WORDS), **rng.choice(FILTERS)}
                request = http.get("/api/v1/search", params=params)
            elif kind == "detail":
                request = http.get(f"/api/v1/courses/{rng.choice(ids)}")
            else:
                request = http.get("/api/v1/suggest", params={"q": rng.choice(WORDS)[:3]})
            started = time.perf_counter()
            try:
                response = await request
            except httpx.HTTPError as exc:
                stats["connection_errors"][type(exc).__name__] += 1
                continue
            stats["latencies"].append((time.perf_counter() - started) * 1000)
            stats["status"][response.status_code] += 1


async def drive(base: str, ids: list[str], seconds: float, concurrency: int, seed: int) -> dict[str, Any]:
    stats: dict[str, Any] = {"latencies": [], "status": Counter(), "connection_errors": Counter()}
    until = time.monotonic() + seconds
    rngs = [random.Random(seed * 1000 + i) for i in range(concurrency)]
    await asyncio.gather(*(client(base, ids, until, rng, stats) for rng in rngs))
    return stats


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def run(seconds: float, concurrency: int, workers: int, instance: Path, seed: int) -> dict[str, Any]:
    ids = prepare(instance)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CATALOGUE_INSTANCE_PATH": str(instance), "CATALOGUE_RATELIMIT_ANONYMOUS": ""}
    env["CATALOGUE_SECRET_KEY"] = "load-test"
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "--log-level", "warning", "web.app:create_app()"], cwd=ROOT, env=env)
    stop, harvests = threading.Event(), list[int]()
    harvester = threading.Thread(target=harvest_loop, args=(instance, stop, harvests))
    try:
        wait_ready(base, server)
        harvester.start()
        started = time.monotonic()
        stats = asyncio.run(drive(base, ids, seconds, concurrency, seed))
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        if harvester.is_alive():
            harvester.join()
        server.terminate()
        server.wait(timeout=30)
    requests = sum(stats["status"].values())
    return {
        "machine": describe_machine(),
        "seconds": round(elapsed, 1),
        "concurrency": concurrency,
        "workers": workers,
        "requests": requests,
        "throughput_rps": round(requests / elapsed, 1),
        "latency_ms": percentiles(stats["latencies"]),
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "errors_5xx": sum(v for k, v in stats["status"].items() if k >= 500),
        "connection_errors": dict(stats["connection_errors"]),
        "harvests_completed": len(harvests),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instance", type=Path, help="Instance directory (default: a new temp dir).")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load.json")
    args = parser.parse_args(argv)
    instance = args.instance or Path(tempfile.mkdtemp(prefix="catalogue-load-"))
    result = run(args.seconds, args.concurrency, args.workers, instance, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
