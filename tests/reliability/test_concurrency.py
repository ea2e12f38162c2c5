"""Two harvests of one source never run at once; searches during a reindex never see a hole.

The first harvest (a child process) pulls a slowly streamed feed, so it holds the source's lock
for seconds; a second process started meanwhile must give up at once ("already-running") and
record no run. Checked on SQLite (flock) and PostgreSQL (advisory locks).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from flask import Flask

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search.query import Query
from course_catalogue.search.sync import reindex
from course_catalogue.services.runtime import get_services
from tests.reliability.crashfeeds import write_feed
from tests.reliability.test_crashes import SOURCE, SlowFeed, World, kill
from tests.web.conftest import _no_catalogue_env, edx_app

__all__ = ["_no_catalogue_env", "edx_app"]


def race(root: Path, url: str) -> tuple[dict[str, object], CatalogueStore]:
    store = CatalogueStore(url)
    store.migrate()
    world = World.__new__(World)  # the child-spawning half of World, on any database URL
    world.root, world.url = root, url
    SlowFeed.body = write_feed(root / "feed.csv", 400, "v1").read_bytes()
    SlowFeed.started.clear()
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowFeed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        first = world.spawn(f"http://127.0.0.1:{server.server_port}/feed.csv")
        assert SlowFeed.started.wait(60)
        second = world.spawn(str(root / "feed.csv"))
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err[-2000:]
        result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
        first_out, _ = first.communicate(timeout=120)
        assert json.loads(first_out.strip().splitlines()[-1])["status"] == "succeeded"
    finally:
        if first.poll() is None:
            kill(first)
        server.shutdown()
        server.server_close()
    return result, store


def test_second_harvest_of_a_source_gives_up_on_sqlite(tmp_path: Path) -> None:
    result, store = race(tmp_path, f"sqlite:///{tmp_path / 'catalogue.db'}")
    assert result["status"] == "already-running" and result["run_id"] is None
    runs = store.list_runs(SOURCE)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED]  # exactly one run was recorded
    store.close()


@pytest.mark.postgres
def test_second_harvest_of_a_source_gives_up_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    result, store = race(tmp_path, postgres_url)
    assert result["status"] == "already-running" and result["run_id"] is None
    assert [r.status for r in store.list_runs(SOURCE)] == [RunStatus.SUCCEEDED]
    store.close()


def test_searches_during_reindex_never_see_an_empty_or_partial_index(edx_app: Flask) -> None:
    services = get_services(edx_app)
    backend, store = services.backend, services.store
    queries = [Query.create(), Query.create(text="data"), Query.create(text="python")]
    baseline = [backend.search(q).total for q in queries]
    assert baseline[0] > 500
    seen: list[list[int]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            while not stop.is_set():
                seen.append([backend.search(q).total for q in queries])
        except BaseException as exc:  # reported below: a search must never fail mid-rebuild
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):
            assert reindex(store, backend) == store.count_courses(include_withdrawn=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert len(seen) > 10
    assert all(totals == baseline for totals in seen), "a search saw a partial index"
