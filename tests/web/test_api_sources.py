"""The write API: every write route's auth matrix, dry run and confirm, limits, deleting a source."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.eligibility import Scheme
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import FORMATS
from course_catalogue.catalogue.staged_feeds import MAX_FILENAME, file_name
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.services.pipeline import HarvestSettings
from course_catalogue.services.runtime import Services
from course_catalogue.web.apidoc import openapi_document
from course_catalogue.web.uploads import MEDIA_TYPES
from tests.schemes import EligibilityStore
from tests.web.publishing import INITIAL, SOURCE, SUMMARY, URL, World, edx_csv, first_rows, world

__all__ = ["world"]  # the fixture, imported so pytest finds it here

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSV = {"Content-Type": "text/csv"}


def write_rules(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every state-changing route under /api/v1."""
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in (rule.methods or set()) & WRITE_METHODS
    )


def _dummy_path(rule: str) -> str:
    return re.sub(r"<(?:int:)?([a-z_]+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule)


def _staged(w: World) -> str:
    response = w.client.post(
        f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(INITIAL), headers={**CSV, **w.auth("zed")}
    )
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["staged"]["id"])


def _run_id(w: World) -> int:
    run_id = w.store.list_runs(SOURCE, limit=1)[0].run_id
    assert run_id is not None
    return run_id


Case = Callable[[World], tuple[str, str, dict[str, Any]]]
# endpoint -> (who may, how to call it). The call is built from the world so ids exist.
CASES: dict[str, tuple[str, Case]] = {
    "api_sources.register_source": (
        "zed",
        lambda w: (
            "POST",
            "/api/v1/sources",
            {"json": {"id": "zed-2", "format": "csv", "mapping": "edx-csv", "owner": "zed"}},
        ),
    ),
    "api_sources.change_source": (
        "zed",
        lambda w: ("PATCH", f"/api/v1/sources/{SOURCE}", {"json": {"name": "Renamed"}}),
    ),
    "api_sources.delete_source": ("zed", lambda w: ("DELETE", f"/api/v1/sources/{SOURCE}", {})),
    "api_sources.push_feed": (
        "zed",
        lambda w: ("POST", f"/api/v1/sources/{SOURCE}/feed", {"data": edx_csv(INITIAL), "headers": CSV}),
    ),
    "api_sources.confirm_feed": (
        "zed",
        lambda w: ("POST", f"/api/v1/sources/{SOURCE}/feed/{_staged(w)}/confirm", {}),
    ),
    "api_sources.harvest_source": ("zed", lambda w: ("POST", f"/api/v1/sources/{SOURCE}/harvest", {})),
    "api_sources.repair_source": ("zed", lambda w: ("POST", f"/api/v1/sources/{SOURCE}/repair", {})),
    "api_sources.confirm_withdrawals": (
        "zed",
        lambda w: ("POST", f"/api/v1/runs/{_run_id(w)}/confirm-withdrawals", {}),
    ),
    "api_accounts.create_account": (
        "ops",
        lambda w: ("POST", "/api/v1/accounts", {"json": {"name": "New provider", "role": "provider"}}),
    ),
    "api_accounts.issue_token": (
        "zed",
        lambda w: ("POST", "/api/v1/accounts/zed/tokens", {"json": {"label": "ci"}}),
    ),
    "api_accounts.revoke_token": ("zed", lambda w: ("DELETE", f"/api/v1/tokens/{w.token_ids['zed']}", {})),
    "api_schemes.create_scheme": (
        "reg",
        lambda w: ("POST", "/api/v1/schemes", {"json": {"id": "new-fund", "name": "New", "rules": []}}),
    ),
    "api_schemes.change_scheme": (
        "reg",
        lambda w: ("PATCH", f"/api/v1/schemes/{_scheme(w)}", {"json": {"name": "Renamed fund"}}),
    ),
    "api_schemes.decide_course": (
        "reg",
        lambda w: (
            "PUT",
            f"/api/v1/schemes/{_scheme(w)}/decisions/{_course(w)}",
            {"json": {"eligible": True, "note": "ok"}},
        ),
    ),
    "api_webhooks.subscribe": (
        "reg",
        lambda w: ("POST", "/api/v1/webhooks", {"json": {"url": "https://93.184.216.34/hook"}}),
    ),
    "api_webhooks.unsubscribe": ("reg", lambda w: ("DELETE", f"/api/v1/webhooks/{_hook(w)}", {})),
    "api_entitlements.grant_organisation": (
        "ops",
        lambda w: ("POST", "/api/v1/accounts/zed/organisations", {"json": {"name": "Zed Polytechnic"}}),
    ),
    "api_entitlements.revoke_organisation": (
        "ops",
        lambda w: ("DELETE", f"/api/v1/accounts/zed/organisations/{_organisation(w)}", {}),
    ),
    "api_entitlements.mark_publisher": (
        "ops",
        lambda w: ("PUT", f"/api/v1/sources/{SOURCE}/publishing", {"json": {"for_others": True}}),
    ),
}
INTRUDERS: dict[str, tuple[str, ...]] = {
    # who must get 403 where "reg" (a registry) is the rightful caller
    "api_schemes.create_scheme": ("other", "zed"),
    "api_schemes.change_scheme": ("other", "reg2"),
    "api_schemes.decide_course": ("other", "reg2"),
    "api_webhooks.subscribe": ("other", "zed"),
    "api_webhooks.unsubscribe": ("other", "reg2"),
}


def _scheme(w: World) -> str:
    """A scheme owned by "reg" (created once per world)."""
    schemes = EligibilityStore(w.store)
    if not any(s.id == "reg-fund" for s in schemes.list_schemes()):
        schemes.create_scheme(Scheme("reg-fund", "Reg fund", "reg", ()))
    return "reg-fund"


def _course(w: World) -> str:
    return next(iter(w.store.iter_courses())).id


def _organisation(w: World) -> str:
    return AccountStore(w.store).grant_organisation("zed", "Zed Institute").id


def _hook(w: World) -> str:
    subscription, _secret = WebhookStore(w.store).subscribe("reg", "https://93.184.216.34/hook")
    return subscription.id


@pytest.fixture
def pulled_feed(monkeypatch: pytest.MonkeyPatch, world: World) -> bytes:
    """The zed source gets a URL served by a MockTransport (no network)."""
    body = edx_csv(INITIAL)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body, headers=CSV))
    settings = HarvestSettings(transport=transport, allow_private=True)
    monkeypatch.setattr(Services, "harvest_settings", property(lambda self: settings))
    source = world.store.get_source(SOURCE)
    world.store.save_source(replace(source, url="http://127.0.0.1:9/zed.csv"))
    return body


def _call(w: World, case: Case, who: str | None, token: str | None = None) -> Any:
    method, path, kwargs = case(w)
    headers = dict(kwargs.pop("headers", {}))
    if who is not None:
        headers.update(w.auth(who))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return w.client.open(path, method=method, headers=headers, **kwargs)


def _assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["status"] == status and error["code"] and error["message"]


def test_every_write_route_has_a_case(app: Flask) -> None:
    """A new write route without an entry here fails: add it to CASES (and so to the matrix)."""
    assert {endpoint for endpoint, _, _ in write_rules(app)} == set(CASES)


def test_every_write_route_refuses_a_request_without_a_token(app: Flask) -> None:
    client = app.test_client()
    rules = write_rules(app)
    assert len(rules) >= len(CASES)
    for endpoint, method, rule in rules:
        response = client.open(_dummy_path(rule), method=method, json={})
        _assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer"), endpoint


def test_every_write_route_refuses_a_wrong_token(app: Flask) -> None:
    client = app.test_client()
    wrong = "cat_0123456789ab." + "A" * 43
    for endpoint, method, rule in write_rules(app):
        for header in (f"Bearer {wrong}", "Bearer nonsense", f"Basic {wrong}"):
            response = client.open(
                _dummy_path(rule), method=method, json={}, headers={"Authorization": header}
            )
            _assert_error(response, 401)
            assert "error=" in response.headers["WWW-Authenticate"], endpoint


@pytest.mark.parametrize(
    ("endpoint", "intruder"),
    [(e, who) for e in sorted(CASES) for who in INTRUDERS.get(e, ("other", "reg"))],
)
def test_other_accounts_get_403(world: World, endpoint: str, intruder: str) -> None:
    _, case = CASES[endpoint]
    courses_before = world.store.count_courses(include_withdrawn=True)
    runs_before = len(world.store.list_runs(limit=100))
    _assert_error(_call(world, case, intruder), 403)
    assert world.store.count_courses(include_withdrawn=True) == courses_before
    if endpoint != "api_sources.confirm_feed":  # its setup pushed a dry run
        assert len(world.store.list_runs(limit=100)) == runs_before
    assert world.store.get_source(SOURCE).name == "Zed's courses"


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_the_right_token_succeeds(world: World, pulled_feed: bytes, endpoint: str) -> None:
    owner, case = CASES[endpoint]
    response = _call(world, case, owner)
    assert 200 <= response.status_code < 300, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "endpoint", ["api_sources.change_source", "api_sources.push_feed", "api_sources.delete_source"]
)
def test_admin_may_change_any_source(world: World, endpoint: str) -> None:
    _, case = CASES[endpoint]
    assert _call(world, case, "ops").status_code == 200


def test_a_revoked_token_gets_401(world: World) -> None:
    _, case = CASES["api_sources.change_source"]
    AccountStore(world.store).revoke_token(world.token_ids["zed"])
    _assert_error(_call(world, case, "zed"), 401)


def _edited_feed() -> tuple[bytes, list[list[str]]]:
    """The initial rows without the first, with the third's summary changed, plus one new row."""
    rows = first_rows(12)[1:] + first_rows(1, start=12)
    rows[1][SUMMARY] = "A completely new summary."
    return edx_csv(rows), rows


def _cid(row: list[str]) -> str:
    return course_id(SOURCE, row[URL])


def test_a_dry_run_changes_nothing_and_shows_the_record_diff(world: World) -> None:
    feed, rows = _edited_feed()
    before = {c.id: c.content_hash for c in world.store.iter_courses(include_withdrawn=True)}
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed", data=feed, headers={**CSV, **world.auth("zed")}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["dry_run"] is True and body["run"]["dry_run"] is True
    diff = body["diff"]
    assert diff["totals"] == {
        "added": 1,
        "updated": 1,
        "unchanged": 10,
        "withdrawn": 1,
        "held_withdrawals": 0,
    }
    assert [c["provider_ref"] for c in diff["added"]] == [rows[-1][URL]]
    assert diff["added"][0]["title"] == rows[-1][0]
    assert diff["updated"] == [
        {
            "id": _cid(rows[1]),
            "provider_ref": rows[1][URL],
            "title": rows[1][0],
            "changed_fields": ["description"],
        }
    ]
    assert [c["provider_ref"] for c in diff["withdrawn"]] == [INITIAL[0][URL]]
    # every validation issue is in the response, as stored with the (dry) run
    stored = world.store.get_run(body["run"]["run_id"])
    assert body["run"]["issues"] == [i.to_dict() for i in stored.issues] and stored.issues
    assert body["run"]["issue_summary"]["by_severity"]["warning"] > 0
    after = {c.id: c.content_hash for c in world.store.iter_courses(include_withdrawn=True)}
    assert after == before
    assert body["staged"]["sha256"] == hashlib.sha256(feed).hexdigest()
    assert body["staged"]["links"]["confirm"].endswith("/confirm")
    assert body["staged"]["filename"] is None  # a raw body has no file name


def test_a_multipart_push_keeps_the_file_name(world: World) -> None:
    upload = {"file": (io.BytesIO(edx_csv(first_rows(3))), "feeds/autumn courses.csv", "text/csv")}
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed",
        data=upload,
        headers=world.auth("zed"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["staged"]["filename"] == "autumn courses.csv"  # the last path part
    assert file_name("C:\\feeds\\b\tc\x00.csv") == "bc.csv"  # a Windows path, control characters
    assert file_name("") is None and file_name("x" * 300) == "x" * MAX_FILENAME


def test_confirm_publishes_exactly_the_staged_bytes(world: World) -> None:
    feed, rows = _edited_feed()
    headers = {**CSV, **world.auth("zed")}
    staged = world.client.post(f"/api/v1/sources/{SOURCE}/feed", data=feed, headers=headers).get_json()[
        "staged"
    ]
    # a later dry run of a different feed does not change what the first confirmation publishes
    other = world.client.post(f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(first_rows(3)), headers=headers)
    assert other.status_code == 200
    response = world.client.post(staged["links"]["confirm"], headers=world.auth("zed"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["dry_run"] is False and body["run"]["status"] == "succeeded"
    assert body["staged"]["sha256"] == hashlib.sha256(feed).hexdigest()
    assert body["run"]["counts"] == body["dry_run_report"]["counts"]
    assert body["differs_from_dry_run"] is False and body["note"]
    assert world.store.get_course(_cid(INITIAL[0])).status is CourseStatus.WITHDRAWN
    assert world.store.get_course(_cid(rows[-1])).status is CourseStatus.ACTIVE
    updated = world.store.get_course(_cid(rows[1])).course
    assert "A completely new summary." in updated.description["en"]
    assert world.store.count_courses(source_id=SOURCE) == 12
    # consumed: confirming twice is a 404
    _assert_error(world.client.post(staged["links"]["confirm"], headers=world.auth("zed")), 404)


def test_confirm_refuses_after_the_mapping_changed(world: World) -> None:
    staged = _staged(world)
    change = world.client.patch(
        f"/api/v1/sources/{SOURCE}",
        json={"format": "xcri-cap", "mapping": "xcri-cap"},
        headers=world.auth("zed"),
    )
    assert change.status_code == 200
    response = world.client.post(f"/api/v1/sources/{SOURCE}/feed/{staged}/confirm", headers=world.auth("zed"))
    _assert_error(response, 409)


def test_a_staged_feed_of_another_source_is_not_found(world: World) -> None:
    staged = _staged(world)
    world.client.post(
        "/api/v1/sources",
        json={"id": "zed-2", "format": "csv", "mapping": "edx-csv"},
        headers=world.auth("zed"),
    )
    response = world.client.post(f"/api/v1/sources/zed-2/feed/{staged}/confirm", headers=world.auth("zed"))
    _assert_error(response, 404)


def test_dry_run_false_publishes_at_once(world: World) -> None:
    feed, rows = _edited_feed()
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed?dry_run=false", data=feed, headers={**CSV, **world.auth("zed")}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["staged"] is None and body["run"]["counts"]["added"] == 1
    assert world.store.get_course(_cid(rows[-1])).status is CourseStatus.ACTIVE


def test_a_pushed_feed_identical_to_the_last_one_is_not_read_unless_forced(world: World) -> None:
    headers = {**CSV, **world.auth("zed")}
    url = f"/api/v1/sources/{SOURCE}/feed?dry_run=false"
    again = world.client.post(url, data=edx_csv(INITIAL), headers=headers)
    assert again.status_code == 200
    run = again.get_json()["run"]
    assert run["status"] == "succeeded" and run["counts"]["unchanged"] == 12
    assert [i["code"] for i in run["issues"]].count("feed-unchanged") == 1
    forced = world.client.post(url + "&force=true", data=edx_csv(INITIAL), headers=headers)
    assert forced.status_code == 200
    run = forced.get_json()["run"]
    assert run["counts"]["unchanged"] == 12 and "feed-unchanged" not in [i["code"] for i in run["issues"]]


def test_multipart_upload_is_accepted(world: World) -> None:
    data = {"file": (io.BytesIO(edx_csv(INITIAL)), "courses.csv", "application/octet-stream")}
    response = world.client.post(f"/api/v1/sources/{SOURCE}/feed", data=data, headers=world.auth("zed"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["diff"]["totals"]["unchanged"] == 12


def test_an_oversize_feed_gets_413(world: World) -> None:
    world.app.config["MAX_UPLOAD_BYTES"] = world.app.config["MAX_CONTENT_LENGTH"] = 1000
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(INITIAL), headers={**CSV, **world.auth("zed")}
    )
    _assert_error(response, 413)
    assert world.store.list_runs(SOURCE, limit=1)[0].dry_run is False  # no run was started


@pytest.mark.parametrize("content_type", ["application/json", "application/xml", "text/plain", None])
def test_a_wrong_content_type_gets_415(world: World, content_type: str | None) -> None:
    headers = world.auth("zed") | ({"Content-Type": content_type} if content_type else {})
    response = world.client.post(f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(INITIAL), headers=headers)
    _assert_error(response, 415)
    assert "text/csv" in response.get_json()["error"]["message"]


def test_a_feed_that_cannot_be_read_gets_422_with_its_run(world: World) -> None:
    world.client.post(
        "/api/v1/sources",
        json={"id": "zed-xml", "format": "xcri-cap", "mapping": "xcri-cap"},
        headers=world.auth("zed"),
    )
    response = world.client.post(
        "/api/v1/sources/zed-xml/feed",
        data=b"<catalog><unclosed>",
        headers={"Content-Type": "application/xml", **world.auth("zed")},
    )
    _assert_error(response, 422)
    assert response.get_json()["error"]["details"]["run"]["status"] == "failed"


def test_delete_source_tombstones_its_courses(world: World) -> None:
    total = world.store.count_courses(source_id=SOURCE, include_withdrawn=True)
    response = world.client.delete(f"/api/v1/sources/{SOURCE}", headers=world.auth("zed"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["source"]["retired"] is True and body["run"]["counts"]["withdrawn"] == 12
    assert world.store.count_courses(source_id=SOURCE) == 0
    assert world.store.count_courses(source_id=SOURCE, include_withdrawn=True) == total  # nothing deleted
    assert all(
        c.status is CourseStatus.WITHDRAWN
        for c in world.store.iter_courses(source_id=SOURCE, include_withdrawn=True)
    )
    assert world.store.get_source(SOURCE).schedule_minutes is None
    push = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed", data=edx_csv(INITIAL), headers={**CSV, **world.auth("zed")}
    )
    _assert_error(push, 409)
    # registering it again brings it back
    again = world.client.post(
        "/api/v1/sources",
        json={"id": SOURCE, "format": "csv", "mapping": "edx-csv"},
        headers=world.auth("zed"),
    )
    assert again.status_code == 201 and again.get_json()["retired"] is False


def test_register_rules(world: World) -> None:
    zed = world.auth("zed")
    created = world.client.post(
        "/api/v1/sources", json={"id": "zed-2", "format": "csv", "mapping": "edx-csv"}, headers=zed
    )
    assert created.status_code == 201 and created.get_json()["owner"] == "zed"
    assert created.headers["Location"].endswith("/api/v1/sources/zed-2")
    _assert_error(
        world.client.post("/api/v1/sources", json={"id": "zed-2", "format": "csv"}, headers=zed), 409
    )
    for bad in (
        {"id": "Bad Id", "format": "csv"},
        {"id": "x", "format": "nope"},
        {"id": "x", "format": "csv", "mapping": "../../etc/passwd"},
        {"id": "x", "format": "csv", "mapping": "missing-spec"},
        {"id": "x", "format": "csv", "url": "file:///etc/passwd"},
        {"id": "x", "format": "csv", "schedule_minutes": 1},
        {"id": "x", "format": "csv", "settings": {}},
    ):
        _assert_error(world.client.post("/api/v1/sources", json=bad, headers=zed), 400)
    admin = world.client.post(
        "/api/v1/sources",
        json={"id": "for-other", "format": "csv", "owner": "other"},
        headers=world.auth("ops"),
    )
    assert admin.status_code == 201 and admin.get_json()["owner"] == "other"
    _assert_error(
        world.client.post(
            "/api/v1/sources", json={"id": "y", "format": "csv", "owner": "ghost"}, headers=world.auth("ops")
        ),
        404,
    )


def test_pull_harvests_the_url(world: World, pulled_feed: bytes) -> None:
    response = world.client.post(f"/api/v1/sources/{SOURCE}/harvest?dry_run=true", headers=world.auth("zed"))
    assert response.status_code == 200
    assert response.get_json()["diff"]["totals"]["unchanged"] == 12 and response.get_json()["dry_run"] is True


def test_held_withdrawals_are_confirmed_by_the_owner(world: World) -> None:
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed?dry_run=false",
        data=edx_csv(first_rows(2)),
        headers={**CSV, **world.auth("zed")},
    )
    run = response.get_json()["run"]
    assert run["status"] == RunStatus.HELD.value
    confirm = world.client.post(
        f"/api/v1/runs/{run['run_id']}/confirm-withdrawals", headers=world.auth("zed")
    )
    assert confirm.status_code == 200 and len(confirm.get_json()["withdrawn"]) == 10
    assert world.store.count_courses(source_id=SOURCE) == 2


def test_every_source_format_can_be_pushed_and_is_documented() -> None:
    assert set(MEDIA_TYPES) == set(FORMATS), "each format needs the media types it may be pushed as"
    schemas = openapi_document()["components"]["schemas"]
    enums = [
        prop["enum"]
        for schema in schemas.values()
        for prop in schema.get("properties", {}).values()
        if isinstance(prop, dict) and "xcri-cap" in prop.get("enum", ())
    ]
    assert enums and all(set(enum) == set(FORMATS) for enum in enums)


def test_a_registered_provider_fills_records_that_lack_one(world: World) -> None:
    zed = world.auth("zed")
    navarra = {"name": "Universidad Pública de Navarra", "country": "ESP", "homepage": None}
    # an admin entitled zed to publish for the university (tests/web/test_provider_identity.py)
    AccountStore(world.store).grant_organisation("zed", navarra["name"], country="ESP")
    body = {"id": "upna", "format": "json", "mapping": "ooapi", "provider": navarra}
    created = world.client.post("/api/v1/sources", json=body, headers=zed)
    assert created.status_code == 201 and created.get_json()["provider"] == navarra
    feed = (Path(__file__).resolve().parent.parent / "fixtures" / "ooapi_course_example.json").read_bytes()
    pushed = world.client.post(
        "/api/v1/sources/upna/feed?dry_run=false",
        data=feed,
        headers={**zed, "Content-Type": "application/json"},
    )
    assert pushed.status_code == 200, pushed.get_json()
    assert pushed.get_json()["run"]["counts"]["added"] == 1
    for bad in ({"country": "ESP"}, {"name": "X", "country": "Spain"}):
        _assert_error(world.client.patch("/api/v1/sources/upna", json={"provider": bad}, headers=zed), 400)
    cleared = world.client.patch("/api/v1/sources/upna", json={"provider": None}, headers=zed)
    assert cleared.status_code == 200 and cleared.get_json()["provider"] is None
