"""Abuse at the HTTP surface: forged tokens on every write route, upload file names, query
injection, anonymous rate limiting, security headers on every UI page, CSRF on every UI form.

SSRF (feed URLs to loopback, private ranges, redirects, DNS answers) is covered by
tests/harvesters/test_http_fetcher.py; oversize uploads by tests/web/test_api_sources.py.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from flask import Flask

from tests.web.conftest import _no_catalogue_env, app, app_factory, client, edx_app, edx_client
from tests.web.publishing import INITIAL, SOURCE, World, edx_csv, world

__all__ = ["_no_catalogue_env", "app", "app_factory", "client", "edx_app", "edx_client", "world"]

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def write_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, path with dummy ids) of every state-changing /api/ route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            path = re.sub(r"<(?:int:)?([a-z_]+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)
            found.append((method, path))
    return sorted(found)


def forged_tokens(real: str) -> dict[str, str]:
    token_id = real.split(".", 1)[0]
    return {
        "missing": "",
        "wrong-scheme": f"Basic {real}",
        "right-id-wrong-secret": f"Bearer {token_id}.{'A' * 43}",
        "right-id-truncated-secret": f"Bearer {real[:-1]}",
        "malformed": "Bearer cat_zzz",
        "very-long": "Bearer " + "cat_" + "a" * 100_000,
        "non-ascii": "Bearer cat_é€🙂.ünïcödé",
        "sql-ish": "Bearer cat_000000000000.' OR '1'='1' --xxxxxxxxxxxxxxxxxxxxxxxxxx",
        "empty-bearer": "Bearer ",
    }


def test_every_write_route_refuses_missing_and_forged_tokens(world: World) -> None:
    routes = write_routes(world.app)
    assert len(routes) >= 5
    before = world.store.count_courses(include_withdrawn=True)
    for name, header in forged_tokens(world.tokens["zed"]).items():
        headers = {"Authorization": header} if header else {}
        for method, path in routes:
            try:
                response = world.client.open(path, method=method, headers=headers, json={})
            except UnicodeEncodeError:
                continue  # the HTTP layer cannot even carry it: nothing reached the app
            assert response.status_code == 401, (name, method, path, response.status_code)
            assert response.get_json()["error"]["status"] == 401
            assert "Bearer" in response.headers["WWW-Authenticate"]
    assert world.store.count_courses(include_withdrawn=True) == before


TRAVERSALS = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "feed.csv\x00.xml",
    "%2e%2e/x.csv",
]


@pytest.mark.parametrize("filename", TRAVERSALS)
def test_upload_file_names_never_touch_the_filesystem(world: World, tmp_path: Path, filename: str) -> None:
    """The multipart file name is only used to guess a media type: the feed is read into memory
    and staged in the database. (The CLI's --file is trusted local input: an operator's path.)"""
    instance = Path(world.app.instance_path)
    before = {p for p in instance.rglob("*") if not p.name.endswith(("-wal", "-shm", "-journal"))}
    data = {"file": (io.BytesIO(edx_csv(INITIAL)), filename, "text/csv")}
    response = world.client.post(
        f"/api/v1/sources/{SOURCE}/feed",
        data=data,
        headers=world.auth("zed"),
        content_type="multipart/form-data",
    )
    assert response.status_code in {200, 400, 415}, response.get_json()
    after = {p for p in instance.rglob("*") if not p.name.endswith(("-wal", "-shm", "-journal"))}
    new = {p for p in after - before if "locks" not in p.parts}
    assert not new, f"the upload created files: {new}"
    assert not any("passwd" in str(p) or "win.ini" in str(p) for p in after)
    assert not (Path("/etc/passwd").exists() and os.path.getmtime("/etc/passwd") > os.path.getmtime(instance))


INJECTIONS = [
    'title:"x" OR status:withdrawn',
    "*:*",
    "status:withdrawn",
    "id:[* TO *]",
    "(((",
    "\\",
    '"',
    "a AND OR NOT b",
    "title:~2",
    "{'query': {'match_all': {}}}",
    '{"script": "System.exit(0)"}',
    "' OR 1=1 --",
    "\x00\x01\x02",
    "é" * 5000,
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_query_syntax_in_search_text_never_leaks(edx_client, text: str) -> None:
    for path in ("/api/v1/search", "/api/v1/suggest"):
        response = edx_client.get(path, query_string={"q": text})
        assert response.status_code in {200, 400}, (path, text, response.status_code)
        body = response.get_json()
        if response.status_code == 400:
            assert body["error"]["code"] in {"invalid_query", "bad_request"}
            assert "tantivy" not in body["error"]["message"].lower()
    response = edx_client.get("/api/v1/search", query_string={"q": text, "include_withdrawn": "true"})
    assert response.status_code in {200, 400}
    hits = edx_client.get("/api/v1/search", query_string={"q": text}).get_json().get("hits", [])
    assert all(hit.get("status", "active") == "active" for hit in hits), "injection exposed withdrawn courses"


@pytest.mark.parametrize("name", ["country", "eqf", "language", "provider", "sort", "page", "page_size"])
@pytest.mark.parametrize("value", ['x" OR "1"="1', "*", "NLD OR *", "-1", "99999999999999999999", "]["])
def test_query_syntax_in_filters_never_leaks(edx_client, name: str, value: str) -> None:
    response = edx_client.get("/api/v1/search", query_string={name: value})
    assert response.status_code in {200, 400}, (name, value, response.get_json())


def test_anonymous_api_use_is_rate_limited_in_the_error_shape(app_factory, world: World) -> None:
    limited = app_factory(RATELIMIT_ANONYMOUS="5/minute")
    from course_catalogue.services.runtime import get_services

    get_services(limited).store.migrate()
    c = limited.test_client()
    codes = [c.get("/api/v1/search", query_string={"q": "x"}).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    response = c.get("/api/v1/search")
    assert response.status_code == 429
    assert response.get_json()["error"]["status"] == 429
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0
    assert c.get("/").status_code == 200, "the UI is not limited"
    other = c.get("/api/v1/search", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200, "the budget is per client address"


def test_valid_tokens_are_exempt_from_the_anonymous_limit(app_factory) -> None:
    from course_catalogue.catalogue.account_store import AccountStore
    from course_catalogue.catalogue.accounts import Role
    from course_catalogue.services.runtime import get_services

    limited = app_factory(RATELIMIT_ANONYMOUS="2/minute")
    store = get_services(limited).store
    store.migrate()
    accounts = AccountStore(store)
    accounts.create_account("p", "P", Role.PROVIDER)
    token = accounts.issue_token("p", "t").plaintext
    c = limited.test_client()
    ok = [c.get("/api/v1/search", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(6)]
    assert ok == [200] * 6
    forged = token.split(".")[0] + "." + "B" * 43
    codes = [
        c.get("/api/v1/search", headers={"Authorization": f"Bearer {forged}"}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429], "a forged token counts as anonymous"


def ui_pages(app: Flask) -> list[str]:
    """Every GET page outside /api/ and /static/, with real ids where the edX app has them."""
    from course_catalogue.services.runtime import get_services

    course = next(get_services(app).store.iter_courses()).id
    values = {
        "course_id": course,
        "provider_key": "harvardx",
        "source_id": "edx",
        "run_id": "1",
        "staged_id": "x",
    }
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.rule.startswith(("/api/", "/static")):
            continue
        pages.append(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values.get(m.group(1), "x"), rule.rule))
    return sorted(pages)


def test_every_ui_page_sends_the_security_headers(edx_app: Flask, edx_client) -> None:
    pages = ui_pages(edx_app)
    assert "/" in pages and len(pages) >= 6
    for page in [*pages, "/no-such-page"]:
        response = edx_client.get(page)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, page
        assert response.headers.get("X-Content-Type-Options") == "nosniff", page
        assert response.headers.get("X-Frame-Options") == "DENY", page


READ_ONLY_POSTS = {"/oai"}


def test_every_ui_form_post_without_a_csrf_token_is_refused(world: World) -> None:
    world.app.config["WTF_CSRF_ENABLED"] = True
    c = world.app.test_client()
    # log in properly (with the token from the login form) so the refusals are about CSRF only
    page = c.get("/dashboard/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf, "the login form carries a CSRF token"
    assert c.post("/dashboard/login", data={"token": world.tokens["zed"]}).status_code == 400
    logged = c.post("/dashboard/login", data={"token": world.tokens["zed"], "csrf_token": csrf.group(1)})
    assert logged.status_code in {302, 303}
    posts = sorted(
        re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SOURCE if m.group(1) == "source_id" else "x", rule.rule)
        for rule in world.app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and not rule.rule.startswith("/api/")
    )
    # OAI-PMH allows POST for its (read-only) protocol requests: not a form, changes nothing.
    posts = [p for p in posts if p not in READ_ONLY_POSTS]
    assert len(posts) >= 4, posts
    for path in posts:
        response = c.post(path, data={"name": "x", "token": world.tokens["zed"]})
        assert response.status_code == 400, (path, response.status_code)
        assert (
            "CSRF" in response.get_data(as_text=True) or "csrf" in response.get_data(as_text=True).lower()
        ), path
