"""The provider dashboard: token login in a signed session, CSRF on every form, quality and issues,
upload with a dry-run preview and a confirm button."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.model import course_id
from tests.web.publishing import INITIAL, SOURCE, SUMMARY, URL, World, edx_csv, first_rows, world

__all__ = ["world"]


def csrf_of(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(w: World, who: str) -> FlaskClient:
    client = w.app.test_client()
    token = csrf_of(client, "/dashboard/login")
    response = client.post("/dashboard/login", data={"token": w.tokens[who], "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard/")
    return client


def _upload(client: FlaskClient, feed: bytes, *, csrf: str | None) -> tuple[int, str]:
    data: dict[str, object] = {"file": (io.BytesIO(feed), "courses.csv", "text/csv")}
    if csrf is not None:
        data["csrf_token"] = csrf
    response = client.post(
        f"/dashboard/sources/{SOURCE}/upload", data=data, content_type="multipart/form-data"
    )
    return response.status_code, response.get_data(as_text=True)


def test_pages_need_a_login(world: World) -> None:
    response = world.client.get("/dashboard/")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


def test_login_needs_csrf_and_a_valid_token(world: World) -> None:
    client = world.app.test_client()
    no_csrf = client.post("/dashboard/login", data={"token": world.tokens["zed"]})
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.get_data(as_text=True)
    token = csrf_of(client, "/dashboard/login")
    wrong = client.post("/dashboard/login", data={"token": "cat_x", "csrf_token": token})
    assert wrong.status_code == 401 and "not valid" in wrong.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302


def test_the_dashboard_shows_sources_quality_runs_and_issues_by_field(world: World) -> None:
    client = log_in(world, "zed")
    index = client.get("/dashboard/").get_data(as_text=True)
    assert "Zed&#39;s courses" in index and "Quality score" in index
    page = client.get(f"/dashboard/sources/{SOURCE}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "Completeness per standard element" in html and "EQF level" in html
    assert "Issues by standard element and severity" in html
    # edX gives no country: a warning, named as the standard element in words, not as a field code
    assert '<th scope="row">Country of the provider</th>' in html and "provider.country" not in html
    assert re.search(r"Quality score: \d+%", html)
    assert "<script" not in html and "<script" not in index  # CSP: no inline scripts


def test_the_session_cookie_holds_no_token(world: World) -> None:
    client = log_in(world, "zed")
    cookie = client.get_cookie("session")
    assert cookie is not None and world.tokens["zed"] not in cookie.value


def test_upload_previews_then_confirm_publishes(world: World) -> None:
    client = log_in(world, "zed")
    rows = first_rows(12)
    rows[0][SUMMARY] = "Rewritten summary."
    feed = edx_csv(rows)
    csrf = csrf_of(client, f"/dashboard/sources/{SOURCE}")
    status, html = _upload(client, feed, csrf=csrf)
    assert status == 200, html
    assert "nothing has changed yet" in html and "update <strong>1</strong>" in html
    pending = client.get(f"/dashboard/sources/{SOURCE}").get_data(as_text=True)
    assert '<strong class="code">courses.csv</strong>:' in pending  # the pending upload is named
    assert f"{rows[0][URL]}</span>" in html
    # the preview shows the changed element in words with its value now and after publishing
    before_after = html[html.index(f"{rows[0][URL]}</span>") :]
    assert '<th scope="row">Description</th>' in before_after
    assert "<del>Learn essential strategies" in before_after and "<ins>Rewritten summary." in before_after
    changed = course_id(SOURCE, rows[0][URL])
    assert "Rewritten" not in world.store.get_course(changed).course.description["en"]
    confirm = re.search(r'action="(/dashboard/sources/[^"]+/confirm)"', html)
    assert confirm
    response = client.post(confirm.group(1), data={"csrf_token": csrf})
    assert response.status_code == 303 and "/runs/" in response.headers["Location"]
    assert "Rewritten summary." in world.store.get_course(changed).course.description["en"]
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="notice notice-success"' in confirmation and "Published. Run" in confirmation
    assert "updated 1 and" in confirmation


def test_forms_without_a_csrf_token_are_rejected(world: World) -> None:
    client = log_in(world, "zed")
    runs_before = len(world.store.list_runs(SOURCE, limit=100))
    status, html = _upload(client, edx_csv(INITIAL[:3]), csrf=None)
    assert status == 400 and "CSRF" in html
    assert len(world.store.list_runs(SOURCE, limit=100)) == runs_before
    status, _ = _upload(client, edx_csv(INITIAL[:3]), csrf="forged")
    assert status == 400
    logout = client.post("/dashboard/logout")
    assert logout.status_code == 400
    assert client.get("/dashboard/").status_code == 200  # still logged in


def test_another_provider_cannot_see_or_upload_to_a_source(world: World) -> None:
    client = log_in(world, "other")
    assert SOURCE not in client.get("/dashboard/").get_data(as_text=True)
    assert client.get(f"/dashboard/sources/{SOURCE}").status_code == 404
    csrf = csrf_of(client, "/dashboard/")
    status, _ = _upload(client, edx_csv(INITIAL), csrf=csrf)
    assert status == 403
    assert world.store.get_course(course_id(SOURCE, INITIAL[0][URL])).status is CourseStatus.ACTIVE


def test_revoking_the_token_ends_the_session_and_logout_works(world: World) -> None:
    client = log_in(world, "zed")
    assert client.get("/dashboard/").status_code == 200
    csrf = csrf_of(client, "/dashboard/")
    assert client.post("/dashboard/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/dashboard/").status_code == 302
    client = log_in(world, "zed")
    AccountStore(world.store).revoke_token(world.token_ids["zed"])
    assert client.get("/dashboard/").status_code == 302


def test_register_a_feed_through_the_form(world: World) -> None:
    client = log_in(world, "zed")
    csrf = csrf_of(client, "/dashboard/sources/new")
    form = {"id": "zed-pull", "name": "Pulled", "format": "csv", "mapping": "edx-csv", "csrf_token": csrf}
    bad = client.post("/dashboard/sources/new", data={**form, "schedule_minutes": "2"})
    assert bad.status_code == 400 and "at least 15" in bad.get_data(as_text=True)
    unknown = client.post("/dashboard/sources/new", data={**form, "mapping": "edx"})
    message = unknown.get_data(as_text=True)
    assert unknown.status_code == 400 and "no usable mapping spec named edx" in message
    assert "Valid names:" in message and "edx-csv" in message and "xcri-cap" in message
    good = client.post(
        "/dashboard/sources/new",
        data={**form, "url": "https://feeds.example/c.csv", "schedule_minutes": "60"},
    )
    assert good.status_code == 303
    source = world.store.get_source("zed-pull")
    assert (source.owner, source.schedule_minutes, source.url) == ("zed", 60, "https://feeds.example/c.csv")
    registry = log_in(world, "reg")
    assert registry.get("/dashboard/sources/new").status_code == 403
