"""Search API under concurrent load on loopback while harvests run: throughput, p50/p99, errors.

    python -m bench.load --seconds 60 --concurrency 32 --workers 2
    python -m bench.load --seconds 60 --concurrency 32 --workers 2 --corpus-docs 100000

Sets up an instance under a temp directory (or --instance) holding the edX fixture (or, with
--corpus-docs N, the generated N-record benchmark catalogue, harvested through bench-csv), serves it
with gunicorn (--workers processes on 127.0.0.1), and for --seconds sends mixed requests from
--concurrency asyncio clients (httpx): searches (text, filters, sorts, pages), course details
and suggestions. Meanwhile a harvest loop re-harvests a slice of the feed in a separate process,
alternating two versions, so every cycle commits to the store and upserts into the index the
servers read. Prints (and writes to bench/out/load.json) requests, throughput (also per core
and per CPU-second of the gunicorn workers), latency percentiles overall and per endpoint,
counts by status, connection errors, harvests completed and the peak RSS (VmHWM) of each worker.

The anonymous rate limit is off for the run (one client address would only measure 429s).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
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
MIX = ["search", "search", "search", "detail", "suggest"]  # search-heavy: 60% search, 20% each other


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(instance: Path, corpus_docs: int | None = None, seed: int = 1) -> list[str]:
    """Migrate, harvest the edX feed (or the generated corpus) into store and index; return some ids."""
    os.environ["CATALOGUE_INSTANCE_PATH"] = str(instance)
    from catalogue.sources import Source
    from harvesters.pipeline import run_harvest
    from web.app import create_app
    from web.services import get_services

    app = create_app(instance_path=str(instance))
    services = get_services(app)
    services.store.migrate()
    if corpus_docs:
        from bench.harvest_bench import MAPPINGS, OUT, feed_path

        source = Source(id="bench", format="csv", name="Benchmark corpus", mapping=MAPPINGS["csv"])
        data = feed_path("csv", corpus_docs, seed, OUT).read_bytes()
    else:
        source = Source(id="edx", format="csv", name="edX", mapping="edx-csv")
        data = EDX.read_bytes()
    services.store.save_source(source)
    run_harvest(services.store, source, data=data, sinks=services.sinks)
    ids = [s.id for s in itertools.islice(services.store.iter_courses(), 500)]
    services.close()
    return ids


def harvest_loop(instance: Path, stop: Any, done: Any) -> None:
    """Harvest a 200-row slice of the feed as its own source, alternating two versions.

    Runs in its own process (spawned): in the client's process it would share the GIL with the
    asyncio clients and slow down the load generator rather than the servers."""
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
            with done.get_lock():
                done.value += 1
        n += 1
    services.close()


async def client(base: str, ids: list[str], until: float, rng: random.Random, stats: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < until:
            kind = rng.choice(MIX)
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
            elapsed = (time.perf_counter() - started) * 1000
            stats["latencies"].append(elapsed)
            stats["by_endpoint"].setdefault(kind, []).append(elapsed)
            stats["status"][response.status_code] += 1
            if response.status_code >= 500:
                stats["errors_by_endpoint"][kind] += 1


async def drive(base: str, ids: list[str], seconds: float, concurrency: int, seed: int) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "latencies": [],
        "by_endpoint": {},
        "status": Counter(),
        "errors_by_endpoint": Counter(),
        "connection_errors": Counter(),
    }
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


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _proc(pid: int) -> dict[str, float]:
    """Peak RSS (VmHWM, MB) and CPU seconds (user + system) of a live process, from /proc."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"peak_rss_mb": round(peak, 1), "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}


def _workers(server: subprocess.Popen[bytes]) -> dict[int, dict[str, float]]:
    found = {}
    for pid in _children(server.pid):
        try:
            found[pid] = _proc(pid)
        except (OSError, IndexError, ValueError):
            continue  # a worker that just exited
    return found


def run(
    seconds: float, concurrency: int, workers: int, instance: Path, seed: int, corpus_docs: int | None = None
) -> dict[str, Any]:
    setup_started = time.monotonic()
    ids = prepare(instance, corpus_docs, seed)
    setup_s = time.monotonic() - setup_started
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CATALOGUE_INSTANCE_PATH": str(instance), "CATALOGUE_RATELIMIT_ANONYMOUS": ""}
    env["CATALOGUE_SECRET_KEY"] = "load-test"
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "--log-level", "warning", "web.app:create_app()"], cwd=ROOT, env=env)
    spawn = multiprocessing.get_context("spawn")
    stop, harvests = spawn.Event(), spawn.Value("i", 0)
    harvester = spawn.Process(target=harvest_loop, args=(instance, stop, harvests))
    try:
        wait_ready(base, server)
        harvester.start()
        before = _workers(server)
        started, client_cpu = time.monotonic(), time.process_time()
        stats = asyncio.run(drive(base, ids, seconds, concurrency, seed))
        elapsed, client_cpu = time.monotonic() - started, time.process_time() - client_cpu
        after = _workers(server)
    finally:
        stop.set()
        if harvester.is_alive():
            harvester.join()
        server.terminate()
        server.wait(timeout=30)
    requests = sum(stats["status"].values())
    worker_cpu = sum(a["cpu_s"] - before.get(pid, {"cpu_s": 0.0})["cpu_s"] for pid, a in after.items())
    cores = os.cpu_count() or 1
    return {
        "machine": describe_machine(),
        "corpus": f"generated {corpus_docs} records" if corpus_docs else "edX fixture",
        "detail_ids": len(ids),
        "setup_s": round(setup_s, 1),
        "seconds": round(elapsed, 1),
        "concurrency": concurrency,
        "workers": workers,
        "requests": requests,
        "throughput_rps": round(requests / elapsed, 1),
        "throughput_rps_per_core": round(requests / elapsed / cores, 1),
        "requests_per_worker_cpu_s": round(requests / worker_cpu, 1) if worker_cpu else None,
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_peak_rss_mb": [a["peak_rss_mb"] for a in after.values()],
        "load_generator_cpu_s": round(client_cpu, 1),
        "latency_ms": percentiles(stats["latencies"]),
        "latency_ms_by_endpoint": {
            kind: {"requests": len(v), **percentiles(v)} for kind, v in sorted(stats["by_endpoint"].items())
        },
        "errors_5xx_by_endpoint": dict(stats["errors_by_endpoint"]),
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "errors_5xx": sum(v for k, v in stats["status"].items() if k >= 500),
        "connection_errors": dict(stats["connection_errors"]),
        "harvests_completed": harvests.value,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instance", type=Path, help="Instance directory (default: a new temp dir).")
    parser.add_argument("--corpus-docs", type=int, help="Serve the generated N-record corpus, not edX.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load.json")
    args = parser.parse_args(argv)
    instance = args.instance or Path(tempfile.mkdtemp(prefix="catalogue-load-"))
    result = run(args.seconds, args.concurrency, args.workers, instance, args.seed, args.corpus_docs)
    result["command"] = " ".join(["python -m bench.load", *(sys.argv[1:] if argv is None else argv)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
