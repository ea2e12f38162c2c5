"""One harvest per source at a time: file locks (SQLite) and advisory locks (PostgreSQL), through
`run_harvest_exclusive` with real stores, concurrent threads and a killed lock holder."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from course_catalogue.catalogue.errors import Conflict
from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.jobs import HarvestAttempt, run_harvest_exclusive
from course_catalogue.services.locks import (
    AdvisoryLocks,
    AlreadyRunning,
    FileLocks,
    SourceLocks,
    lock_key,
    open_locks,
)
from course_catalogue.services.pipeline import HarvestSettings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "csv_edx_courses.csv"
URL = "http://127.0.0.1:9/edx.csv"  # an IP literal: the SSRF guard resolves it without DNS
ROWS = 10


def small_feed(rows: int = ROWS) -> bytes:
    """The edX fixture's header and its first `rows` records, as CSV."""
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))[: rows + 1]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode()


@pytest.fixture
def locks(store_url: str, store: CatalogueStore, tmp_path: Path) -> Iterator[SourceLocks]:
    """The locks that fit `store`: file locks for SQLite, advisory locks for PostgreSQL."""
    found = open_locks(store_url, tmp_path / "locks")
    yield found
    found.close()


def test_open_locks_picks_the_mechanism_from_the_database_url(tmp_path: Path) -> None:
    assert isinstance(open_locks(f"sqlite:///{tmp_path}/c.db", tmp_path), FileLocks)
    pg = open_locks("postgresql+psycopg://postgres@127.0.0.1:5432/test", tmp_path)
    assert isinstance(pg, AdvisoryLocks)
    pg.close()  # nothing was connected: the engine connects on first hold


def test_lock_is_exclusive_per_source_and_released_after_the_block(locks: SourceLocks) -> None:
    with locks.hold("edx"):
        with pytest.raises(AlreadyRunning, match="'edx' is already running") as caught, locks.hold("edx"):
            pass  # pragma: no cover - never entered
        assert isinstance(caught.value, Conflict)  # the API answers 409
        with locks.hold("other"):  # another source is independent
            pass
    with locks.hold("edx"):  # free again
        pass


def test_lock_holds_across_threads_and_names_the_holder(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "locks")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold("edx"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(AlreadyRunning, match=f"process {os.getpid()}"), locks.hold("edx"):
            pass  # pragma: no cover
    finally:
        release.set()
        thread.join(10)
    with locks.hold("edx"):
        pass


def test_lock_refuses_names_that_are_not_source_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a source id"), FileLocks(tmp_path).hold("../etc/passwd"):
        pass  # pragma: no cover


def test_lock_key_is_a_stable_signed_64_bit_integer() -> None:
    key = lock_key("public:edx")
    assert key == lock_key("public:edx") != lock_key("other:edx")
    assert -(2**63) <= key < 2**63


class BlockingFeed:
    """A MockTransport handler that serves the feed only once `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.entered.set()
        assert self.release.wait(20), "the test never released the feed"
        return httpx.Response(200, content=small_feed())


def test_two_concurrent_harvests_of_one_source_run_exactly_once(
    store: CatalogueStore, locks: SourceLocks
) -> None:
    source = Source(id="edx", format="csv", mapping="edx-csv", url=URL)
    store.save_source(source)
    feed = BlockingFeed()
    settings = HarvestSettings(transport=httpx.MockTransport(feed), retries=0, allow_private=True)

    def harvest() -> HarvestAttempt:
        return run_harvest_exclusive(store, source, locks=locks, settings=settings, trigger="test")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(harvest)
        assert feed.entered.wait(20)  # the first harvest holds the lock, inside its fetch
        second = pool.submit(harvest).result(timeout=20)
        feed.release.set()
        done = first.result(timeout=30)

    assert second.already_running and second.report is None
    assert "already running" in str(second.error)
    assert second.to_dict()["status"] == "already-running"
    assert done.report is not None and done.report.status is RunStatus.SUCCEEDED
    assert done.report.counts[Outcome.ADDED] == ROWS
    assert feed.requests == 1
    assert [r.run_id for r in store.list_runs("edx")] == [done.report.run_id]  # one run recorded


LOCK_HOLDER = """
import sys, time
from course_catalogue.services.locks import open_locks
locks = open_locks(sys.argv[1], sys.argv[2])
with locks.hold("edx"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_frees_the_source_at_once(store_url: str, locks: SourceLocks, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, store_url, str(tmp_path / "locks")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning), locks.hold("edx"):
            pass  # pragma: no cover
        child.send_signal(signal.SIGKILL)  # no cleanup code runs: the OS / server must free it
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    for _ in range(50):  # PostgreSQL notices the closed socket within moments
        try:
            with locks.hold("edx"):
                return
        except AlreadyRunning:
            threading.Event().wait(0.1)
    pytest.fail("the lock was not released after its holder was killed")
