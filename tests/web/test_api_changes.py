"""GET /api/v1/changes: commit order, cursors, tombstones, and replay of a scheme's feed while the
catalogue changes between pages (property-style, fixed seeds)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from course_catalogue.catalogue.eligibility import Scheme, parse_rules
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.services.runtime import get_services
from tests.registries import make_course, publish
from tests.web.publishing import World, world

__all__ = ["world"]


def _page(w: World, **args: Any) -> dict[str, Any]:
    response = w.client.get("/api/v1/changes", query_string=args, headers=w.auth("reg"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-cache"
    body: dict[str, Any] = response.get_json()
    return body


def _follow(w: World, cursor: str, have: set[str], limit: int, scheme: str | None = None) -> tuple[str, bool]:
    args: dict[str, Any] = {"since": cursor, "limit": limit, **({"scheme": scheme} if scheme else {})}
    body = _page(w, **args)
    cursors = [int(e["cursor"]) for e in body["changes"]]
    assert cursors == sorted(cursors) and all(c > int(cursor) for c in cursors)
    for entry in body["changes"]:
        if entry["op"] == "upsert":
            assert entry["course"]["id"] == entry["id"]
            have.add(entry["id"])
        else:
            have.discard(entry["id"])
    assert body["links"]["next"].startswith("/api/v1/changes?since=" + body["next_cursor"])
    return body["next_cursor"], body["has_more"]


def test_the_course_feed_lists_upserts_and_tombstones_in_commit_order(world: World) -> None:
    sinks = get_services(world.app).sinks
    first = _page(world)
    assert first["since"] == "0" and first["changes"]
    ids = {e["id"] for e in first["changes"]}
    assert all(e["op"] == "upsert" for e in first["changes"])
    publish(world.store, {"a": {}, "b": {}}, sinks)
    cursor = str(max(int(e["cursor"]) for e in _page(world, limit=1000)["changes"]))
    publish(world.store, {"a": {"eqf_level": 6}}, sinks)  # b withdrawn, a updated
    later = _page(world, since=cursor)
    assert [(e["op"], e["id"]) for e in later["changes"]] == [
        ("upsert", make_course("a").id),
        ("tombstone", make_course("b").id),
    ] or [(e["op"], e["id"]) for e in later["changes"]] == [
        ("tombstone", make_course("b").id),
        ("upsert", make_course("a").id),
    ]
    tomb = next(e for e in later["changes"] if e["op"] == "tombstone")
    assert tomb["status"] == "withdrawn" and tomb["withdrawn_at"]
    assert later["has_more"] is False and not _page(world, since=later["next_cursor"])["changes"]
    have: set[str] = set()
    cursor, more = "0", True
    while more:
        cursor, more = _follow(world, cursor, have, limit=3)
    assert have == {c.id for c in world.store.iter_courses()} and ids <= have | {make_course("b").id}


@pytest.mark.parametrize("bad", [{"since": "abc"}, {"limit": "0"}, {"limit": "5000"}])
def test_bad_parameters_are_400(world: World, bad: dict[str, str]) -> None:
    response = world.client.get("/api/v1/changes", query_string=bad, headers=world.auth("reg"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_query"


def test_an_unknown_scheme_is_404(world: World) -> None:
    response = world.client.get("/api/v1/changes?scheme=nope", headers=world.auth("reg"))
    assert response.status_code == 404


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_replaying_a_scheme_feed_while_it_changes_gives_the_eligible_set(world: World, seed: int) -> None:
    rnd = random.Random(seed)
    sinks = get_services(world.app).sinks
    created = world.client.post(
        "/api/v1/schemes",
        json={
            "id": "fund",
            "name": "Fund",
            "rules": [{"id": "eqf", "field": "eqf_level", "op": "gte", "value": 4}],
        },
        headers=world.auth("reg"),
    )
    assert created.status_code == 202, created.get_json()  # SCHEME_JOBS=inline: already evaluated
    refs = [f"r{i}" for i in range(10)]
    have: set[str] = set()
    cursor = "0"
    for _ in range(10):
        step = rnd.random()
        if step < 0.5:
            chosen = rnd.sample(refs, rnd.randint(2, len(refs)))
            publish(world.store, {ref: {"eqf_level": rnd.randint(1, 8)} for ref in chosen}, sinks)
        elif step < 0.75:
            low = rnd.randint(1, 7)
            rules = [{"id": "eqf", "field": "eqf_level", "op": "gte", "value": low}]
            changed = world.client.patch(
                "/api/v1/schemes/fund", json={"rules": rules}, headers=world.auth("reg")
            )
            assert changed.status_code in (200, 202), changed.get_json()  # 200: the same rules
        else:
            course = rnd.choice([c.id for c in world.store.iter_courses()])
            verdict = rnd.choice([True, False, None])
            url = f"/api/v1/schemes/fund/decisions/{course}"
            decided = world.client.put(url, json={"eligible": verdict}, headers=world.auth("reg"))
            assert decided.status_code == 200, decided.get_json()
        for _ in range(rnd.randint(0, 2)):
            cursor, _more = _follow(world, cursor, have, rnd.randint(1, 3), scheme="fund")
    more = True
    while more:
        cursor, more = _follow(world, cursor, have, 2, scheme="fund")
    assert have == set(EligibilityStore(world.store).eligible_course_ids("fund"))
    # the search filter agrees with the feed
    found = world.client.get(
        "/api/v1/search?funding=fund&page_size=100", headers=world.auth("reg")
    ).get_json()
    assert {hit["id"] for hit in found["hits"]} == have


def test_a_scheme_created_after_courses_exist_feeds_them(world: World) -> None:
    EligibilityStore(world.store).create_scheme(Scheme("all", "All", None, parse_rules([])))
    have: set[str] = set()
    cursor, more = "0", True
    while more:
        cursor, more = _follow(world, cursor, have, 5, scheme="all")
    assert have == {c.id for c in world.store.iter_courses()}
