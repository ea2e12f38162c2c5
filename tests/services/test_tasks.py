"""Scheduled harvests through Celery: the tasks run eagerly against a real app and store, and in a
real `celery worker` subprocess on the filesystem broker and on Redis (skipped locally without a
Redis server, a failure under CI=true)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from flask import Flask

from course_catalogue.catalogue.changes import ChangeSink
from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.schema import runs
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.stale_runs import INTERRUPTED
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services import tasks
from course_catalogue.services.jobs import due_sources, reap_stale_runs, retry_delay, schedule
from course_catalogue.services.locks import FileLocks, SourceLocks
from course_catalogue.services.pipeline import HarvestSettings
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app
from course_catalogue.web.celery_setup import celery_config, celery_init_app
from course_catalogue.web.cli import main
from tests.conftest import in_ci
from tests.services.test_locks import ROWS, small_feed

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(autouse=True)
def _no_catalogue_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CATALOGUE_"):
            monkeypatch.delenv(key)


# --- a feed served over real HTTP on 127.0.0.1 -----------------------------------------------


@dataclass
class FeedServer:
    url: str = ""
    body: bytes = field(default_factory=small_feed)
    status: int = 200
    requests: int = 0
    delay: float = 0.0  # seconds before answering


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    feed = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.requests += 1
            time.sleep(feed.delay)
            self.send_response(feed.status)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    feed.url = f"http://127.0.0.1:{server.server_address[1]}/edx.csv"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield feed
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- eager mode: the tasks in this process, with the app's real wiring -----------------------


@pytest.fixture
def flask_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {"TESTING": True, "ALLOW_PRIVATE_URLS": True, "BROKER_URL": "memory://", "HARVEST_RETRIES": 3},
        instance_path=str(tmp_path / "instance"),
    )
    get_services(app).store.migrate()
    yield app
    get_services(app).close()


@pytest.fixture
def celery(flask_app: Flask) -> Celery:
    found = celery_init_app(flask_app)
    found.conf.update(task_always_eager=True, task_eager_propagates=True)
    return found


@pytest.fixture
def store(flask_app: Flask) -> CatalogueStore:
    return get_services(flask_app).store


def register(store: CatalogueStore, source_id: str, url: str | None, every: int | None = None) -> Source:
    source = Source(id=source_id, format="csv", mapping="edx-csv", url=url, schedule_minutes=every)
    store.save_source(source)
    return source


def backdate(store: CatalogueStore, run_id: int | None, age: timedelta) -> None:
    with store.writing() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(started_at=datetime.now(UTC) - age))


def test_harvest_task_runs_the_pipeline_and_records_the_run(
    celery: Celery, flask_app: Flask, store: CatalogueStore, feed_server: FeedServer
) -> None:
    register(store, "edx", feed_server.url)
    result = celery.tasks[tasks.HARVEST].delay("edx", trigger="api").get(timeout=30)
    assert result["status"] == "succeeded" and result["error"] is None
    report = store.get_run(result["run_id"])
    assert report.status is RunStatus.SUCCEEDED and report.counts[Outcome.ADDED] == ROWS
    assert get_services(flask_app).backend.count() == ROWS  # the sinks ran: the index is in sync
    assert feed_server.requests == 1


def test_harvest_task_of_an_unknown_source_is_skipped(celery: Celery, store: CatalogueStore) -> None:
    result = celery.tasks[tasks.HARVEST].delay("gone").get(timeout=10)
    assert result["status"] == "unknown-source"
    assert store.list_runs() == []


def test_harvest_task_options_make_a_killed_worker_redeliver(celery: Celery, flask_app: Flask) -> None:
    task = celery.tasks[tasks.HARVEST]
    assert task.acks_late and task.reject_on_worker_lost
    assert celery.conf.task_soft_time_limit == flask_app.config["HARVEST_SOFT_TIME_LIMIT"] == 3300
    assert celery.conf.task_time_limit == flask_app.config["HARVEST_TIME_LIMIT"] == 3600
    assert {e["task"] for e in celery.conf.beat_schedule.values()} == {
        tasks.DISPATCH,
        tasks.REAP,
        tasks.DELIVER,
        tasks.DRAIN,  # index outbox and scheme jobs: tests/services/test_consistency_tasks.py
        tasks.RESUME,
    }


@dataclass
class Wiring:
    """A HarvestWiring with an injected transport (MockTransport: scripted HTTP answers)."""

    store: CatalogueStore
    locks: SourceLocks
    harvest_settings: HarvestSettings
    sinks: Sequence[ChangeSink] = ()


def scripted(*answers: tuple[int, bytes]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer requests in turn with (status, body); the last answer repeats."""
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, content=body)

    return handle


@pytest.fixture
def mock_feed(
    celery: Celery, store: CatalogueStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., list[int]]:
    """Script the feed's HTTP answers; returns the list the task's retry delays are recorded in."""
    delays: list[int] = []

    def recorded(retries: int, **kwargs: Any) -> float:
        delays.append(retries)
        return retry_delay(retries, **kwargs)

    monkeypatch.setattr(tasks, "retry_delay", recorded)
    register(store, "edx", "http://127.0.0.1:9/edx.csv", every=60)  # never run: due

    def install(*answers: tuple[int, bytes]) -> list[int]:
        settings = HarvestSettings(
            transport=httpx.MockTransport(scripted(*answers)), retries=0, allow_private=True
        )
        wiring = Wiring(store, FileLocks(tmp_path / "locks"), settings)
        celery.conf[tasks.WIRING] = lambda: wiring
        # eager propagation would raise celery's Retry; without it apply() runs the retry at once
        celery.conf.task_eager_propagates = False
        return delays

    return install


def statuses(store: CatalogueStore) -> list[RunStatus]:
    return [r.status for r in reversed(store.list_runs("edx"))]


def test_transient_fetch_failures_are_retried_with_backoff(
    celery: Celery, store: CatalogueStore, mock_feed: Callable[..., list[int]]
) -> None:
    delays = mock_feed((503, b"busy"), (502, b"bad gateway"), (200, small_feed()))
    result = celery.tasks[tasks.HARVEST].delay("edx").get(timeout=30)
    assert result["status"] == "succeeded"
    assert statuses(store) == [RunStatus.FAILED, RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert delays == [0, 1]  # the first retry waits about a minute, the second about two


def test_retries_stop_after_harvest_retries(
    celery: Celery, store: CatalogueStore, mock_feed: Callable[..., list[int]]
) -> None:
    delays = mock_feed((503, b"busy"))
    result = celery.tasks[tasks.HARVEST].delay("edx").get(timeout=30)
    assert result["status"] == "failed" and "503" in result["error"]
    assert statuses(store) == [RunStatus.FAILED] * 4  # the first attempt and HARVEST_RETRIES=3
    assert delays == [0, 1, 2]


@pytest.mark.parametrize(
    ("answer", "error"),
    [((200, b""), "the feed is empty"), ((404, b"gone"), "HTTP 404")],
    ids=["parse-error", "not-found"],
)
def test_failures_that_waiting_cannot_fix_are_not_retried(
    celery: Celery,
    store: CatalogueStore,
    mock_feed: Callable[..., list[int]],
    answer: tuple[int, bytes],
    error: str,
) -> None:
    delays = mock_feed(answer)
    result = celery.tasks[tasks.HARVEST].delay("edx").get(timeout=30)
    assert result["status"] == "failed" and error in result["error"]
    assert statuses(store) == [RunStatus.FAILED]
    assert delays == []


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap() -> None:
    assert [retry_delay(n, jitter=lambda: 1.0) for n in range(3)] == [60.0, 120.0, 240.0]
    assert retry_delay(0, jitter=lambda: 0.0) == 30.0  # jitter spans half to full
    assert retry_delay(20, jitter=lambda: 1.0) == 3600.0


# --- the dispatcher and the schedule ---------------------------------------------------------


def test_due_sources_are_the_scheduled_ones_not_started_within_their_interval(store: CatalogueStore) -> None:
    register(store, "never-run", "http://127.0.0.1:9/a.csv", every=60)
    register(store, "ran-recently", "http://127.0.0.1:9/b.csv", every=60)
    register(store, "ran-long-ago", "http://127.0.0.1:9/c.csv", every=60)
    register(store, "manual", "http://127.0.0.1:9/d.csv")  # no schedule
    register(store, "pushed", None, every=5)  # no URL to pull
    store.start_run("ran-recently")
    old = store.start_run("ran-long-ago")
    backdate(store, old.run_id, timedelta(minutes=61))
    dry = store.start_run("ran-long-ago", dry_run=True)  # a dry run harvests nothing: ignored
    assert dry.run_id is not None

    now = datetime.now(UTC)
    assert [e.source_id for e in due_sources(store, now)] == ["never-run", "ran-long-ago"]
    assert [e.source_id for e in schedule(store)] == ["never-run", "ran-long-ago", "ran-recently"]
    later = due_sources(store, now + timedelta(hours=2))
    assert [e.source_id for e in later] == ["never-run", "ran-long-ago", "ran-recently"]


def test_dispatcher_enqueues_only_due_sources(
    celery: Celery, store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(store, "due", "http://127.0.0.1:9/a.csv", every=30)
    register(store, "not-due", "http://127.0.0.1:9/b.csv", every=30)
    store.start_run("not-due")
    sent: list[tuple[Any, ...]] = []
    harvest = celery.tasks[tasks.HARVEST]
    monkeypatch.setattr(harvest, "apply_async", lambda *args, **kw: sent.append((args, kw)))

    assert celery.tasks[tasks.DISPATCH].delay().get(timeout=10) == ["due"]
    assert sent == [((("due",), {"trigger": "schedule"}), {"expires": 1800.0})]


def test_a_scheduled_harvest_that_is_no_longer_due_is_skipped(celery: Celery, store: CatalogueStore) -> None:
    register(store, "edx", "http://127.0.0.1:9/a.csv", every=30)
    ran = store.start_run("edx")  # e.g. a duplicate dispatch: the first one already ran
    result = celery.tasks[tasks.HARVEST].delay("edx", trigger="schedule").get(timeout=10)
    assert result["status"] == "not-due"
    assert [r.run_id for r in store.list_runs("edx")] == [ran.run_id]


def test_a_harvest_of_a_busy_source_is_skipped(
    celery: Celery, flask_app: Flask, store: CatalogueStore
) -> None:
    register(store, "edx", "http://127.0.0.1:9/a.csv")
    with get_services(flask_app).locks.hold("edx"):
        result = celery.tasks[tasks.HARVEST].delay("edx", trigger="api").get(timeout=10)
    assert result["status"] == "already-running"
    assert store.list_runs("edx") == []


# --- the reaper ------------------------------------------------------------------------------


def test_reaper_fails_old_running_runs_whose_source_nobody_holds(
    celery: Celery, flask_app: Flask, store: CatalogueStore
) -> None:
    for source_id in ("dead", "slow", "young"):
        register(store, source_id, None)
    dead, slow, young = (store.start_run(s) for s in ("dead", "slow", "young"))
    finished = store.start_run("dead")
    finished.status = RunStatus.SUCCEEDED
    store.finish_run(finished)  # a run that ended keeps its outcome
    for run in (dead, slow, finished):
        backdate(store, run.run_id, timedelta(hours=2))  # past the hard limit (1 h) + grace
    locks = get_services(flask_app).locks

    with locks.hold("slow"):  # a live (CLI) harvest that is merely slow
        assert celery.tasks[tasks.REAP].delay().get(timeout=10) == [dead.run_id]

    reaped = store.get_run(dead.run_id or 0)
    assert reaped.status is RunStatus.FAILED and reaped.error == INTERRUPTED
    assert reaped.finished_at is not None
    assert store.get_run(slow.run_id or 0).status is RunStatus.RUNNING
    assert store.get_run(young.run_id or 0).status is RunStatus.RUNNING
    assert store.get_run(finished.run_id or 0).status is RunStatus.SUCCEEDED
    assert reap_stale_runs(store, locks, datetime.now(UTC) - timedelta(hours=1)) == [slow.run_id]


# --- configuration and the CLI ---------------------------------------------------------------


def test_default_broker_is_the_filesystem_under_data_dir(tmp_path: Path) -> None:
    app = create_app(instance_path=str(tmp_path / "inst"))
    config = celery_config(app.config)
    data = Path(app.config["DATA_DIR"])
    assert config["broker_url"] == "filesystem://"
    assert config["result_backend"] == f"db+sqlite:///{data / 'celery-results.db'}"
    options = config["broker_transport_options"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(data / "celery" / "queue")
    assert options["polling_interval"] == 0.05
    assert Path(options["control_folder"]).is_dir()


def test_broker_url_env_switches_to_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOGUE_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("CATALOGUE_HARVEST_TIME_LIMIT", "1200")
    config = celery_config(create_app(instance_path=str(tmp_path / "inst")).config)
    assert config["broker_url"] == "redis://127.0.0.1:6379/3"
    assert config["task_time_limit"] == 1200
    # a redelivery must not overtake a harvest that is still running
    assert config["broker_transport_options"]["visibility_timeout"] > 1200


def test_cli_harvest_of_a_busy_source_exits_3(flask_app: Flask, store: CatalogueStore) -> None:
    register(store, "edx", "http://127.0.0.1:9/a.csv")
    with get_services(flask_app).locks.hold("edx"):
        result = flask_app.test_cli_runner().invoke(main, ["harvest", "--source", "edx"])
    assert result.exit_code == 3, result.output
    assert "already running" in result.output
    assert store.list_runs("edx") == []


def test_cli_schedule_shows_what_is_due(flask_app: Flask, store: CatalogueStore) -> None:
    register(store, "due", "http://127.0.0.1:9/a.csv", every=30)
    register(store, "later", "http://127.0.0.1:9/b.csv", every=30)
    store.start_run("later")
    runner = flask_app.test_cli_runner()
    shown = runner.invoke(main, ["schedule"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "due now" in lines[0] and lines[0].startswith("due ")
    assert "next " in lines[1] and lines[1].startswith("later ")
    only_due = runner.invoke(main, ["schedule", "--due"])
    assert only_due.output.splitlines() == lines[:1]


def test_cli_worker_starts_a_worker_with_embedded_beat(
    flask_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv: list[list[str]] = []
    monkeypatch.setattr(Celery, "worker_main", lambda self, args: argv.append(list(args)))
    result = flask_app.test_cli_runner().invoke(main, ["worker", "-c", "3"])
    assert result.exit_code == 0, result.output
    assert argv == [["worker", "--concurrency=3", "--loglevel=info", "--beat"]]


# --- a real worker process -------------------------------------------------------------------


@cache
def _redis_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as exc:  # any failure means "no server"
        return f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}: {exc}"
    return None


def require_redis() -> None:
    """Skip without a Redis server; fail under CI=true, where one must exist."""
    problem = _redis_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"{problem} (CI=true: the CI machine must provide Redis)")
    pytest.skip(problem)


@pytest.fixture
def redis_db() -> Iterator[str]:
    """URL of an empty Redis database (index 1-15), flushed after the test."""
    require_redis()
    import redis

    for index in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_URL}/{index}")
        if client.dbsize() == 0:
            client.set("catalogue-test-claim", "1")  # claim it before anyone else sees it empty
            try:
                yield f"{REDIS_URL}/{index}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    pytest.skip("no empty Redis database index to test in")


@dataclass
class Harness:
    """A running worker subprocess and this process's view of its instance."""

    celery: Celery
    store: CatalogueStore
    log: Path
    queue: str | None

    def harvest(self, timeout: float = 40) -> dict[str, Any]:
        """Submit a harvest of "edx" to the worker and wait for its result."""
        pending = self.celery.send_task(
            tasks.HARVEST, args=["edx"], kwargs={"trigger": "api"}, queue=self.queue
        )
        try:
            result: dict[str, Any] = pending.get(timeout=timeout)
        except Exception as exc:
            pytest.fail(
                f"no result from the worker ({type(exc).__name__}: {exc}); log:\n{self.log.read_text()}"
            )
        return result


@contextmanager
def running_worker(
    tmp_path: Path, feed_server: FeedServer, settings: dict[str, str], queue: str | None = None
) -> Iterator[Harness]:
    """Start `celery worker` on a fresh instance with `settings` (given to the worker as
    CATALOGUE_* variables, and to this process's app), with source "edx" registered."""
    instance = tmp_path / "worker-instance"
    settings = {"ALLOW_PRIVATE_URLS": "true", **settings}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
    env["CATALOGUE_INSTANCE_PATH"] = str(instance)
    env.update({f"CATALOGUE_{name}": value for name, value in settings.items()})
    app = create_app(dict(settings), instance_path=str(instance))
    services = get_services(app)
    services.store.migrate()
    register(services.store, "edx", feed_server.url)
    command = [sys.executable, "-m", "celery", "-A", "course_catalogue.web.celery_app:celery_app", "worker"]
    options = [
        "--pool=prefork",
        "--concurrency=1",
        "--loglevel=info",
        f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
    ]
    options += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if queue:
        options.append(f"--queues={queue}")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            command + options, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield Harness(celery_init_app(app), services.store, log, queue)
    finally:
        stop(worker)
        services.close()


def assert_harvested(harness: Harness, result: dict[str, Any]) -> None:
    assert result["status"] == "succeeded"
    report = harness.store.get_run(result["run_id"])
    assert report.status is RunStatus.SUCCEEDED and report.counts[Outcome.ADDED] == ROWS
    assert harness.store.list_runs("edx")[0].run_id == result["run_id"]


def stop(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM), then kill the worker's whole process group after 15 s."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)


def test_real_worker_on_the_filesystem_broker(tmp_path: Path, feed_server: FeedServer) -> None:
    with running_worker(tmp_path, feed_server, {}) as worker:
        assert_harvested(worker, worker.harvest())

        # A harvest over its soft time limit (here set per message, HARVEST_SOFT_TIME_LIMIT in
        # production) is stopped, its run recorded FAILED, and its source lock released.
        feed_server.delay = 5.0
        options = {"kwargs": {"trigger": "api"}, "soft_time_limit": 1}
        pending = worker.celery.send_task(tasks.HARVEST, args=["edx"], **options)
        with pytest.raises(Exception) as stopped_by:
            pending.get(timeout=60)  # generous: a loaded CI machine once needed more than 30 s
        assert "SoftTimeLimitExceeded" in str(stopped_by.value), (
            f"{type(stopped_by.value).__name__}: {stopped_by.value}; log:\n{worker.log.read_text()}"
        )
        stopped = worker.store.list_runs("edx")[0]
        assert stopped.status is RunStatus.FAILED and "SoftTimeLimitExceeded" in (stopped.error or "")
        feed_server.delay = 0.0
        assert worker.harvest()["status"] == "succeeded"
    assert (tmp_path / "worker-instance" / "data" / "celery-results.db").is_file()


def test_real_worker_on_redis(tmp_path: Path, feed_server: FeedServer, redis_db: str) -> None:
    settings = {"BROKER_URL": redis_db, "RESULT_BACKEND": redis_db}
    with running_worker(tmp_path, feed_server, settings, queue=f"test-{uuid.uuid4().hex[:8]}") as worker:
        assert_harvested(worker, worker.harvest())
