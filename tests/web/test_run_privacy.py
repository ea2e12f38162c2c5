"""Issue 22, class 15: the report of a dry run (an unpublished preview of a pushed feed, with every
record's issues and values) is readable only by its source's owner and admins. Anyone else,
anonymous callers, other providers and registries included, gets the same 404 as for a run that
does not exist (a 403 would tell them it exists). Published runs stay public."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from course_catalogue.search.documents import provider_key
from tests.web.publishing import HEADER, INITIAL, SOURCE, World, edx_csv, first_rows, world
from tests.web.test_dashboard import log_in

__all__ = ["world"]

CSV = {"Content-Type": "text/csv"}
SECRET = "Unpublished draft title 7f3a"


def _dry_run(w: World) -> int:
    rows = first_rows(12)
    rows[0][HEADER.index("title")] = SECRET
    response = w.client.post(
        f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(rows), headers={**CSV, **w.auth("zed")}
    )
    assert response.status_code == 200, response.get_json()
    run = response.get_json()["run"]
    assert run["dry_run"] is True
    return int(run["run_id"])


def _published_run(w: World) -> int:
    runs = [r for r in w.store.list_runs(SOURCE, limit=20) if not r.dry_run]
    assert runs and runs[0].run_id is not None
    return runs[0].run_id


def _headers(w: World, who: str | None) -> dict[str, str]:
    return w.auth(who) if who else {}


@pytest.mark.parametrize("who", [None, "other", "reg", "forged"])
def test_a_dry_run_report_is_404_to_everyone_but_its_owner(world: World, who: str | None) -> None:
    run_id = _dry_run(world)
    missing = world.client.get("/api/v1/runs/999999")
    headers = {"Authorization": "Bearer cat_nope.nope"} if who == "forged" else _headers(world, who)
    response = world.client.get(f"/api/v1/runs/{run_id}", headers=headers)
    assert response.status_code == 404
    error, unknown = response.get_json()["error"], missing.get_json()["error"]
    assert error["code"] == unknown["code"] == "not_found"
    assert error["message"] == unknown["message"].replace("999999", str(run_id)), "no hint that it exists"
    assert SECRET not in response.get_data(as_text=True)
    page = world.client.get(f"/runs/{run_id}", headers=headers)
    assert page.status_code == 404 and SECRET not in page.get_data(as_text=True)


@pytest.mark.parametrize("who", ["zed", "ops"])
def test_the_owner_and_admins_read_the_dry_run(world: World, who: str) -> None:
    run_id = _dry_run(world)
    response = world.client.get(f"/api/v1/runs/{run_id}", headers=world.auth(who))
    assert response.status_code == 200 and response.get_json()["dry_run"] is True
    assert "private" in response.headers["Cache-Control"], "never kept by a shared cache"


def test_lists_hide_dry_runs_from_others(world: World) -> None:
    run_id = _dry_run(world)
    for who in (None, "other", "reg"):
        listed = world.client.get(f"/api/v1/sources/{SOURCE}/runs", headers=_headers(world, who)).get_json()
        assert run_id not in [r["run_id"] for r in listed["runs"]], who
        assert all(not r["dry_run"] for r in listed["runs"])
        source = world.client.get(f"/api/v1/sources/{SOURCE}", headers=_headers(world, who)).get_json()
        assert source["last_run"]["run_id"] == _published_run(world)
        every = world.client.get("/api/v1/sources", headers=_headers(world, who)).get_json()["sources"]
        assert next(s for s in every if s["id"] == SOURCE)["last_run"]["run_id"] == _published_run(world)
    own = world.client.get(f"/api/v1/sources/{SOURCE}/runs", headers=world.auth("zed")).get_json()
    assert run_id in [r["run_id"] for r in own["runs"]]


def _run_links(client: FlaskClient, path: str) -> set[int]:
    html = client.get(path).get_data(as_text=True)
    return {int(n) for n in re.findall(r'href="/runs/(\d+)', html)}


def test_public_pages_do_not_link_or_show_dry_runs(world: World) -> None:
    run_id = _dry_run(world)
    assert run_id not in _run_links(world.client, "/sources")
    assert _published_run(world) in _run_links(world.client, "/sources")
    course = world.client.get("/api/v1/search?page_size=1").get_json()["hits"][0]
    page = f"/providers/{provider_key(course['provider'])}"
    provider_page = world.client.get(page)
    assert provider_page.status_code == 200
    assert SECRET not in provider_page.get_data(as_text=True)
    assert run_id not in _run_links(world.client, page)


def test_the_owner_sees_the_dry_run_in_the_dashboard_session(world: World) -> None:
    run_id = _dry_run(world)
    owner = log_in(world, "zed")
    page = owner.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "dry run" in page.get_data(as_text=True).lower()
    assert run_id in _run_links(owner, "/sources")
    other = log_in(world, "other")
    assert other.get(f"/runs/{run_id}").status_code == 404


def test_published_runs_stay_public(world: World) -> None:
    _dry_run(world)
    run_id = _published_run(world)
    assert world.client.get(f"/api/v1/runs/{run_id}").status_code == 200
    assert world.client.get(f"/runs/{run_id}").status_code == 200
    assert edx_csv(INITIAL)
