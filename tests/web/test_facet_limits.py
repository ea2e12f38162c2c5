"""Issue 22, class 9: one anonymous GET cannot make a huge page or a long request, and the HTML
pages and /oai are rate limited like the API.

* A request names at most MAX_FILTER_VALUES filter values (every facet parameter together,
  repeats counted): beyond that, 400 in the error shape (API, HTML page, facets, export). Before,
  ~8,000 `eqf` values in a 28 KB URL built 223 MB of HTML (every toggle link repeats the query).
* Within the cap, the page stays small: each link is built in time linear in the query (no
  rescans of the selection per value), so the page grows with links x query, both bounded.
* Anonymous budgets per client IP for the HTML pages (RATELIMIT_PAGES) and /oai
  (RATELIMIT_OAI), separate from the API's; 429 with Retry-After; static files, valid tokens
  and logged-in dashboard sessions exempt; counters shared through Redis by URI.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.search.query import MAX_FILTER_VALUES
from course_catalogue.services.runtime import get_services
from course_catalogue.web.facets import toggled
from tests.services.test_tasks import REDIS_URL, require_redis
from tests.web.test_dashboard import csrf_of


def _eqf(n: int, *, distinct: bool = True) -> list[tuple[str, str]]:
    return [("eqf", str(i) if distinct else "5") for i in range(n)]


@pytest.mark.parametrize("path", ["/api/v1/search", "/api/v1/facets", "/api/v1/export", "/"])
def test_more_filter_values_than_the_cap_are_a_400(edx_client: FlaskClient, path: str) -> None:
    ok = edx_client.get(path, query_string=_eqf(MAX_FILTER_VALUES))
    assert ok.status_code == 200, ok.get_data(as_text=True)[:300]
    for args in (_eqf(MAX_FILTER_VALUES + 1), _eqf(8000), _eqf(8000, distinct=False)):
        response = edx_client.get(path, query_string=args)
        assert response.status_code == 400, (path, len(args), response.status_code)
        text = response.get_data(as_text=True)
        assert str(MAX_FILTER_VALUES) in text, text[:300]
        if path.startswith("/api/"):
            error = response.get_json()["error"]
            assert error["code"] == "invalid_query" and set(error) == {"status", "code", "message", "details"}
        sent = sum(len(name) + len(value) + 2 for name, value in args)
        # the page's 3 language links keep the query (HTML-escaped): linear in what was sent
        assert len(response.data) < 50_000 + 8 * sent, "the refusal is small"


def test_the_cap_counts_every_facet_together(edx_client: FlaskClient) -> None:
    half = MAX_FILTER_VALUES // 2 + 1
    args = [("country", f"C{i:02}") for i in range(half)] + [("language", f"l{i}") for i in range(half)]
    assert edx_client.get("/api/v1/search", query_string=args).status_code == 400


def test_a_page_at_the_cap_stays_bounded(edx_client: FlaskClient) -> None:
    args = _eqf(MAX_FILTER_VALUES)  # none of these levels has hits: every one is shown, with a link
    html = edx_client.get("/", query_string=args)
    api = edx_client.get("/api/v1/search", query_string=args)
    assert html.status_code == api.status_code == 200
    # links x query: ~(facet values + 100) links of <= 100 values each
    assert len(html.data) < 3_000_000 and len(api.data) < 3_000_000, (len(html.data), len(api.data))


def test_switching_a_broad_field_off_drops_everything_under_it() -> None:
    narrow = (*(f"06{i}" for i in range(10)), "071")
    detailed = tuple(f"{n}{j}" for n in narrow for j in range(3))
    filters = {"field": ("06", "07"), "field_narrow": narrow, "field_detailed": detailed}
    off = toggled(filters, "field", "06")
    assert off["field"] == ("07",)
    assert off["field_narrow"] == ("071",)
    assert off["field_detailed"] == ("0710", "0711", "0712")
    on = toggled(off, "field", "06")
    assert on["field"] == ("07", "06")


def _limited(app_factory: Any, **config: str) -> Flask:
    app: Flask = app_factory(**config)
    get_services(app).store.migrate()
    return app


def test_html_pages_have_their_own_anonymous_budget(app_factory: Any) -> None:
    app = _limited(app_factory, RATELIMIT_PAGES="3/minute", RATELIMIT_ANONYMOUS="100/minute")
    c = app.test_client()
    codes = [c.get(path).status_code for path in ("/", "/sources", "/?q=x", "/")]
    assert codes == [200, 200, 200, 429], codes
    limited = c.get("/sources")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "429" in limited.get_data(as_text=True) and "<html" in limited.get_data(as_text=True)
    assert c.get("/api/v1/search").status_code == 200, "the API budget is separate"
    assert c.get("/static/catalogue.css").status_code in {200, 304}, "static files are never limited"
    other = c.get("/", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200, "the budget is per client address"


def test_oai_has_its_own_anonymous_budget(app_factory: Any) -> None:
    app = _limited(app_factory, RATELIMIT_OAI="2/minute")
    c = app.test_client()
    codes = [c.get("/oai?verb=Identify").status_code for _ in range(3)]
    assert codes == [200, 200, 429], codes
    response = c.get("/oai?verb=Identify")
    error = response.get_json()["error"]
    assert error["status"] == 429 and error["code"] == "too_many_requests"
    assert int(response.headers["Retry-After"]) > 0
    assert c.get("/").status_code == 200


def test_known_callers_are_exempt_from_the_page_and_oai_budgets(app_factory: Any) -> None:
    app = _limited(app_factory, RATELIMIT_PAGES="2/minute", RATELIMIT_OAI="1/minute")
    accounts = AccountStore(get_services(app).store)
    accounts.create_account("reg", "Registry", Role.REGISTRY)
    accounts.create_account("zed", "Zed", Role.PROVIDER)
    token = {"Authorization": f"Bearer {accounts.issue_token('reg', 't').plaintext}"}
    c = app.test_client()
    assert [c.get("/oai?verb=Identify", headers=token).status_code for _ in range(3)] == [200] * 3
    session = app.test_client()
    login = {
        "token": accounts.issue_token("zed", "t").plaintext,
        "csrf_token": csrf_of(session, "/dashboard/login"),
    }
    assert session.post("/dashboard/login", data=login).status_code == 302  # the budget's 2nd request
    assert [session.get("/dashboard/").status_code for _ in range(3)] == [200] * 3, "logged in: exempt"
    assert session.get("/sources").status_code == 200
    forged = {"Authorization": "Bearer cat_nope.nope"}
    anonymous = [
        c.get("/oai?verb=Identify", headers=forged, environ_base={"REMOTE_ADDR": "10.1.1.1"})
        for _ in range(2)
    ]
    assert [r.status_code for r in anonymous] == [200, 429], "a forged token counts as anonymous"


def test_counters_are_shared_through_redis(app_factory: Any) -> None:
    require_redis()
    config = {"RATELIMIT_PAGES": "3/minute", "RATELIMIT_STORAGE_URI": f"{REDIS_URL}/0"}
    first, second = _limited(app_factory, **config), _limited(app_factory, **config)
    client_ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    environ = {"REMOTE_ADDR": client_ip}  # a fresh address: no counter from an earlier run
    a, b = first.test_client(), second.test_client()
    codes = [
        a.get("/", environ_base=environ).status_code,
        b.get("/", environ_base=environ).status_code,
        a.get("/", environ_base=environ).status_code,
        b.get("/", environ_base=environ).status_code,
    ]
    assert codes == [200, 200, 200, 429], "two processes (apps) share one budget in Redis"
