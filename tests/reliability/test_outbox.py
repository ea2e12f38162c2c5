"""Issue 22 class 4: a crash between the store commit and the index update heals by itself.

Every change the store commits writes an entry to the index outbox in the same transaction; the
index update consumes it after the commit. These tests kill a real `catalogue harvest` with
SIGKILL at the one point that used to leave search stale for good (its transaction committed,
its index update not yet made; the child blocks in the index write, so the kill point is exact),
then start processes again as an operator would and check, without any manual repair:
* retrying the same harvest (which finds every record "unchanged") brings the index level;
* a web process that starts does it on its own;
* until then no search serves a course the store has withdrawn;
* `catalogue repair` delivers what was pending and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app
from tests.reliability.crashfeeds import write_feed
from tests.reliability.instance import Instance, differences, eventually, kill, wait_for_line

ROWS = 400
KEPT = 300  # the second feed drops 100 courses: withdrawn (under the 50% guard)
SOURCE = "gen"


def _harvest_args(feed: Path) -> tuple[str, ...]:
    return ("harvest", "--file", str(feed), "--mapping", "edx-csv", "--source", SOURCE)


@pytest.fixture
def crashed(tmp_path: Path) -> Instance:
    """An instance whose second harvest was killed after its commit, before its index update."""
    inst = Instance(tmp_path, BACKGROUND_SECONDS="0", WITHDRAW_GUARD_SHARE="0.5")  # 25% may go unheld
    inst.run("init")
    inst.run(*_harvest_args(write_feed(tmp_path / "v0.csv", ROWS, "v0")))
    assert differences(inst.expected_inventory(), inst.inventory()) == {}
    child = inst.spawn(*_harvest_args(write_feed(tmp_path / "v1.csv", KEPT, "v1")), STALL_INDEX_WRITES="1")
    wait_for_line(child, "stalled")
    assert kill(child)
    store = inst.store()
    try:
        withdrawn = [
            s for s in store.iter_courses(include_withdrawn=True) if s.status is CourseStatus.WITHDRAWN
        ]
    finally:
        store.close()
    assert len(withdrawn) == ROWS - KEPT  # the transaction committed ...
    stale = differences(inst.expected_inventory(), inst.inventory())
    assert len(stale) == ROWS  # ... and the index never saw it (the state issue 22 found)
    return inst


def test_retrying_the_harvest_heals_the_index_although_every_record_is_unchanged(
    crashed: Instance, tmp_path: Path
) -> None:
    out = crashed.run(*_harvest_args(tmp_path / "v1.csv"), "--json")
    counts = {k: v for k, v in json.loads(out)["counts"].items() if v}
    assert counts == {"unchanged": KEPT}
    assert differences(crashed.expected_inventory(), crashed.inventory()) == {}
    repaired = json.loads(crashed.run("repair", "--json", "--dry-run"))
    assert repaired["drift"] == 0


def test_search_never_serves_a_course_the_store_withdrew_while_the_index_lags(crashed: Instance) -> None:
    store = crashed.store()
    gone = {s.id for s in store.iter_courses(include_withdrawn=True) if s.status is CourseStatus.WITHDRAWN}
    store.close()
    assert all(crashed.inventory()[cid][1] == "active" for cid in gone)  # the index says active
    app = create_app({"RATELIMIT_ANONYMOUS": "", "BACKGROUND_SECONDS": 0}, instance_path=str(crashed.root))
    try:
        client = app.test_client()
        served: set[str] = set()
        for page in range(1, ROWS // 100 + 1):
            body = client.get(f"/api/v1/search?page_size=100&page={page}&sort=title").get_json()
            served |= {hit["id"] for hit in body["hits"]}
        assert served and not served & gone, "search served courses the store had withdrawn"
        for cid in sorted(gone)[:5]:
            title = crashed.store().get_course(cid).course.title["en"]
            hits = client.get("/api/v1/search", query_string={"q": title}).get_json()["hits"]
            assert cid not in {hit["id"] for hit in hits}
            suggested = client.get("/api/v1/suggest", query_string={"q": title}).get_json()
            assert cid not in json.dumps(suggested)
        assert all(crashed.inventory()[cid][1] == "active" for cid in gone)  # nothing healed it meanwhile
    finally:
        get_services(app).close()


def test_a_web_process_that_starts_heals_the_index(crashed: Instance) -> None:
    app = create_app({"RATELIMIT_ANONYMOUS": "", "BACKGROUND_SECONDS": 0.2}, instance_path=str(crashed.root))
    try:
        client = app.test_client()
        assert client.get("/api/v1/health").status_code == 200  # its first request starts the thread
        healed = eventually(lambda: differences(crashed.expected_inventory(), crashed.inventory()) == {})
        assert healed, differences(crashed.expected_inventory(), crashed.inventory())
        assert client.get("/api/v1/search?page_size=1").get_json()["total"] == KEPT
    finally:
        get_services(app).close()


def test_repair_delivers_what_was_pending_and_reports_it(crashed: Instance) -> None:
    dry = json.loads(crashed.run("repair", "--json", "--dry-run"))
    assert dry["outbox"]["pending_courses"] == ROWS and dry["outbox"]["delivered"] == 0
    done = json.loads(crashed.run("repair", "--json"))
    assert done["outbox"]["delivered"] >= ROWS
    assert done["drift"] == 0  # what the outbox delivered left nothing for the comparison to fix
    assert differences(crashed.expected_inventory(), crashed.inventory()) == {}
    again = json.loads(crashed.run("repair", "--json"))
    assert again["outbox"]["delivered"] == 0 and again["drift"] == 0
