"""Soak: a served instance under harvests, pushes, scheme updates, reindexes and random SIGKILLs,
then a check that store and index agree exactly and that nothing published was lost.

    nice -n 10 .venv/bin/python -m bench.soak --seconds 1800 --kill-every 20      # RELIABILITY.md
    .venv/bin/python -m bench.soak --seconds 45 --kill-every 6 --rows 300          # the test suite's
    make soak                                                                      # SOAK_SECONDS=1800

The instance (a temp directory, or --instance) is the embedded default: SQLite store, tantivy
index, filesystem Celery broker. It is served by gunicorn (--workers processes, the default
30 s timeout, no preload) and a `catalogue worker` (Celery worker + beat: scheme evaluation
jobs, the outbox drain and job resumption); scheme evaluations run on the worker
(`SCHEME_JOBS=worker`). For --seconds, a few operation threads run, concurrently:
* harvests of --sources pulled sources by `catalogue harvest` processes (feeds of a random
  95-100% of --rows courses, titles tagged with a version: some courses are withdrawn, some come
  back); those picked for a kill get SIGKILL 0.2-6 s after they start (before, during or after
  their commit);
* pushes by a provider account over the API: a dry run, then its confirm;
* scheme rule changes over the API (202; evaluated by the worker, superseding each other);
* `catalogue reindex` processes;
* searches, suggestions and scheme reads over the API all along (every status is counted);
* every --kill-every seconds (on average) a SIGKILL: a harvest process (above; a third of the
  kills), a gunicorn worker (the master starts another), a worker pool process, or the whole
  worker (restarted like a supervisor would).
Then the load stops, the worker is running, and nothing is done by hand: the soak waits (at
most --settle seconds) until no scheme job is in progress and the index outbox is empty, and
checks:
* index vs store: every course's indexed (version, status) equals the store's (the version is
  the course's seq, or its newest eligibility seq: search.sync), so every active course is
  searchable with its current content and no withdrawn course is searchable as active;
* the API agrees: paging through every active course by cursor gives exactly the store's active
  ids, and `funding=<scheme>` exactly the scheme's eligible set;
* nothing published was lost: for each source, the store holds exactly the last feed whose
  publication succeeded, or one attempted after it whose process was killed (its commit may
  have happened or not: either is whole);
* `catalogue repair --dry-run` finds no drift.
Every discrepancy is counted and listed; 5xx answers are counted (connection errors from a
killed worker separately). Figures go to stdout and bench/out/soak.json; the exit status is 1
when a discrepancy or a 5xx was found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.machine import describe_machine

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "soak.json"
HEADER = ["title", "summary", "institution", "language", "price", "course_description", "course_url"]
INSTITUTIONS = [f"Institution {i}" for i in range(37)]
PUSH_SOURCE = "zed-push"
SCHEME = "fund"


@dataclass(frozen=True)
class Plan:
    seconds: float = 60.0
    kill_every: float = 20.0
    sources: int = 3
    rows: int = 1500
    push_rows: int = 300
    workers: int = 2
    settle: float = 600.0
    seed: int = 1


@dataclass
class Figures:
    operations: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    status: Counter[int] = field(default_factory=Counter)
    errors_5xx: list[str] = field(default_factory=list)
    connection_errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, op: str) -> None:
        with self.lock:
            self.operations[op] += 1

    def killed(self, what: str) -> None:
        with self.lock:
            self.kills[what] += 1

    def answer(self, response: httpx.Response) -> None:
        with self.lock:
            self.status[response.status_code] += 1
            if response.status_code >= 500:
                self.errors_5xx.append(
                    f"{response.request.method} {response.request.url.path}: {response.text[:200]}"
                )


def write_feed(path: Path, refs: list[int], version: str, source: str) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in refs:
            writer.writerow(
                [
                    f"Course {i} of {source} {version}",
                    f"Summary of course {i}, version {version}",
                    INSTITUTIONS[i % len(INSTITUTIONS)],
                    "English",
                    "FREE",
                    f"A description of course {i} of {source} in version {version}. " * 2,
                    f"https://{source}.example.org/course/{i}",
                ]
            )
    return path


class Published:
    """Per source, the states the store may legitimately hold: the last feed published for sure,
    and every feed attempted after it whose outcome is unknown (its process was killed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, list[tuple[frozenset[str], str]]] = {}

    def succeeded(self, source: str, state: tuple[frozenset[str], str]) -> None:
        with self._lock:
            self._states[source] = [state]

    def maybe(self, source: str, state: tuple[frozenset[str], str]) -> None:
        with self._lock:
            self._states.setdefault(source, []).append(state)

    def unknown(self, source: str) -> None:
        """A state the soak cannot predict (a HELD run): this source is not checked any more."""
        with self._lock:
            self._states[source] = []

    def allowed(self, source: str) -> list[tuple[frozenset[str], str]]:
        with self._lock:
            return list(self._states.get(source, []))


class Soak:
    def __init__(self, instance: Path, plan: Plan) -> None:
        self.instance = instance
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.rng_lock = threading.Lock()
        self.figures = Figures()
        self.published = Published()
        self.stop = threading.Event()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
        self.env.update(
            {
                "CATALOGUE_INSTANCE_PATH": str(instance),
                "CATALOGUE_SECRET_KEY": "soak",
                "CATALOGUE_RATELIMIT_ANONYMOUS": "",
                "CATALOGUE_SCHEME_JOBS": "worker",
                "CATALOGUE_BACKGROUND_SECONDS": "5",
                "CATALOGUE_SCHEME_JOB_STALE_SECONDS": "15",
            }
        )
        self.catalogue = str(Path(sys.executable).with_name("catalogue"))
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.versions: Counter[str] = Counter()
        self.harvests: dict[str, threading.Lock] = {}

    # --- helpers ---------------------------------------------------------------------------------

    def choice(self, items: list[Any]) -> Any:
        with self.rng_lock:
            return self.rng.choice(items)

    def uniform(self, low: float, high: float) -> float:
        with self.rng_lock:
            return self.rng.uniform(low, high)

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.catalogue, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def request(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response | None:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        try:
            response = httpx.request(method, self.base + path, headers=headers, timeout=120, **kwargs)
        except httpx.HTTPError as exc:  # a killed worker drops its connections
            with self.figures.lock:
                self.figures.connection_errors[type(exc).__name__] += 1
            return None
        self.figures.answer(response)
        return response

    def feed(self, source: str, rows: int, *, low: float = 0.95) -> tuple[Path, frozenset[str], str]:
        """A new version of the source's feed: a random 95-100% of its courses (so a run withdraws
        under 10% of them: the mass-withdrawal guard holds no run of the soak)."""
        with self.rng_lock:
            self.versions[source] += 1
            version = f"v{self.versions[source]}"
            kept = sorted(self.rng.sample(range(rows), int(rows * self.rng.uniform(low, 1.0))))
        path = write_feed(self.instance / "feeds" / f"{source}-{version}.csv", kept, version, source)
        refs = frozenset(f"https://{source}.example.org/course/{i}" for i in kept)
        return path, refs, version

    # --- setup -----------------------------------------------------------------------------------

    def setup(self) -> None:
        (self.instance / "feeds").mkdir(parents=True, exist_ok=True)
        _check(self.cli("init"))
        from course_catalogue.catalogue.account_store import AccountStore
        from course_catalogue.catalogue.accounts import Role
        from course_catalogue.catalogue.sources import Source
        from course_catalogue.catalogue.store import CatalogueStore

        store = CatalogueStore(f"sqlite:///{self.instance / 'catalogue.db'}")
        try:
            accounts = AccountStore(store)
            for account, role in (("ops", Role.ADMIN), ("zed", Role.PROVIDER), ("reg", Role.REGISTRY)):
                accounts.create_account(account, account.title(), role)
                self.tokens[account] = accounts.issue_token(account, "soak").plaintext
            for name in INSTITUTIONS:  # zed is entitled to every institution its feeds name
                accounts.grant_organisation("zed", name)
            store.save_source(Source(PUSH_SOURCE, "csv", name="Zed", mapping="edx-csv", owner="zed"))
        finally:
            store.close()
        for n in range(self.plan.sources):
            source = f"pull{n}"
            self.harvests[source] = threading.Lock()
            path, refs, version = self.feed(source, self.plan.rows, low=1.0)
            _check(self.cli("harvest", "--file", str(path), "--mapping", "edx-csv", "--source", source))
            self.published.succeeded(source, (refs, version))

    def start_server(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(self.plan.workers),
            "-b",
            f"127.0.0.1:{self.port}",
        ]
        self.gunicorn = subprocess.Popen(
            [*command, "--log-level", "warning", "course_catalogue.web.app:create_app()"],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit("gunicorn did not answer")

    def start_worker(self) -> None:
        with self.worker_lock:
            if self.worker is not None and self.worker.poll() is None:
                return
            self.worker = subprocess.Popen(
                [self.catalogue, "worker", "-c", "2", "--loglevel", "warning"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # killed as a group: the whole worker "host" crashes
            )

    # --- operations ------------------------------------------------------------------------------

    def harvest(self, kill: bool) -> None:
        source = self.choice(sorted(self.harvests))
        with self.harvests[source]:  # one harvest per source from here: the lock test is elsewhere
            path, refs, version = self.feed(source, self.plan.rows)
            args = [
                self.catalogue,
                "harvest",
                "--file",
                str(path),
                "--mapping",
                "edx-csv",
                "--source",
                source,
                "--json",
            ]
            child = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            if kill:
                time.sleep(self.uniform(0.2, 6.0))
                if child.poll() is None:
                    child.kill()
                    self.figures.killed("harvest process")
            out, err = child.communicate(timeout=600)
            status = _run_status(out.decode()) if child.returncode == 0 else None
            if status == "succeeded":
                self.published.succeeded(source, (refs, version))
                self.figures.count("harvest")
            elif child.returncode == 0:  # held by the mass-withdrawal guard: withdrawals not applied
                self.figures.count(f"harvest {status}")
                print(f"harvest of {source} ended {status}: the published state is not checked", flush=True)
                self.published.unknown(source)
            elif child.returncode == -signal.SIGKILL:
                self.published.maybe(source, (refs, version))
                self.figures.count("harvest killed")
            else:
                self.figures.count(f"harvest exit {child.returncode}")
                if child.returncode not in (1, 3):
                    print(f"harvest of {source} exited {child.returncode}: {err.decode()[-300:]}", flush=True)

    def push(self) -> None:
        path, refs, version = self.feed(PUSH_SOURCE, self.plan.push_rows)
        headers = {"Content-Type": "text/csv"}
        dry = self.request(
            "POST", f"/api/v1/sources/{PUSH_SOURCE}/feed", "zed", content=path.read_bytes(), headers=headers
        )
        if dry is None or dry.status_code != 200:
            self.figures.count("push refused")
            return
        staged = dry.json()["staged"]["id"]
        confirmed = self.request("POST", f"/api/v1/sources/{PUSH_SOURCE}/feed/{staged}/confirm", "zed")
        if confirmed is None:
            self.published.maybe(PUSH_SOURCE, (refs, version))
            self.figures.count("push interrupted")
        elif confirmed.status_code == 200 and confirmed.json()["run"]["status"] == "succeeded":
            self.published.succeeded(PUSH_SOURCE, (refs, version))
            self.figures.count("push + confirm")
        else:
            self.figures.count(f"confirm {confirmed.status_code}")

    def change_scheme(self) -> None:
        with self.rng_lock:
            names = sorted(self.rng.sample(INSTITUTIONS, self.rng.randint(5, 30)))
        rules = [{"id": "provider", "field": "provider.name", "op": "in", "value": names}]
        answer = self.request("PATCH", f"/api/v1/schemes/{SCHEME}", "reg", json={"rules": rules})
        self.figures.count(
            "scheme update"
            if answer is not None and answer.status_code in (200, 202)
            else "scheme update failed"
        )

    def reindex(self) -> None:
        done = self.cli("reindex")
        self.figures.count("reindex" if done.returncode == 0 else f"reindex exit {done.returncode}")

    def kill_something(self, target: str | None = None) -> None:
        target = target or self.choice(
            [
                "harvest process",
                "harvest process",
                "gunicorn worker",
                "gunicorn worker",
                "worker process",
                "worker",
            ]
        )
        if target == "harvest process":
            self.harvest(kill=True)
        elif target == "gunicorn worker" and self.gunicorn is not None:
            pids = _children(self.gunicorn.pid)
            if pids:
                _kill(self.choice(pids))
                self.figures.killed(target)
        elif target == "worker process" and self.worker is not None:
            pids = _children(self.worker.pid)
            if pids:
                _kill(self.choice(pids))
                self.figures.killed(target)
        elif target == "worker" and self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=60)
            self.figures.killed("worker (whole)")
            time.sleep(self.uniform(1, 5))  # then the supervisor starts it again
            self.start_worker()

    def searcher(self) -> None:
        words = ["course", "summary", "description", "institution", "version", "english", "free"]
        while not self.stop.is_set():
            kind = self.choice(["search", "search", "funding", "suggest", "scheme", "detail"])
            if kind == "search":
                self.request(
                    "GET", "/api/v1/search", params={"q": self.choice(words), "page": self.choice(["1", "2"])}
                )
            elif kind == "funding":
                self.request("GET", "/api/v1/search", params={"funding": SCHEME})
            elif kind == "suggest":
                self.request("GET", "/api/v1/suggest", params={"q": self.choice(["cour", "inst", "summ"])})
            elif kind == "scheme":
                self.request("GET", f"/api/v1/schemes/{SCHEME}")
            else:
                found = self.request("GET", "/api/v1/search", params={"page_size": 5})
                hits = found.json()["hits"] if found is not None and found.status_code == 200 else []
                if hits:
                    self.request("GET", f"/api/v1/courses/{self.choice(hits)['id']}")
            self.stop.wait(0.1)

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.setup()
        self.start_server()
        self.start_worker()
        rules = [{"id": "provider", "field": "provider.name", "op": "in", "value": INSTITUTIONS[:18]}]
        created = self.request(
            "POST", "/api/v1/schemes", "reg", json={"id": SCHEME, "name": "Fund", "rules": rules}
        )
        if created is None or created.status_code != 202:
            raise SystemExit(f"could not create the scheme: {created and created.text}")
        setup_s = time.monotonic() - started
        searchers = [threading.Thread(target=self.searcher, daemon=True) for _ in range(2)]
        for thread in searchers:
            thread.start()
        load_started = time.monotonic()
        until = load_started + self.plan.seconds
        next_kill = load_started + self.uniform(0.5, 1.5) * self.plan.kill_every
        ops: list[tuple[float, Callable[[], None]]] = [
            (0.45, lambda: self.harvest(kill=False)),
            (0.25, self.push),
            (0.15, self.change_scheme),
            (0.10, self.reindex),
        ]
        # every kind of operation and of kill comes once first (a short run covers them all), then at random
        first_ops = [op for _, op in ops]
        first_kills = ["harvest process", "gunicorn worker", "worker process", "worker"]
        with ThreadPoolExecutor(max_workers=3) as pool:
            pending: set[Any] = set()
            while time.monotonic() < until:
                for done in [f for f in pending if f.done()]:
                    done.result()  # an operation's own bug stops the soak
                pending = {f for f in pending if not f.done()}
                if time.monotonic() >= next_kill:
                    target = first_kills.pop(0) if first_kills else None
                    pending.add(pool.submit(self.kill_something, target))
                    next_kill = time.monotonic() + self.uniform(0.5, 1.5) * self.plan.kill_every
                if len(pending) < 3:
                    if first_ops:
                        pending.add(pool.submit(first_ops.pop(0)))
                    else:
                        with self.rng_lock:
                            pick = self.rng.random()
                        for weight, op in ops:
                            if pick < weight:
                                pending.add(pool.submit(op))
                                break
                            pick -= weight
                time.sleep(self.uniform(0.5, 2.0))
            for future in pending:
                future.result()
        load_s = time.monotonic() - load_started
        self.stop.set()
        for thread in searchers:
            thread.join(timeout=60)
        self.start_worker()  # running, as a supervisor keeps it; nothing else is done by hand
        settled_in = self.settle()
        result = {
            "command": " ".join(sys.argv),
            "machine": describe_machine(),
            "plan": self.plan.__dict__,
            "setup_s": round(setup_s, 1),
            "load_s": round(load_s, 1),
            "settled_in_s": settled_in,
            "operations": dict(self.figures.operations),
            "operations_total": sum(self.figures.operations.values()),
            "kills": dict(self.figures.kills),
            "kills_total": sum(self.figures.kills.values()),
            "http_status": {str(k): v for k, v in sorted(self.figures.status.items())},
            "requests": sum(self.figures.status.values()),
            "errors_5xx": len(self.figures.errors_5xx),
            "errors_5xx_sample": self.figures.errors_5xx[:10],
            "connection_errors": dict(self.figures.connection_errors),
        }
        result.update(self.verify())
        return result

    def shutdown(self) -> None:
        for process in (self.gunicorn, self.worker):
            if process is not None and process.poll() is None:
                if process is self.worker:
                    os.killpg(process.pid, signal.SIGTERM)
                else:
                    process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()

    # --- after the load --------------------------------------------------------------------------

    def settle(self) -> float | None:
        """Seconds until no scheme job is in progress and the outbox is empty (None: not within
        --settle). The worker and the web processes do it; the soak only watches."""
        from course_catalogue.catalogue.schema import index_outbox, scheme_jobs

        engine = sa.create_engine(f"sqlite:///{self.instance / 'catalogue.db'}")
        started = time.monotonic()
        try:
            while time.monotonic() - started < self.plan.settle:
                with engine.connect() as conn:
                    jobs = conn.execute(
                        sa.select(sa.func.count()).where(scheme_jobs.c.status.in_(["queued", "running"]))
                    ).scalar_one()
                    pending = conn.execute(sa.select(sa.func.count()).select_from(index_outbox)).scalar_one()
                if not jobs and not pending:
                    return round(time.monotonic() - started, 1)
                httpx.get(f"{self.base}/api/v1/health", timeout=30)  # web processes start their threads
                time.sleep(1)
        finally:
            engine.dispose()
        return None

    def verify(self) -> dict[str, Any]:
        from course_catalogue.catalogue.changes import CourseStatus
        from course_catalogue.catalogue.eligibility_store import EligibilityStore
        from course_catalogue.catalogue.store import CatalogueStore
        from course_catalogue.search.sync import index_facts
        from course_catalogue.search.tantivy.backend import EmbeddedBackend

        found: dict[str, list[str]] = {}
        store = CatalogueStore(f"sqlite:///{self.instance / 'catalogue.db'}")
        index = EmbeddedBackend(self.instance / "data" / "index")
        try:
            eligibility = EligibilityStore(store)
            courses = list(store.iter_courses(include_withdrawn=True))
            facts = index_facts([c.id for c in courses], eligibility)
            expected = {c.id: (max(c.seq, facts.get(c.id, ((), 0))[1]), str(c.status)) for c in courses}
            inventory = index.inventory()
            found["index"] = [
                f"{cid}: store {expected.get(cid)} index {inventory.get(cid)}"
                for cid in sorted(set(expected) | set(inventory))
                if expected.get(cid) != inventory.get(cid)
            ]
            active = {c.id for c in courses if c.status is CourseStatus.ACTIVE}
            served = self._page_all({})
            found["search_api"] = [f"active, not served: {cid}" for cid in sorted(active - served)] + [
                f"served, not active: {cid}" for cid in sorted(served - active)
            ]
            eligible = set(eligibility.eligible_course_ids(SCHEME))
            funded = self._page_all({"funding": SCHEME})
            found["funding"] = sorted(eligible ^ funded)
            found["published"] = []
            for source in sorted([*self.harvests, PUSH_SOURCE]):
                mine = [
                    c
                    for c in courses
                    if c.course.provenance.source_id == source and c.status is CourseStatus.ACTIVE
                ]
                refs = frozenset(c.course.provenance.provider_ref for c in mine)
                tags = {c.course.title["en"].rsplit(" ", 1)[1] for c in mine}
                allowed = self.published.allowed(source)
                state_ok = any(refs == want and tags <= {version} for want, version in allowed)
                if not state_ok and allowed:
                    found["published"].append(
                        f"{source}: {len(refs)} active, versions {sorted(tags)}; "
                        f"allowed {[(len(r), v) for r, v in allowed]}"
                    )
        finally:
            index.close()
            store.close()
        repaired = self.cli("repair", "--dry-run", "--json")
        drift = json.loads(repaired.stdout)["drift"] if repaired.returncode == 0 else -1
        found["repair_dry_run"] = [] if drift == 0 else [f"catalogue repair --dry-run: drift {drift}"]
        return {
            "discrepancies": sum(len(v) for v in found.values()),
            "discrepancies_by_check": {k: len(v) for k, v in found.items()},
            "discrepancy_sample": {k: v[:10] for k, v in found.items() if v},
            "courses": len(expected),
            "active": len(active),
            "eligible": len(eligible),
        }

    def _page_all(self, params: dict[str, str]) -> set[str]:
        """Every hit of a search, by cursor."""
        ids: set[str] = set()
        query: dict[str, str] = {**params, "page_size": "100", "sort": "title"}
        while True:
            response = self.request("GET", "/api/v1/search", params=query)
            if response is None or response.status_code != 200:
                raise SystemExit(f"search failed while verifying: {response and response.text}")
            body = response.json()
            ids |= {hit["id"] for hit in body["hits"]}
            cursor = body.get("next_cursor")
            if not cursor or not body["hits"]:
                return ids
            query = {**params, "page_size": "100", "sort": "title", "cursor": cursor}


def _run_status(output: str) -> str | None:
    """The status of the run report `catalogue harvest --json` printed."""
    try:
        found = json.loads(output)
    except ValueError:
        return None
    status = found.get("status") if isinstance(found, dict) else None
    return str(status) if status is not None else None


def _check(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(done.args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it just exited
        os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=Plan.seconds, help="How long the load runs.")
    parser.add_argument(
        "--kill-every", type=float, default=Plan.kill_every, help="Mean seconds between kills."
    )
    parser.add_argument("--sources", type=int, default=Plan.sources, help="Pulled sources.")
    parser.add_argument("--rows", type=int, default=Plan.rows, help="Courses per pulled source.")
    parser.add_argument("--push-rows", type=int, default=Plan.push_rows, help="Courses of the pushed source.")
    parser.add_argument("--workers", type=int, default=Plan.workers, help="gunicorn workers.")
    parser.add_argument(
        "--settle", type=float, default=Plan.settle, help="Most seconds to wait for it to settle."
    )
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--instance", type=Path, help="Instance directory (default: a temp one, deleted).")
    parser.add_argument("--out", type=Path, default=OUT, help="Where the figures go (JSON).")
    args = parser.parse_args(argv)
    plan = Plan(
        args.seconds,
        args.kill_every,
        args.sources,
        args.rows,
        args.push_rows,
        args.workers,
        args.settle,
        args.seed,
    )
    instance = args.instance or Path(tempfile.mkdtemp(prefix="soak-"))
    soak = Soak(instance, plan)
    try:
        result = soak.run()
    finally:
        soak.shutdown()
        if args.instance is None:
            shutil.rmtree(instance, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    shown = {k: v for k, v in result.items() if k not in ("machine", "command")}
    print(json.dumps(shown, indent=2), flush=True)
    return 1 if result["discrepancies"] or result["errors_5xx"] or result["settled_in_s"] is None else 0


if __name__ == "__main__":
    raise SystemExit(main())
