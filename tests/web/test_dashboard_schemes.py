"""The registry dashboard's scheme pages: define, change, decide, counts; login, CSRF, ownership."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient

from tests.web.publishing import World, world
from tests.web.test_dashboard import csrf_of, log_in

__all__ = ["world"]

RULES = [{"id": "fr", "field": "provider.country", "op": "in", "value": ["FRA"]}]
EVERYTHING = [{"id": "any", "field": "title", "op": "present"}]


def _define(client: FlaskClient, rules: object = RULES, **extra: str) -> tuple[int, str, str]:
    """POST the new-scheme form: (status, Location or "", body)."""
    form = {
        "csrf_token": csrf_of(client, "/dashboard/schemes/new"),
        "id": "fund",
        "name": "Skills fund",
        "description": "Courses of French providers",
        "rules": rules if isinstance(rules, str) else json.dumps(rules),
        "accredited": "Uni Zed\n\n Example College \n",
        **extra,
    }
    response = client.post("/dashboard/schemes/new", data=form)
    return response.status_code, response.headers.get("Location", ""), response.get_data(as_text=True)


def _counts(html: str) -> tuple[int, int]:
    found = re.search(r"Eligible courses</dt><dd>(\d+).*?Not eligible</dt><dd>(\d+)", html, re.S)
    assert found, html
    return int(found.group(1)), int(found.group(2))


def test_the_pages_need_a_login_and_forms_need_csrf(world: World) -> None:
    anonymous = world.app.test_client()
    response = anonymous.get("/dashboard/schemes/")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert anonymous.post("/dashboard/schemes/new", data={"id": "x"}).status_code in (400, 403)
    client = log_in(world, "reg")
    no_token = client.post("/dashboard/schemes/new", data={"id": "fund", "name": "x", "rules": "[]"})
    assert no_token.status_code == 400
    assert world.client.get("/api/v1/schemes").get_json()["schemes"] == []


def test_a_registry_defines_a_scheme_and_sees_its_counts(world: World) -> None:
    client = log_in(world, "reg")
    index = client.get("/dashboard/schemes/").get_data(as_text=True)
    assert "No scheme is defined yet." in index and "/dashboard/schemes/new" in index
    status, location, _ = _define(client)
    assert status == 303 and location.endswith("/dashboard/schemes/fund")
    page = client.get(location).get_data(as_text=True)
    assert "Scheme saved. Its courses are being evaluated." in page  # the flash
    total = world.store.count_courses(include_withdrawn=True)
    assert _counts(page) == (0, total)  # the edX rows are of no French provider
    scheme = world.client.get("/api/v1/schemes/fund").get_json()
    assert scheme["owner"] == "reg" and scheme["rules"] == RULES
    assert scheme["accredited"] == ["Uni Zed", "Example College"]
    assert scheme["evaluation"]["status"] == "succeeded"
    listed = client.get("/dashboard/schemes/").get_data(as_text=True)
    assert "Skills fund" in listed and "yours to change" in listed and "done" in listed


def test_form_errors_are_shown_and_nothing_is_saved(world: World) -> None:
    client = log_in(world, "reg")
    status, _, body = _define(client, rules="[{not json")
    assert status == 400 and "The rules are not valid." in body and 'name="rules"' in body
    status, _, body = _define(client, rules=[{"id": "a", "field": "nope", "op": "present"}])
    assert status == 400 and "not a course field" in body  # the service's own detail, kept
    status, _, body = _define(client, id="Not An Id")
    assert status == 400 and "The scheme was not saved." in body and "must be 1-64" in body
    assert world.client.get("/api/v1/schemes").get_json()["schemes"] == []
    assert _define(client)[0] == 303
    status, _, body = _define(client)
    assert status == 400 and "A scheme fund already exists." in body


def test_a_rule_change_re_evaluates_and_a_name_change_applies_at_once(world: World) -> None:
    client = log_in(world, "reg")
    _define(client)
    form = {
        "csrf_token": csrf_of(client, "/dashboard/schemes/fund"),
        "name": "Skills fund",
        "description": "Every course",
        "rules": json.dumps(EVERYTHING),
        "accredited": "Uni Zed\nExample College",
    }
    response = client.post("/dashboard/schemes/fund", data=form)
    assert response.status_code == 303
    page = client.get("/dashboard/schemes/fund").get_data(as_text=True)
    total = world.store.count_courses(include_withdrawn=True)
    assert _counts(page) == (total, 0)
    jobs = world.client.get("/api/v1/schemes/fund/jobs").get_json()["jobs"]
    assert [j["kind"] for j in jobs] == ["update", "create"]
    renamed = client.post("/dashboard/schemes/fund", data={**form, "name": "Renamed fund"})
    assert renamed.status_code == 303
    assert "Scheme saved." in client.get("/dashboard/schemes/fund").get_data(as_text=True)
    assert len(world.client.get("/api/v1/schemes/fund/jobs").get_json()["jobs"]) == 2  # no new job
    assert world.client.get("/api/v1/schemes/fund").get_json()["name"] == "Renamed fund"
    bad = client.post("/dashboard/schemes/fund", data={**form, "rules": "{}"})
    assert bad.status_code == 400 and "The rules are not valid." in bad.get_data(as_text=True)


def test_manual_decisions_override_the_rules_and_are_listed(world: World) -> None:
    client = log_in(world, "reg")
    _define(client)
    course = sorted(c.id for c in world.store.iter_courses())[0]
    csrf = csrf_of(client, "/dashboard/schemes/fund")
    decided = client.post(
        "/dashboard/schemes/fund/decisions",
        data={"csrf_token": csrf, "course_id": course, "eligible": "yes", "note": "approved by board"},
    )
    assert decided.status_code == 303
    page = client.get("/dashboard/schemes/fund").get_data(as_text=True)
    assert f"Decision recorded for {course}." in page and "approved by board" in page
    total = world.store.count_courses(include_withdrawn=True)
    assert _counts(page) == (1, total - 1)
    standing = world.client.get(f"/api/v1/courses/{course}/eligibility").get_json()["schemes"][0]
    assert standing["eligible"] is True and standing["manual"] is True
    unknown = client.post(
        "/dashboard/schemes/fund/decisions",
        data={"csrf_token": csrf, "course_id": "no-such-course", "eligible": "no"},
    )
    assert unknown.status_code == 404 and "There is no course no-such-course." in unknown.get_data(
        as_text=True
    )
    incomplete = client.post(
        "/dashboard/schemes/fund/decisions", data={"csrf_token": csrf, "course_id": course}
    )
    assert incomplete.status_code == 400
    dropped = client.post(
        "/dashboard/schemes/fund/decisions",
        data={"csrf_token": csrf, "course_id": course, "eligible": "rules"},
    )
    assert dropped.status_code == 303
    page = client.get("/dashboard/schemes/fund").get_data(as_text=True)
    assert "the rules decide again" in page and _counts(page) == (0, total)
    assert "No manual decision" in page


def test_only_the_owner_or_an_admin_changes_a_scheme(world: World) -> None:
    _define(log_in(world, "reg"))
    other = log_in(world, "reg2")
    page = other.get("/dashboard/schemes/fund").get_data(as_text=True)
    assert "Skills fund" in page and "Change the definition" not in page and "Decide on a course" not in page
    csrf = csrf_of(other, "/dashboard/schemes/fund")
    form = {"csrf_token": csrf, "name": "Taken", "rules": "[]", "description": "", "accredited": ""}
    assert other.post("/dashboard/schemes/fund", data=form).status_code == 403
    course = sorted(c.id for c in world.store.iter_courses())[0]
    decision = {"csrf_token": csrf, "course_id": course, "eligible": "yes"}
    assert other.post("/dashboard/schemes/fund/decisions", data=decision).status_code == 403
    provider = log_in(world, "zed")
    assert "/dashboard/schemes/new" not in provider.get("/dashboard/schemes/").get_data(as_text=True)
    assert provider.get("/dashboard/schemes/new").status_code == 403
    admin = log_in(world, "ops")
    assert "Change the definition" in admin.get("/dashboard/schemes/fund").get_data(as_text=True)
    assert world.client.get("/api/v1/schemes/fund").get_json()["name"] == "Skills fund"
