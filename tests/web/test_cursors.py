"""Issue 22, class 19: a malformed cursor is a 400 in the error shape, never a silent first page;
and `catalogue repair --dry-run` lists the stuck runs it would fail.

Cursors: the search `cursor` (API, HTML page, facets, export), the changes feed's `since` (and a
`cursor` parameter it does not take), OAI-PMH resumption tokens (a protocol error in the XML, as
OAI-PMH requires: HTTP 200 with `badResumptionToken`, never a list from the start).
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.web.publishing import SOURCE, World, world

__all__ = ["world"]

MALFORMED = [
    "garbage",
    "x" * 300,
    "%%%",
    "WyJh",  # base64 of '["a' (a cursor's start, cut)
    base64.urlsafe_b64encode(b'["abc","relevance",[],-1]').decode().rstrip("="),  # negative position
    base64.urlsafe_b64encode(b'{"a": 1}').decode().rstrip("="),
    base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode()[:1900],
]


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


def _page_two(client: FlaskClient) -> tuple[str, str]:
    first = client.get("/api/v1/search?page_size=5").get_json()
    assert first["next_cursor"], "the edX catalogue has more than one page"
    return first["next_cursor"], first["hits"][0]["id"]


@pytest.mark.parametrize("cursor", MALFORMED)
def test_a_malformed_search_cursor_is_400(edx_client: FlaskClient, cursor: str) -> None:
    for path in ("/api/v1/search", "/api/v1/facets", "/api/v1/export"):
        error = _error(
            edx_client.get(
                path,
                query_string={"cursor": cursor, "page_size": "5"}
                if path.endswith("search")
                else {"cursor": cursor},
            )
        )
        assert error["code"] == "invalid_query" and "cursor" in error["message"], (path, error)
    page = edx_client.get("/", query_string={"cursor": cursor})
    assert page.status_code == 400
    assert "cursor" in page.get_data(as_text=True)


def test_a_cut_or_altered_real_cursor_is_400(edx_client: FlaskClient) -> None:
    cursor, first_hit = _page_two(edx_client)
    second = edx_client.get("/api/v1/search", query_string={"page_size": "5", "cursor": cursor})
    assert second.status_code == 200 and second.get_json()["hits"][0]["id"] != first_hit
    for broken in (
        cursor[:-3],
        cursor[:10],
        cursor + "AA",
        cursor.replace(cursor[5], "A" if cursor[5] != "A" else "B", 1),
    ):
        response = edx_client.get("/api/v1/search", query_string={"page_size": "5", "cursor": broken})
        assert response.status_code == 400, (broken, response.get_json())


def test_an_empty_cursor_is_the_first_page(edx_client: FlaskClient) -> None:
    assert edx_client.get("/api/v1/search?cursor=").status_code == 200
    assert edx_client.get("/api/v1/search?cursor=%20").status_code == 200


@pytest.mark.parametrize("since", ["garbage", "-1", "1.5", "0x10", "²", "1" * 19, "5 6"])
def test_a_malformed_changes_cursor_is_400(world: World, since: str) -> None:
    error = _error(world.client.get("/api/v1/changes", query_string={"since": since}))
    assert "since" in error["message"]


def test_the_changes_feed_refuses_parameters_it_does_not_take(world: World) -> None:
    # `cursor` instead of `since`: before, ignored, so the feed silently restarted at the start
    error = _error(world.client.get("/api/v1/changes?cursor=5"))
    assert "cursor" in error["message"] and "since" in error["message"]
    assert world.client.get("/api/v1/changes?since=0&limit=5").status_code == 200


def _oai_error(client: FlaskClient, query: str) -> str | None:
    response = client.get(f"/oai?{query}")
    assert response.status_code == 200  # OAI-PMH: errors are in the document
    found = re.search(rb'<error code="([A-Za-z]+)"', response.data)
    return found.group(1).decode() if found else None


def test_malformed_oai_resumption_tokens_are_protocol_errors(world: World) -> None:
    world.app.config["OAI_PAGE_SIZE"] = 5
    first = world.client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data
    token = re.search(rb"<resumptionToken[^>]*>([^<]+)<", first)
    assert token, "12 courses in pages of 5 give a token"
    real = token.group(1).decode()
    for bad in ("garbage", real[:-2], real + "x", real.replace(".", "!", 1), "", "%00"):
        assert _oai_error(world.client, f"verb=ListIdentifiers&resumptionToken={bad}") in {
            "badResumptionToken",
            "badArgument",
        }, bad
    assert _oai_error(world.client, f"verb=ListRecords&resumptionToken={real}") == "badResumptionToken"
    assert _oai_error(world.client, f"verb=ListIdentifiers&resumptionToken={real}") is None


def test_repair_dry_run_lists_the_stuck_runs_it_would_fail(world: World) -> None:
    store = world.store
    stuck = store.start_run(SOURCE, trigger="api")  # a harvest that died: RUNNING, its lock free
    assert stuck.run_id is not None
    runner = world.app.test_cli_runner()
    dry = runner.invoke(main, ["repair", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Would mark interrupted run(s) {stuck.run_id} FAILED" in dry.output, dry.output
    as_json = json.loads(runner.invoke(main, ["repair", "--dry-run", "--json"]).output)
    assert as_json["stale_runs"] == [stuck.run_id] and as_json["reaped_runs"] == []
    assert store.get_run(stuck.run_id).status is RunStatus.RUNNING, "a dry run changes nothing"
    real = runner.invoke(main, ["repair", "--json"])
    assert json.loads(real.output)["reaped_runs"] == [stuck.run_id]
    assert store.get_run(stuck.run_id).status is RunStatus.FAILED


def test_repair_dry_run_does_not_list_a_run_whose_harvest_is_alive(world: World) -> None:
    store = world.store
    live = store.start_run(SOURCE, trigger="api")
    services = get_services(world.app)
    with services.locks.hold(SOURCE):  # a live harvest holds its source's lock
        output = json.loads(
            world.app.test_cli_runner().invoke(main, ["repair", "--dry-run", "--json"]).output
        )
    assert live.run_id not in output["stale_runs"]
    assert store.get_run(live.run_id).status is RunStatus.RUNNING


def test_the_html_search_page_shows_the_cursor_error(edx_app: Flask) -> None:
    html = edx_app.test_client().get("/?cursor=garbage").get_data(as_text=True)
    assert "cursor is not valid" in html
