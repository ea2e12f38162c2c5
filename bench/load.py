"""Search API under concurrent load on loopback while harvests run: throughput, p50/p99, errors.

    python -m bench.load --seconds 60 --concurrency 32 --workers 2
    python -m bench.load --seconds 60 --concurrency 32 --workers 2 --corpus-docs 100000
    python -m bench.load --client wrk --seconds 30 --concurrency 32 --workers 2

Sets up an instance under a temp directory (or --instance) holding the edX fixture (or, with
--corpus-docs N, the generated N-record benchmark catalogue, harvested through bench-csv), serves it
with gunicorn (--workers processes on 127.0.0.1; --worker-class, --threads, --keep-alive: by
default gthread workers of one thread keeping connections alive, see `ServerSettings`), and for
--seconds sends mixed requests from --concurrency asyncio clients (httpx, each reusing its
connection as the server allows): searches, course details and suggestions (see MIX).
Meanwhile a harvest loop re-harvests a slice of the feed in a separate process, alternating two
versions, so every cycle commits to the store and upserts into the index the servers read
(back to back by default, which invalidates the servers' search caches several times a second;
--harvest-every S waits S seconds between harvests instead).

The request mix is drawn from a popularity distribution rather than a handful of repeated
queries, so that a result cache is measured on a realistic share of repeats (`QuerySpace`):
searches are ranked over a large space (texts: every word of `WORDS`, the served catalogue's
PHRASES most frequent two-word title phrases, and every pair of `WORDS`, most of which match
little; times filter, sort and page variants: ~85,000 distinct searches) and drawn with
probability proportional to 1 / rank ** ZIPF_S (Zipf-like, as query logs are), the ranks
shuffled by the seed; suggestions likewise over word prefixes; course details uniformly over
the served courses.

By default (--cache both) the run is made twice on the same instance, once with the servers'
search cache on (the default configuration) and once with it off (SEARCH_CACHE_SIZE=0), so a
cache-only figure is never reported alone. For each run it prints (and writes to
bench/out/load.json under "runs") requests, throughput (also per core and per CPU-second of the
gunicorn workers), latency percentiles overall and per endpoint, the search cache's hit rate
(from the servers' X-Search-Cache header), counts by status, connection errors, harvests
completed, the harvest process's CPU seconds and the peak RSS (VmHWM) of each worker. Top-level
`requests`, `status`, `errors_5xx`, `connection_errors` and `harvests_completed` add up the runs.

Two load generators (--client): `httpx` (the default, as in earlier rounds: asyncio clients in
this Python process, whose CPU competes with the servers') and `wrk` (`make bench-deps` installs
it): the same instance, gunicorn and harvest loop, but wrk (C) runs for --seconds (-d) with
--wrk-threads threads, --concurrency connections, --latency and bench/wrk/mix.lua, which cycles
through --wrk-paths requests that `write_paths` draws beforehand from the same mix and seed (each
wrk thread from its own offset). The script's done() prints one JSON line (`WRK_MARK`): latency
percentiles from wrk's histogram (p50, p90, p95, p99, p99.9), responses by status, socket errors
(connect/read/write/timeout, reported as `connection_errors`), requests issued by kind and the
cache outcomes by kind. Each run then has "client": "wrk", a "wrk" block (command, errors,
latency in us, wrk's console report) and the load generator's CPU is wrk's (from getrusage of
the reaped child). What wrk cannot give: latency and 5xx per endpoint (`latency_ms_by_endpoint`
holds the requests issued per kind only, `errors_5xx_by_endpoint` is null).

The anonymous rate limit is off for the run (one client address would only measure 429s).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import csv
import io
import itertools
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bench.machine import describe_machine, percentiles

ROOT = Path(__file__).resolve().parent.parent
EDX = ROOT / "tests" / "fixtures" / "csv_edx_courses.csv"
WORDS = [
    "data", "python", "history", "business", "health", "design", "law", "music", "energy", "math",
    "science", "management", "introduction", "analysis", "computer", "programming", "learning",
    "engineering", "finance", "marketing", "statistics", "biology", "chemistry", "physics", "language",
    "english", "writing", "economics", "psychology", "education", "leadership", "security", "network",
    "cloud", "software", "web", "machine", "digital", "media", "art", "culture", "philosophy",
    "ethics", "public", "policy", "global", "environment", "climate", "sustainable", "food",
    "nutrition", "medicine", "care", "nursing", "social", "innovation", "entrepreneurship",
    "project", "supply", "chain", "accounting", "teaching", "communication", "research", "modelling",
    "algorithms", "systems", "electronics", "robotics", "architecture", "urban", "water", "agriculture",
    "genetics", "neuroscience", "astronomy", "quantum", "blockchain", "visualization", "theory",
]  # fmt: skip
FILTERS = [
    {}, {}, {}, {"language": "en"}, {"sort": "title"}, {"page": "2"}, {"page": "3"},
    {"sort": "ects"}, {"sort": "start_date"}, {"mode": "online"}, {"eqf": "6"}, {"sort": "price"},
]  # fmt: skip
MIX = ["search", "search", "search", "detail", "suggest"]  # search-heavy: 60% search, 20% each other
ZIPF_S = 1.0
"""Popularity exponent: the r-th most popular query is asked with probability ~ 1 / r**ZIPF_S."""
CACHE_HEADER = "X-Search-Cache"
PHRASES = 2000
STOP_WORDS = frozenset(
    {"and", "the", "for", "with", "from", "into", "your", "des", "der", "die", "und", "les"}
)


@dataclass(frozen=True)
class ServerSettings:
    """How gunicorn serves the app: worker class, threads per worker, keep-alive seconds.

    The default is the threaded worker with one thread: requests are still served one at a
    time per process, as with the sync worker, but connections are kept alive between requests
    as the clients (httpx pools) ask. The sync worker closes every connection, and before it can
    take the next request it waits for the client to close its side (gunicorn's
    `close_graceful`): a fifth of a sync worker's time under this load, none of it CPU."""

    worker_class: str = "gthread"
    threads: int = 1
    keep_alive: int = 2

    def options(self) -> list[str]:
        """gunicorn command-line options for these settings."""
        return ["-k", self.worker_class, "--threads", str(self.threads), "--keep-alive", str(self.keep_alive)]


WRK_SCRIPT = ROOT / "bench" / "wrk" / "mix.lua"
WRK_MARK = "WRK_JSON "
"""Prefix of the line bench/wrk/mix.lua's done() prints: the run's figures as one JSON object."""
WRK_SOCKET_ERRORS = ("connect", "read", "write", "timeout")


@dataclass(frozen=True)
class WrkSettings:
    """How wrk drives the servers (--client wrk): threads (at most one per connection), how many
    request paths to draw for bench/wrk/mix.lua to cycle through, and the per-request timeout
    (wrk's default of 2 s would drop slow answers from the latency figures as timeouts)."""

    threads: int = 2
    paths: int = 100_000
    timeout_s: int = 30


def wrk_command(base: str, seconds: float, connections: int, wrk: WrkSettings, paths_file: Path) -> list[str]:
    """The wrk command line for one bounded run (-d whole seconds, at least 1)."""
    executable = shutil.which("wrk")
    if executable is None:
        raise SystemExit("wrk is not installed: `make bench-deps` (Debian: apt-get install wrk)")
    threads = max(1, min(wrk.threads, connections))
    return [
        executable,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{wrk.timeout_s}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        base,
        "--",
        str(paths_file),
        str(threads),
    ]


def parse_wrk_output(text: str) -> dict[str, Any]:
    """The JSON object on the `WRK_MARK` line that bench/wrk/mix.lua's done() prints."""
    for line in text.splitlines():
        if line.startswith(WRK_MARK):
            report: dict[str, Any] = json.loads(line[len(WRK_MARK) :])
            return report
    raise ValueError(f"wrk printed no {WRK_MARK.strip()} line (is bench/wrk/mix.lua's done() running?)")


def wrk_stats(report: dict[str, Any]) -> dict[str, Any]:
    """A wrk report in the shapes `serve_and_drive` reports: latency percentiles in ms, responses
    by status, socket errors (non-zero ones), requests issued by kind, cache outcomes by kind."""
    latency = report.get("latency_us", {})
    cache: dict[str, Counter[str]] = {kind: Counter() for kind in set(MIX)}
    for slot, n in report.get("cache", {}).items():
        kind, _, outcome = slot.partition(":")
        cache.setdefault(kind, Counter())[outcome] += n
    errors = report.get("errors", {})
    return {
        "latency_ms": {
            name: round(latency[name] / 1000, 2)
            for name in ("p50", "p90", "p95", "p99", "p99.9", "mean", "max")
            if latency.get(name) is not None
        },
        "status": Counter({int(code): n for code, n in report.get("status", {}).items()}),
        "connection_errors": Counter({k: errors[k] for k in WRK_SOCKET_ERRORS if errors.get(k)}),
        "requests_by_endpoint": dict(report.get("issued", {})),
        "cache": cache,
    }


class QuerySpace:
    """Requests ranked by popularity and drawn Zipf-like (see the module docstring).

    `search()` returns query parameters, `suggest()` a prefix; both deterministic for a seed."""

    def __init__(self, seed: int, phrases: Sequence[str] = (), s: float = ZIPF_S) -> None:
        rng = random.Random(seed)
        pairs = (f"{a} {b}" for a in WORDS for b in WORDS if a != b)
        texts = list(dict.fromkeys([*WORDS, *phrases, *pairs]))
        self.searches = [{"q": text, **variant} for text in texts for variant in _distinct(FILTERS)]
        rng.shuffle(self.searches)
        self.prefixes = sorted({word[:n] for word in WORDS for n in range(2, 6)})
        rng.shuffle(self.prefixes)
        self._search_weights = _zipf_cumulative(len(self.searches), s)
        self._prefix_weights = _zipf_cumulative(len(self.prefixes), s)

    def search(self, rng: random.Random) -> dict[str, str]:
        return self.searches[_draw(self._search_weights, rng)]

    def suggest(self, rng: random.Random) -> str:
        return self.prefixes[_draw(self._prefix_weights, rng)]


def _distinct(variants: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for variant in variants:
        seen.setdefault(tuple(sorted(variant.items())), variant)
    return list(seen.values())


def _zipf_cumulative(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / rank**s for rank in range(1, n + 1)))


def _draw(cumulative: list[float], rng: random.Random) -> int:
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(instance: Path, corpus_docs: int | None = None, seed: int = 1) -> tuple[list[str], list[str]]:
    """Migrate, harvest the edX feed (or the generated corpus) into store and index; return some
    course ids and the catalogue's frequent title phrases (see `title_phrases`)."""
    os.environ["CATALOGUE_INSTANCE_PATH"] = str(instance)
    from course_catalogue.catalogue.model import first_text
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.services.pipeline import run_harvest
    from course_catalogue.services.runtime import get_services
    from course_catalogue.web.app import create_app

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
    sample = list(itertools.islice(services.store.iter_courses(), 5000))
    ids = [s.id for s in sample[:500]]
    phrases = title_phrases(first_text(s.course.title, ("en",)) for s in sample)
    services.close()
    return ids, phrases


def title_phrases(titles: Iterable[str], limit: int = PHRASES) -> list[str]:
    """The `limit` most frequent two-word phrases of course titles (words of 3+ letters, no
    stop words): what people type, and words that do occur together in the catalogue."""
    counts: Counter[str] = Counter()
    for title in titles:
        words = [w for w in re.findall(r"[^\W\d_]{3,}", title.lower()) if w not in STOP_WORDS]
        counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return [phrase for phrase, _ in counts.most_common(limit)]


def harvest_loop(instance: Path, stop: Any, done: Any, every: float = 0.0) -> None:
    """Harvest a 200-row slice of the feed as its own source, alternating two versions.

    Runs in its own process (spawned): in the client's process it would share the GIL with the
    asyncio clients and slow down the load generator rather than the servers. `every` > 0
    waits that many seconds between harvests (0: back to back)."""
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.services.jobs import run_harvest_exclusive
    from course_catalogue.services.runtime import get_services
    from course_catalogue.web.app import create_app

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
        if every > 0:
            stop.wait(every)
    services.close()


def draw(rng: random.Random, space: QuerySpace, ids: Sequence[str]) -> tuple[str, str, dict[str, str]]:
    """One request of the mix: its kind (see MIX), path and query parameters."""
    kind = rng.choice(MIX)
    if kind == "search":
        return kind, "/api/v1/search", space.search(rng)
    if kind == "detail":
        return kind, f"/api/v1/courses/{quote(rng.choice(ids), safe='')}", {}
    return kind, "/api/v1/suggest", {"q": space.suggest(rng)}


def write_paths(path: Path, space: QuerySpace, ids: Sequence[str], n: int, seed: int) -> Counter[str]:
    """Write `n` requests drawn from the mix (as `draw`, seeded) for bench/wrk/mix.lua: one a line,
    "<kind>\t<path with query string>". Returns how many of each kind were written."""
    rng = random.Random(seed)
    kinds: Counter[str] = Counter()
    with path.open("w", encoding="utf-8") as out:
        for _ in range(n):
            kind, target, params = draw(rng, space, ids)
            kinds[kind] += 1
            out.write(f"{kind}\t{target}?{urlencode(params)}\n" if params else f"{kind}\t{target}\n")
    return kinds


async def client(
    base: str, ids: list[str], until: float, rng: random.Random, space: QuerySpace, stats: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < until:
            kind, target, params = draw(rng, space, ids)
            request = http.get(target, params=params or None)
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
            outcome = response.headers.get(CACHE_HEADER)
            if outcome is not None:
                stats["cache"][kind][outcome] += 1
            if response.status_code >= 500:
                stats["errors_by_endpoint"][kind] += 1


async def drive(
    base: str, ids: list[str], space: QuerySpace, seconds: float, concurrency: int, seed: int
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "latencies": [],
        "by_endpoint": {},
        "status": Counter(),
        "errors_by_endpoint": Counter(),
        "connection_errors": Counter(),
        "cache": {kind: Counter() for kind in set(MIX)},
    }
    until = time.monotonic() + seconds
    rngs = [random.Random(seed * 1000 + i) for i in range(concurrency)]
    await asyncio.gather(*(client(base, ids, until, rng, space, stats) for rng in rngs))
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


def _cpu_s(pid: int | None) -> float:
    """CPU seconds of a live process so far (0 when it is gone or not started)."""
    try:
        return _proc(pid)["cpu_s"] if pid else 0.0
    except (OSError, IndexError, ValueError):
        return 0.0


def _workers(server: subprocess.Popen[bytes]) -> dict[int, dict[str, float]]:
    found = {}
    for pid in _children(server.pid):
        try:
            found[pid] = _proc(pid)
        except (OSError, IndexError, ValueError):
            continue  # a worker that just exited
    return found


def run(
    seconds: float,
    concurrency: int,
    workers: int,
    instance: Path,
    seed: int,
    corpus_docs: int | None = None,
    cache: str = "both",
    harvest_every: float = 0.0,
    server: ServerSettings | None = None,
    client: str = "httpx",
    wrk: WrkSettings | None = None,
) -> dict[str, Any]:
    server = server or ServerSettings()
    wrk = (wrk or WrkSettings()) if client == "wrk" else None
    if wrk is not None and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench-deps` (Debian: apt-get install wrk)")
    setup_started = time.monotonic()
    ids, phrases = prepare(instance, corpus_docs, seed)
    space = QuerySpace(seed, phrases)
    paths_file, drawn = None, None
    if wrk is not None:
        paths_file = instance / "wrk-paths.txt"
        drawn = write_paths(paths_file, space, ids, wrk.paths, seed)
    setup_s = time.monotonic() - setup_started
    runs = {}
    for setting in ("on", "off") if cache == "both" else (cache,):
        runs[f"cache_{setting}"] = serve_and_drive(
            seconds,
            concurrency,
            workers,
            instance,
            seed,
            ids,
            space,
            cache_on=setting == "on",
            harvest_every=harvest_every,
            server=server,
            wrk=wrk,
            paths_file=paths_file,
        )
    status: Counter[str] = Counter()
    connection_errors: Counter[str] = Counter()
    for figures in runs.values():
        status.update(figures["status"])
        connection_errors.update(figures["connection_errors"])
    return {
        "machine": describe_machine(),
        "client": client,
        **({"wrk_paths": dict(sorted(drawn.items())), "wrk_threads": wrk.threads} if wrk and drawn else {}),
        "corpus": f"generated {corpus_docs} records" if corpus_docs else "edX fixture",
        "detail_ids": len(ids),
        "setup_s": round(setup_s, 1),
        "concurrency": concurrency,
        "workers": workers,
        "worker_class": server.worker_class,
        "threads": server.threads,
        "keep_alive_s": server.keep_alive,
        "zipf_s": ZIPF_S,
        "distinct_searches": len(space.searches),
        "harvest_every_s": harvest_every,
        "runs": runs,
        "requests": sum(figures["requests"] for figures in runs.values()),
        "status": dict(sorted(status.items())),
        "errors_5xx": sum(figures["errors_5xx"] for figures in runs.values()),
        "connection_errors": dict(connection_errors),
        "harvests_completed": sum(figures["harvests_completed"] for figures in runs.values()),
    }


def serve_and_drive(
    seconds: float,
    concurrency: int,
    workers: int,
    instance: Path,
    seed: int,
    ids: list[str],
    space: QuerySpace,
    *,
    cache_on: bool,
    harvest_every: float = 0.0,
    server: ServerSettings | None = None,
    wrk: WrkSettings | None = None,
    paths_file: Path | None = None,
) -> dict[str, Any]:
    """One measured run: start gunicorn (search cache on or off) and the harvest loop, drive it
    with the httpx clients or, given `wrk` settings and a `paths_file` (`write_paths`), with wrk."""
    server = server or ServerSettings()
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CATALOGUE_INSTANCE_PATH": str(instance), "CATALOGUE_RATELIMIT_ANONYMOUS": ""}
    env["CATALOGUE_SECRET_KEY"] = "load-test"
    if not cache_on:
        env["CATALOGUE_SEARCH_CACHE_SIZE"] = "0"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        *server.options(),
    ]
    gunicorn = subprocess.Popen(
        [*command, "--log-level", "warning", "course_catalogue.web.app:create_app()"], cwd=ROOT, env=env
    )
    spawn = multiprocessing.get_context("spawn")
    stop, harvests = spawn.Event(), spawn.Value("i", 0)
    harvester = spawn.Process(target=harvest_loop, args=(instance, stop, harvests, harvest_every))
    extra: dict[str, Any] = {}
    try:
        wait_ready(base, gunicorn)
        harvester.start()
        before = _workers(gunicorn)
        harvest_cpu = _cpu_s(harvester.pid)
        if wrk is not None and paths_file is not None:
            command = wrk_command(base, seconds, concurrency, wrk, paths_file)
            started, children = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
            completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
            wall = time.monotonic() - started
            after = _workers(gunicorn)
            harvest_cpu = _cpu_s(harvester.pid) - harvest_cpu
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped
            client_cpu = usage.ru_utime + usage.ru_stime - children.ru_utime - children.ru_stime
            if completed.returncode != 0:
                raise SystemExit(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
            report = parse_wrk_output(completed.stdout)
            stats = wrk_stats(report)
            elapsed = report["duration_us"] / 1e6
            extra = {
                "wrk": {
                    "command": " ".join(["wrk", *command[1:]]),
                    "threads": report.get("threads"),
                    "wall_s": round(wall, 1),
                    "bytes": report.get("bytes"),
                    "errors": report.get("errors", {}),
                    "latency_us": report.get("latency_us", {}),
                    "output": [ln for ln in completed.stdout.splitlines() if not ln.startswith(WRK_MARK)],
                }
            }
        else:
            started, client_cpu = time.monotonic(), time.process_time()
            stats = asyncio.run(drive(base, ids, space, seconds, concurrency, seed))
            elapsed, client_cpu = time.monotonic() - started, time.process_time() - client_cpu
            after = _workers(gunicorn)
            harvest_cpu = _cpu_s(harvester.pid) - harvest_cpu
    finally:
        stop.set()
        if harvester.is_alive():
            harvester.join()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    requests = sum(stats["status"].values())
    worker_cpu = sum(a["cpu_s"] - before.get(pid, {"cpu_s": 0.0})["cpu_s"] for pid, a in after.items())
    cores = os.cpu_count() or 1
    if "latency_ms" in stats:  # wrk: percentiles from its histogram, requests by kind as issued
        searches = stats["requests_by_endpoint"].get("search", 0)
        latency = stats["latency_ms"]
        by_endpoint = {kind: {"requests": n} for kind, n in sorted(stats["requests_by_endpoint"].items())}
        errors_by_endpoint = None  # a wrk response cannot be told apart by endpoint
    else:
        searches = len(stats["by_endpoint"].get("search", []))
        latency = percentiles(stats["latencies"])
        by_endpoint = {
            kind: {"requests": len(v), **percentiles(v)} for kind, v in sorted(stats["by_endpoint"].items())
        }
        errors_by_endpoint = dict(stats["errors_by_endpoint"])
    return {
        "client": "wrk" if wrk is not None and paths_file is not None else "httpx",
        "search_cache": "on" if cache_on else "off",
        "seconds": round(elapsed, 1),
        "requests": requests,
        "throughput_rps": round(requests / elapsed, 1),
        "throughput_rps_per_core": round(requests / elapsed / cores, 1),
        "requests_per_worker_cpu_s": round(requests / worker_cpu, 1) if worker_cpu else None,
        "searches_per_s_per_core": round(searches / elapsed / cores, 1),
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_cpu_ms_per_request": round(1000 * worker_cpu / requests, 2) if requests else None,
        "worker_peak_rss_mb": [a["peak_rss_mb"] for a in after.values()],
        "load_generator_cpu_s": round(client_cpu, 1),
        "harvest_process_cpu_s": round(harvest_cpu, 1),
        "latency_ms": latency,
        "latency_ms_by_endpoint": by_endpoint,
        "cache_hit_rate": _hit_rates(stats["cache"]),
        "errors_5xx_by_endpoint": errors_by_endpoint,
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "errors_5xx": sum(v for k, v in stats["status"].items() if k >= 500),
        "connection_errors": dict(stats["connection_errors"]),
        "harvests_completed": harvests.value,
        **extra,
    }


def _hit_rates(cache: dict[str, Counter[str]]) -> dict[str, float | None]:
    """Share of answers the servers' search cache gave, per endpoint that reports it."""
    rates: dict[str, float | None] = {}
    for kind, outcomes in sorted(cache.items()):
        answered = outcomes["hit"] + outcomes["miss"]
        if answered:
            rates[kind] = round(outcomes["hit"] / answered, 3)
    return rates


def summary(result: dict[str, Any]) -> str:
    """One line per run: the figures to compare."""
    lines = []
    for name, r in result["runs"].items():
        lat = r["latency_ms"]
        lines.append(
            f"{name}: {r['requests']} requests in {r['seconds']} s, {r['throughput_rps']} req/s "
            f"({r['throughput_rps_per_core']} per core, {r['requests_per_worker_cpu_s']} per worker "
            f"CPU-second, {r['worker_cpu_ms_per_request']} ms worker CPU each), p50/p95/p99 "
            f"{lat.get('p50')}/{lat.get('p95')}/{lat.get('p99')} ms, cache hit rate {r['cache_hit_rate']}, "
            f"harvests {r['harvests_completed']}, 5xx {r['errors_5xx']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instance", type=Path, help="Instance directory (default: a new temp dir).")
    parser.add_argument("--corpus-docs", type=int, help="Serve the generated N-record corpus, not edX.")
    parser.add_argument(
        "--cache",
        choices=("both", "on", "off"),
        default="both",
        help="Runs with the servers' search cache on and/or off (default: both, one after the other).",
    )
    parser.add_argument(
        "--harvest-every", type=float, default=0.0, help="Seconds between harvests (default 0: back to back)."
    )
    defaults = ServerSettings()
    parser.add_argument(
        "--worker-class",
        default=defaults.worker_class,
        help=f"gunicorn worker class (default: {defaults.worker_class}; sync closes every connection).",
    )
    parser.add_argument("--threads", type=int, default=defaults.threads, help="gunicorn threads per worker.")
    parser.add_argument(
        "--keep-alive", type=int, default=defaults.keep_alive, help="gunicorn keep-alive seconds."
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "wrk"),
        default="httpx",
        help="Load generator: httpx asyncio clients in this process (default) or wrk with "
        "bench/wrk/mix.lua (`make bench-deps` installs it; C, so it leaves the servers more CPU).",
    )
    wrk_defaults = WrkSettings()
    parser.add_argument(
        "--wrk-threads", type=int, default=wrk_defaults.threads, help="wrk threads (--client wrk)."
    )
    parser.add_argument(
        "--wrk-paths",
        type=int,
        default=wrk_defaults.paths,
        help="Requests drawn from the mix for wrk to cycle through (--client wrk).",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load.json")
    args = parser.parse_args(argv)
    instance = args.instance or Path(tempfile.mkdtemp(prefix="catalogue-load-"))
    result = run(
        args.seconds,
        args.concurrency,
        args.workers,
        instance,
        args.seed,
        args.corpus_docs,
        cache=args.cache,
        harvest_every=args.harvest_every,
        server=ServerSettings(args.worker_class, args.threads, args.keep_alive),
        client=args.client,
        wrk=WrkSettings(threads=args.wrk_threads, paths=args.wrk_paths),
    )
    result["command"] = " ".join(["python -m bench.load", *(sys.argv[1:] if argv is None else argv)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(summary(result))
    return result


if __name__ == "__main__":
    main()
