"""Issue 22 class 14: a provider account publishes only under the organisations it is entitled to.

Admins grant an account organisations (name, identifier, country); a source owned by a provider
account may only publish courses whose provider is one of them. A record naming another provider
is rejected with a per-record ERROR (the rest of the feed lands); a source an admin marks as
publishing for others (an aggregator) is exempt, and so are sources no provider owns.
"""

from __future__ import annotations

from typing import Any

from course_catalogue.catalogue.runs import Severity
from tests.web.conftest import EDX_CSV
from tests.web.publishing import HEADER, ROWS, World, edx_csv, world

__all__ = ["world"]

CSV = {"Content-Type": "text/csv"}
INSTITUTION = HEADER.index("institution")
HARVARD = [list(r) for r in ROWS if r[INSTITUTION] == "Harvard University"][:3]
MIT = [list(r) for r in ROWS if r[INSTITUTION] == "Massachusetts Institute of Technology"][:2]
assert EDX_CSV.exists() and len(HARVARD) == 3 and len(MIT) == 2


def _register(w: World, who: str = "other", source: str = "other-feed") -> None:
    body = {"id": source, "format": "csv", "mapping": "edx-csv"}
    response = w.client.post("/api/v1/sources", json=body, headers=w.auth(who))
    assert response.status_code == 201, response.get_json()


def _push(w: World, rows: list[list[str]], who: str = "other", source: str = "other-feed") -> dict[str, Any]:
    response = w.client.post(
        f"/api/v1/sources/{source}/feed?dry_run=false", data=edx_csv(rows), headers={**CSV, **w.auth(who)}
    )
    body = response.get_json()
    if response.status_code == 422:  # every record rejected: the run failed, nothing changed
        assert body["error"]["code"] == "feed_rejected", body
        rejected: dict[str, Any] = body["error"]["details"]["run"]
        return rejected
    assert response.status_code == 200, body
    run: dict[str, Any] = body["run"]
    return run


def _grant(w: World, account: str, body: dict[str, Any], who: str = "ops") -> Any:
    return w.client.post(f"/api/v1/accounts/{account}/organisations", json=body, headers=w.auth(who))


def _not_entitled(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in run["issues"] if i["code"] == "provider-not-entitled"]


def test_a_provider_cannot_publish_under_an_institution_it_is_not_entitled_to(world: World) -> None:
    _register(world)
    run = _push(world, HARVARD + MIT)
    assert run["counts"]["added"] == 0 and run["counts"]["failed"] == 5, run["counts"]
    refused = _not_entitled(run)
    assert len(refused) == 5 and all(i["severity"] == Severity.ERROR.value for i in refused)
    assert "Harvard University" in refused[0]["message"] and "'other'" in refused[0]["message"]
    assert refused[0]["field"] == "provider.name" and refused[0]["record_ref"]
    assert world.store.count_courses(source_id="other-feed") == 0

    # the provider cannot entitle itself; an admin can
    assert _grant(world, "other", {"name": "Harvard University"}, who="other").status_code == 403
    granted = _grant(world, "other", {"name": "Harvard University", "country": "USA"})
    assert granted.status_code == 201, granted.get_json()
    org = granted.get_json()
    assert org["name"] == "Harvard University" and org["country"] == "USA" and org["granted_by"] == "ops"
    listed = world.client.get("/api/v1/accounts/other/organisations", headers=world.auth("other"))
    assert [o["id"] for o in listed.get_json()["organisations"]] == [org["id"]]

    run = _push(world, HARVARD + MIT)
    assert run["counts"]["added"] == 3 and run["counts"]["failed"] == 2
    assert {i["record_ref"] for i in _not_entitled(run)} == {r[-1] for r in MIT}

    # revoked: Harvard's records are refused again; what was published stays as it was
    revoked = world.client.delete(
        f"/api/v1/accounts/other/organisations/{org['id']}", headers=world.auth("ops")
    )
    assert revoked.status_code == 200
    changed = [list(r) for r in HARVARD]
    changed[0][1] = "A changed summary"
    run = _push(world, changed)
    assert run["counts"]["failed"] == 3 and run["counts"].get("updated", 0) == 0
    assert world.store.count_courses(source_id="other-feed") == 3


def test_an_entitlement_matches_names_identifiers_and_countries_strictly(world: World) -> None:
    _register(world)
    assert _grant(world, "other", {"name": "harvard  university", "country": "GBR"}).status_code == 201
    run = _push(world, HARVARD[:1])
    # edX rows state no country, so the name decides; spacing and case do not matter ...
    assert run["counts"]["added"] == 1, run["issues"]
    # ... but a look-alike name (Cyrillic "а") is another organisation
    fake = [list(HARVARD[1])]
    fake[0][INSTITUTION] = "Hаrvard University"
    assert _push(world, fake)["counts"]["failed"] == 1
    bad = _grant(world, "other", {"name": ""})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"]
    assert _grant(world, "other", {"name": "X", "country": "Narnia"}).status_code == 400
    assert _grant(world, "nobody", {"name": "X"}).status_code == 404


def test_an_admin_marks_a_source_that_may_publish_for_others(world: World) -> None:
    _register(world)
    url = "/api/v1/sources/other-feed/publishing"
    assert world.client.put(url, json={"for_others": True}, headers=world.auth("other")).status_code == 403
    marked = world.client.put(url, json={"for_others": True}, headers=world.auth("ops"))
    assert marked.status_code == 200 and marked.get_json()["for_others"] is True
    run = _push(world, HARVARD + MIT)
    assert run["counts"]["added"] == 5 and not _not_entitled(run)
    assert world.client.put(url, json={"for_others": "yes"}, headers=world.auth("ops")).status_code == 400
    world.client.put(url, json={"for_others": False}, headers=world.auth("ops"))
    assert _push(world, [list(r) for r in ROWS[200:202]])["counts"]["failed"] == 2


def test_admin_sources_are_not_restricted(world: World) -> None:
    _register(world, who="ops", source="ops-feed")  # an admin registers it: no provider owns it
    assert _push(world, HARVARD, who="ops", source="ops-feed")["counts"]["added"] == 3


def test_admins_grant_and_revoke_on_the_command_line(world: World) -> None:
    runner = world.app.test_cli_runner()
    from course_catalogue.web.cli import main

    out = runner.invoke(
        main, ["accounts", "grant", "other", "--name", "Harvard University", "--country", "USA"]
    )
    assert out.exit_code == 0, out.output
    listed = runner.invoke(main, ["accounts", "organisations", "other"])
    assert "Harvard University" in listed.output and "USA" in listed.output
    org_id = listed.output.split()[0]
    _register(world)
    assert _push(world, HARVARD)["counts"]["added"] == 3
    out = runner.invoke(main, ["accounts", "revoke-organisation", "other", org_id])
    assert out.exit_code == 0, out.output
    assert runner.invoke(main, ["accounts", "organisations", "other"]).output.strip() == ""
    out = runner.invoke(main, ["sources", "publishing", "other-feed", "--for-others"])
    assert out.exit_code == 0, out.output
    assert _push(world, MIT)["counts"]["added"] == 2
