"""Eligibility schemes over the API: define, edit, decide, read a course's eligibility, search by it."""

from __future__ import annotations

from typing import Any

from tests.web.publishing import World, world

__all__ = ["world"]

RULES = [
    {"id": "eqf-range", "field": "eqf_level", "op": "between", "value": [3, 7], "message": "EQF 3 to 7"},
    {"id": "country", "field": "provider.country", "op": "in", "value": ["FRA"]},
]


def _create(w: World, who: str = "reg", **extra: object) -> dict[str, Any]:
    """Create "fund": 202 with its evaluation job (run inside the request: SCHEME_JOBS=inline)."""
    body = {"id": "fund", "name": "Skills fund", "rules": RULES, **extra}
    response = w.client.post("/api/v1/schemes", json=body, headers=w.auth(who))
    assert response.status_code == 202, response.get_json()
    data: dict[str, Any] = response.get_json()
    assert response.headers["Location"] == data["evaluation"]["links"]["self"]
    assert data["evaluation"]["status"] == "succeeded" and data["evaluated_at"]
    return data


def test_a_registry_defines_a_scheme_and_every_course_is_evaluated(world: World) -> None:
    created = _create(world)
    assert created["owner"] == "reg" and created["rules"] == RULES
    listed = world.client.get("/api/v1/schemes").get_json()["schemes"]
    assert [s["id"] for s in listed] == ["fund"]
    course = next(iter(world.store.iter_courses())).id
    mine = world.client.get(f"/api/v1/courses/{course}/eligibility").get_json()
    (entry,) = mine["schemes"]
    assert entry["scheme"] == "fund" and entry["eligible"] is False  # edX rows state no EQF level
    assert {r["rule"] for r in entry["reasons"]} >= {"eqf-range"} and entry["since"]
    duplicate = world.client.post(
        "/api/v1/schemes", json={"id": "fund", "name": "x", "rules": []}, headers=world.auth("reg")
    )
    assert duplicate.status_code == 409


def test_bad_rules_are_a_400_naming_the_problem(world: World) -> None:
    bad = {"id": "f2", "name": "x", "rules": [{"id": "a", "field": "nope", "op": "present"}]}
    response = world.client.post("/api/v1/schemes", json=bad, headers=world.auth("reg"))
    assert response.status_code == 400 and "not a course field" in response.get_json()["error"]["message"]


def test_rule_changes_and_manual_decisions_flip_eligibility_and_search(world: World) -> None:
    _create(world)
    everything = [{"id": "any", "field": "title", "op": "present"}]
    patched = world.client.patch(
        "/api/v1/schemes/fund", json={"rules": everything}, headers=world.auth("reg")
    )
    assert patched.status_code == 202 and patched.get_json()["rules"] == everything
    job = world.client.get(patched.headers["Location"]).get_json()
    assert job["status"] == "succeeded" and job["kind"] == "update" and job["changed"] > 0
    assert (
        job["progress"]["done"]
        == job["progress"]["total"]
        == world.store.count_courses(include_withdrawn=True)
    )
    jobs = world.client.get("/api/v1/schemes/fund/jobs").get_json()["jobs"]
    assert [j["kind"] for j in jobs] == ["update", "create"]
    assert world.client.get("/api/v1/schemes/fund/jobs/999").status_code == 404
    ids = {c.id for c in world.store.iter_courses()}
    eligible = world.client.get("/api/v1/schemes/fund/courses?eligible=true&limit=1000").get_json()["courses"]
    assert {c["course_id"] for c in eligible} == ids
    search = world.client.get("/api/v1/search?funding=fund&page_size=100").get_json()
    assert search["total"] == len(ids)
    facet = next(f for f in search["facets"] if f["name"] == "funding")
    assert facet["values"][0]["label"] == "Skills fund"
    one = sorted(ids)[0]
    decided = world.client.put(
        f"/api/v1/schemes/fund/decisions/{one}",
        json={"eligible": False, "note": "fraud"},
        headers=world.auth("reg"),
    )
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["eligible"] is False and decided.get_json()["manual"] is True
    assert "fraud" in decided.get_json()["reasons"][0]["message"]
    after = world.client.get("/api/v1/search?funding=fund&page_size=100").get_json()
    assert after["total"] == len(ids) - 1
    cleared = world.client.put(
        f"/api/v1/schemes/fund/decisions/{one}", json={"eligible": None}, headers=world.auth("reg")
    )
    assert cleared.get_json()["eligible"] is True and cleared.get_json()["manual"] is False


def test_an_admin_may_change_any_scheme_but_another_registry_may_not(world: World) -> None:
    _create(world)
    assert (
        world.client.patch("/api/v1/schemes/fund", json={"name": "X"}, headers=world.auth("reg2")).status_code
        == 403
    )
    assert (
        world.client.patch("/api/v1/schemes/fund", json={"name": "Y"}, headers=world.auth("ops")).status_code
        == 200
    )
    assert world.client.get("/api/v1/schemes/fund").get_json()["name"] == "Y"
    assert world.client.get("/api/v1/schemes/nope").status_code == 404
