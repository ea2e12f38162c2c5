"""Issue 22 class 3: evaluating an eligibility scheme is a background job, atomic for readers,
resumable after a kill, and it does not hold other writers up.

A generated catalogue (20,000 courses; the old in-request evaluation took seconds to minutes at
this size and far more at 354k) is evaluated by `catalogue schemes run <job>` in a child process
that is SIGKILLed mid-evaluation. Throughout, readers (the API's eligible lists and the search
`funding` filter) see the previous evaluation, complete; a harvest runs to completion while a job
is running; `catalogue schemes resume` continues the killed job from where it stopped (it does
not start over); afterwards store and search agree exactly.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app
from tests.reliability.conftest import SCALE
from tests.reliability.crashfeeds import write_feed
from tests.reliability.instance import Instance, differences, kill, wait_for_line

ROWS = 20_000 if SCALE == 1 else 100_000
SOURCE = "gen"
FIRST = [f"Institution {i}" for i in range(0, 19)]  # about half of the 37 institutions
SECOND = [f"Institution {i}" for i in range(10, 30)]


def _rules(names: list[str]) -> list[dict[str, Any]]:
    return [{"id": "provider", "field": "provider.name", "op": "in", "value": names}]


class Registry:
    """The instance as a registry sees it over the API, plus the test's own checks."""

    def __init__(self, inst: Instance, app: Flask, token: str) -> None:
        self.inst = inst
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def eligible_api(self) -> set[str]:
        found: set[str] = set()
        url: str | None = "/api/v1/schemes/fund/courses?eligible=true&limit=1000"
        while url:
            body = self.client.get(url).get_json()
            found |= {c["course_id"] for c in body["courses"]}
            url = body["links"]["next"]
        return found

    def eligible_search(self) -> set[str]:
        found: set[str] = set()
        url: str | None = "/api/v1/search?funding=fund&page_size=100&sort=title"
        while url:
            body = self.client.get(url).get_json()
            found |= {hit["id"] for hit in body["hits"]}
            url = body["links"].get("next")
        return found

    def expected(self, names: list[str]) -> set[str]:
        store = self.inst.store()
        try:
            return {s.id for s in store.iter_courses() if s.course.provider.name.get("en") in names}
        finally:
            store.close()

    def job(self, url: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(url).get_json()
        return body


@pytest.fixture
def registry(tmp_path: Path) -> Any:
    inst = Instance(tmp_path, BACKGROUND_SECONDS="0", SCHEME_JOB_STALE_SECONDS="1")
    inst.run("init")
    inst.run(
        "harvest",
        "--file",
        str(write_feed(tmp_path / "v0.csv", ROWS, "v0")),
        "--mapping",
        "edx-csv",
        "--source",
        SOURCE,
    )
    token = inst.run(
        "accounts", "create", "Skills Registry", "--role", "registry", "--id", "reg"
    ).splitlines()[-1]
    app = create_app(
        {"RATELIMIT_ANONYMOUS": "", "BACKGROUND_SECONDS": 0, "SCHEME_JOBS": "worker"},
        instance_path=str(tmp_path),
    )
    yield Registry(inst, app, token)
    get_services(app).close()


def _kill_mid_evaluation(reg: Registry, job_url: str, *, harvest_meanwhile: bool = False) -> int:
    """Run the job in a child, slowed, and kill it after two batches; returns courses done."""
    job_id = job_url.rsplit("/", 1)[1]
    child = reg.inst.spawn("schemes", "run", job_id, SLOW_SCHEME_BATCHES="0.5")
    wait_for_line(child, "batch")
    if harvest_meanwhile:
        # Another writer is not held up for the job's duration: this harvest (a new source)
        # commits while the evaluation is still running.
        small = write_feed(reg.inst.root / "other.csv", 30, "x")
        reg.inst.run("harvest", "--file", str(small), "--mapping", "edx-csv", "--source", "other")
        assert reg.job(job_url)["status"] == "running"
    wait_for_line(child, "batch")
    assert kill(child)
    state = reg.job(job_url)
    assert state["status"] == "running" and 0 < state["progress"]["done"] < state["progress"]["total"]
    done: int = state["progress"]["done"]
    return done


def _resume(reg: Registry, job_url: str, done_before: int) -> dict[str, Any]:
    from course_catalogue.catalogue import eligibility_jobs

    time.sleep(1.5)  # SCHEME_JOB_STALE_SECONDS=1: the killed runner's heartbeat is now stale
    out = reg.inst.run("schemes", "resume", "--json")
    resumed = json.loads(out)
    job_id = int(job_url.rsplit("/", 1)[1])
    assert [j["id"] for j in resumed["jobs"]] == [job_id]
    state = reg.job(job_url)
    assert state["status"] == "succeeded", state
    total = state["progress"]["total"]
    assert state["progress"]["done"] >= total
    # continued, not restarted: the resumed run evaluated only what the killed one had not
    assert resumed["jobs"][0]["evaluated"] == total - done_before
    assert math.ceil((total - done_before) / eligibility_jobs.BATCH) == resumed["jobs"][0]["batches"]
    return state


def test_scheme_evaluation_is_a_resumable_background_job_atomic_for_readers(registry: Registry) -> None:
    reg = registry
    created = reg.client.post(
        "/api/v1/schemes", json={"id": "fund", "name": "Fund", "rules": _rules(FIRST)}, headers=reg.headers
    )
    assert created.status_code == 202, (created.status_code, created.get_json())
    job_url = created.headers["Location"]
    assert created.get_json()["evaluation"]["links"]["self"] == job_url
    assert reg.job(job_url)["status"] == "queued"
    assert reg.eligible_api() == set() and reg.eligible_search() == set()  # nothing evaluated yet

    done = _kill_mid_evaluation(reg, job_url, harvest_meanwhile=True)
    assert reg.eligible_api() == set() and reg.eligible_search() == set()  # the half-done job is invisible
    assert differences(reg.inst.expected_inventory(), reg.inst.inventory()) == {}

    _resume(reg, job_url, done)
    first = reg.expected(FIRST)
    assert first and reg.eligible_api() == first
    assert reg.eligible_search() == first
    assert differences(reg.inst.expected_inventory(), reg.inst.inventory()) == {}

    patched = reg.client.patch("/api/v1/schemes/fund", json={"rules": _rules(SECOND)}, headers=reg.headers)
    assert patched.status_code == 202, patched.get_json()
    job_url = patched.headers["Location"]
    assert reg.client.get("/api/v1/schemes/fund").get_json()["rules"] == _rules(FIRST)  # still the live one
    done = _kill_mid_evaluation(reg, job_url)
    assert reg.eligible_api() == first and reg.eligible_search() == first  # the old evaluation, whole

    _resume(reg, job_url, done)
    second = reg.expected(SECOND)
    assert reg.eligible_api() == second and reg.eligible_search() == second
    assert reg.client.get("/api/v1/schemes/fund").get_json()["rules"] == _rules(SECOND)
    assert differences(reg.inst.expected_inventory(), reg.inst.inventory()) == {}
    assert json.loads(reg.inst.run("repair", "--json", "--dry-run"))["drift"] == 0
