"""Issue 22, class 11: hostile values in request bodies, paths and parameters are clean 4xx answers
in the one error shape, never a 500 (or a 503 blaming the database).

* JSON bodies nested 200,000 deep, with a lone surrogate (``"\\ud800"``) or a NUL, on every route
  that takes a JSON body;
* JSON-LD and JSON feeds with the same, pushed to a source (the feed is refused with 422, or
  only the bad record is);
* integers beyond 64 bits in every ``<int:...>`` route (run ids), and non-ASCII digits,
  negative and oversized numbers in every whole-number query parameter;
* NUL in every path parameter of every GET route (SQLite and PostgreSQL: psycopg refuses NUL in
  text, which surfaced as 503 "store unavailable") and in query parameters;
* a dashboard login whose ``next`` holds a newline (open redirects are in test_dashboard_security).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.runtime import get_services
from tests.web.conftest import FIXTURES, make_app
from tests.web.publishing import INITIAL, SOURCE, World, edx_csv, world
from tests.web.test_dashboard import csrf_of

__all__ = ["world"]

DEEP = b"[" * 200_000 + b"]" * 200_000
HUGE = "99999999999999999999999"


def _error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body is not None and set(body) == {"error"}, body
    assert set(body["error"]) == {"status", "code", "message", "details"}
    assert body["error"]["status"] == status
    return dict(body["error"])


JSON_ROUTES = [
    ("POST", "/api/v1/sources", "zed"),
    ("PATCH", f"/api/v1/sources/{SOURCE}", "zed"),
    ("POST", "/api/v1/accounts", "ops"),
    ("POST", "/api/v1/schemes", "reg"),
    ("POST", "/api/v1/webhooks", "reg"),
]
HOSTILE_BODIES = {
    "nested 200,000 deep": DEEP,
    "lone high surrogate": b'{"id": "x\\ud800", "format": "csv", "name": "\\ud800"}',
    "lone low surrogate": b'{"id": "x", "name": "\\udc00"}',
    "NUL in a string": b'{"id": "x\\u0000y", "format": "csv", "name": "n"}',
    "NUL in a key": b'{"id\\u0000": "x"}',
    "deep object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_BODIES))
def test_hostile_json_bodies_are_400_on_every_json_route(world: World, kind: str) -> None:
    before = world.store.list_sources()
    for method, path, who in JSON_ROUTES:
        response = world.client.open(
            path,
            method=method,
            data=HOSTILE_BODIES[kind],
            headers={**world.auth(who), "Content-Type": "application/json"},
        )
        error = _error(response, 400)
        assert "JSON" in error["message"], (path, error)
    assert world.store.list_sources() == before


def test_a_json_body_error_names_the_reason(world: World) -> None:
    response = world.client.post(
        "/api/v1/sources",
        data=HOSTILE_BODIES["lone high surrogate"],
        headers={**world.auth("zed"), "Content-Type": "application/json"},
    )
    assert "surrogate" in _error(response, 400)["message"]
    deep = world.client.post(
        "/api/v1/sources", data=DEEP, headers={**world.auth("zed"), "Content-Type": "application/json"}
    )
    assert "depth" in _error(deep, 400)["message"]


@pytest.fixture
def elm_world(world: World) -> World:
    world.store.save_source(Source("zed-elm", "elm-rdf", name="Zed ELM", owner="zed"))
    provider = {"provider": {"name": "Uni Zed", "country": "NLD"}}  # the OOAPI example names none
    world.store.save_source(
        Source("zed-json", "json", name="Zed OOAPI", mapping="ooapi", owner="zed", settings=provider)
    )
    return world


@pytest.mark.parametrize(
    "feed",
    [
        pytest.param(b'{"@context": {}, "@graph": ' + DEEP + b"}", id="jsonld-nested-200k"),
        pytest.param(
            b'{"@id": "http://example.org/x", "http://purl.org/dc/terms/title": "\\ud800"}',
            id="jsonld-lone-surrogate",
        ),
    ],
)
def test_hostile_json_ld_feeds_are_refused_with_422(elm_world: World, feed: bytes) -> None:
    for dry in ("true", "false"):
        response = elm_world.client.post(
            f"/api/v1/sources/zed-elm/feed?dry_run={dry}",
            data=feed,
            headers={**elm_world.auth("zed"), "Content-Type": "application/ld+json"},
        )
        error = _error(response, 422)
        assert error["code"] == "feed_rejected"
        assert error["details"]["run"]["status"] == RunStatus.FAILED.value
        assert "internal error" not in error["message"], error["message"]


def test_a_json_feed_record_with_a_lone_surrogate_is_an_issue_not_a_crash(elm_world: World) -> None:
    good = json.loads((FIXTURES / "ooapi_course_example.json").read_text(encoding="utf-8"))
    text = json.dumps([good, {**good, "courseId": "bad-one"}])
    bad_start = text.index('"bad-one"')
    feed = (text[:bad_start] + '"bad-\\ud800-one"' + text[bad_start + len('"bad-one"') :]).encode()
    response = elm_world.client.post(
        "/api/v1/sources/zed-json/feed?dry_run=false",
        data=feed,
        headers={**elm_world.auth("zed"), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    run = response.get_json()["run"]
    assert run["counts"]["added"] >= 1, run["counts"]  # the good record landed
    if run["counts"]["added"] == 1:  # the bad one was refused: the report says why
        assert any("surrogate" in issue["message"] for issue in run["issues"]), run["issues"]
    for stored in elm_world.store.iter_courses(source_id="zed-json"):
        # nothing stored holds a lone surrogate (it would not encode)
        json.dumps(course_to_dict(stored.course), ensure_ascii=False).encode("utf-8")


def _int_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, rule) of every route with an integer path argument."""
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "<int:" in rule.rule
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    )


@pytest.mark.parametrize("value", [HUGE, str(2**63), "٣", "１２"])
def test_integers_beyond_64_bits_in_paths_are_404(world: World, value: str) -> None:
    routes = _int_routes(world.app)
    assert ("GET", "/api/v1/runs/<int:run_id>") in routes and ("GET", "/runs/<int:run_id>") in routes
    assert ("POST", "/api/v1/runs/<int:run_id>/confirm-withdrawals") in routes
    for method, rule in routes:
        path = re.sub(r"<int:[a-z_]+>", value, rule)
        response = world.client.open(path, method=method, headers=world.auth("ops"))
        assert response.status_code == 404, (path, response.status_code)
        if path.startswith("/api/"):
            _error(response, 404)


def test_the_largest_64_bit_run_id_is_a_plain_404(world: World) -> None:
    for path in (f"/api/v1/runs/{2**63 - 1}", f"/runs/{2**63 - 1}"):
        assert world.client.get(path).status_code == 404


WHOLE_NUMBER_PARAMETERS = [
    f"/api/v1/sources/{SOURCE}/runs?limit=",
    "/api/v1/changes?limit=",
    "/api/v1/changes?since=",
    "/api/v1/suggest?q=ab&limit=",
    "/api/v1/search?page=",
    "/api/v1/search?page_size=",
    "/api/v1/schemes/s/courses?limit=",
]


@pytest.mark.parametrize("value", ["²", "٣", "１２", "-1", HUGE, "1e3", "0x10", "1_000", "7.0"])
def test_whole_number_parameters_refuse_anything_but_ascii_digits(world: World, value: str) -> None:
    world.client.post(
        "/api/v1/schemes", json={"id": "s", "name": "S", "rules": []}, headers=world.auth("reg")
    )
    for prefix in WHOLE_NUMBER_PARAMETERS:
        response = world.client.get(prefix + value)
        error = _error(response, 400)
        assert error["code"] in {"invalid_query", "bad_request"}, (prefix, error)


def _string_paths(app: Flask, value: str) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.rule.startswith("/static") or "<int:" in rule.rule:
            continue
        if "<" in rule.rule:
            paths.append(re.sub(r"<(?:[a-z]+:)?[a-z_]+>", value, rule.rule))
    return sorted(paths)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    config: dict[str, Any] = {}
    if request.param == "postgresql":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_app(tmp_path / "instance", **config)
    services = get_services(app)
    services.store.migrate()
    services.store.save_source(Source(SOURCE, "csv", name="Zed", mapping="edx-csv"))
    yield app
    services.close()


def test_nul_in_any_path_parameter_is_a_clean_404(any_backend: Flask) -> None:
    client = any_backend.test_client()
    paths = _string_paths(any_backend, "%00")
    assert "/api/v1/courses/%00" in paths and "/courses/%00" in paths and len(paths) >= 10
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, (
            path,
            response.status_code,
            response.get_data(as_text=True)[:200],
        )


QUERY_NULS = [
    "/api/v1/changes?scheme=%00",
    "/api/v1/search?provider=%00",
    "/api/v1/search?q=a%00b",
    "/api/v1/schemes?owner=%00",
    "/api/v1/suggest?q=ab%00",
    "/?q=%00",
    "/runs/1?severity=%00",
]


def test_nul_in_query_parameters_is_a_clean_400(any_backend: Flask) -> None:
    client = any_backend.test_client()
    for path in QUERY_NULS:
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        if path.startswith("/api/"):
            _error(response, 400)


def test_oai_arguments_with_nul_are_a_protocol_error(any_backend: Flask) -> None:
    client = any_backend.test_client()
    for query in (
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:catalogue.example.org:%00",
        "verb=ListRecords&metadataPrefix=oai_dc&set=provider:%00",
        "verb=ListRecords&resumptionToken=%00",
    ):
        response = client.get(f"/oai?{query}")
        assert response.status_code == 200, (query, response.status_code)
        assert b"<error code=" in response.data, response.data[:500]


@pytest.mark.parametrize(
    "dates",
    [
        "until=9999-12-31",
        "until=9999-12-31T23:59:59Z",
        "from=0001-01-01&until=9999-12-31",
        "from=9999-12-31T23:59:59Z",
        "from=٢٠٢٥-٠١-٠١",
        "from=2025-02-30",
        "from=2025-01-01&until=2024-01-01",
    ],
)
def test_oai_dates_at_the_edges_of_the_calendar_are_answered(world: World, dates: str) -> None:
    response = world.client.get(f"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&{dates}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert "<ListIdentifiers>" in body or '<error code="' in body


def test_a_login_next_with_a_newline_is_not_a_500(world: World) -> None:
    for target in ("/x\r\nSet-Cookie: evil=1", "/dashboard/\n", "\n/dashboard/", "/%0d%0a"):
        client = world.app.test_client()
        form = {"token": world.tokens["zed"], "csrf_token": csrf_of(client, "/dashboard/login")}
        response = client.post("/dashboard/login", query_string={"next": target}, data=form)
        assert response.status_code in {302, 303}, (target, response.status_code)
        location = response.headers["Location"]
        assert (
            "\n" not in location
            and "\r" not in location
            and "evil" not in response.headers.get("Set-Cookie", "")
        )


def test_the_initial_feed_is_still_served(world: World) -> None:
    # guard against a fixture that published nothing (every test above would pass vacuously)
    assert world.store.count_courses() == len(INITIAL)
    assert edx_csv(INITIAL)
