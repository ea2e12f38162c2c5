"""Bearer-token authentication, the accounts API and the accounts CLI."""

from __future__ import annotations

import re

from flask import Flask

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.schema import api_tokens
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.web.publishing import SOURCE, World, world

__all__ = ["world"]


def test_missing_token_is_a_401_challenge_in_the_error_shape(world: World) -> None:
    response = world.client.patch(f"/api/v1/sources/{SOURCE}", json={"name": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].replace('"', "") == "Bearer realm=catalogue"
    assert response.get_json() == {
        "error": {
            "status": 401,
            "code": "unauthorized",
            "message": response.get_json()["error"]["message"],
            "details": {},
        }
    }
    assert "Bearer" in response.get_json()["error"]["message"]


def test_invalid_token_says_invalid_token(world: World) -> None:
    response = world.client.patch(
        f"/api/v1/sources/{SOURCE}", json={"name": "x"}, headers={"Authorization": "Bearer cat_nope"}
    )
    assert response.status_code == 401
    assert "error=invalid_token" in response.headers["WWW-Authenticate"].replace('"', "")
    malformed = world.client.patch(
        f"/api/v1/sources/{SOURCE}", json={}, headers={"Authorization": "Token abc"}
    )
    assert "error=invalid_request" in malformed.headers["WWW-Authenticate"].replace('"', "")


def test_reads_stay_public(world: World) -> None:
    assert world.client.get(f"/api/v1/sources/{SOURCE}").status_code == 200


def test_admin_creates_an_account_and_sees_its_token_once(world: World) -> None:
    response = world.client.post(
        "/api/v1/accounts", json={"name": "Uni Yon", "role": "provider"}, headers=world.auth("ops")
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["account"] == {
        "id": "uni-yon",
        "name": "Uni Yon",
        "role": "provider",
        "created_at": body["account"]["created_at"],
    }
    token = body["token"]["token"]
    assert re.fullmatch(r"cat_[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", token)
    me = world.client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["account"]["id"] == "uni-yon"
    assert me.headers["Cache-Control"] == "no-store"
    assert token not in me.get_data(as_text=True)
    assert all("token" not in t for t in me.get_json()["tokens"])
    # hashed at rest: the plaintext is nowhere in the table
    with world.store.reading() as conn:
        rows = [dict(row._mapping) for row in conn.execute(api_tokens.select())]
    assert rows and all(token not in str(value) for row in rows for value in row.values())
    duplicate = world.client.post(
        "/api/v1/accounts", json={"name": "Uni Yon", "role": "provider"}, headers=world.auth("ops")
    )
    assert duplicate.status_code == 409
    bad = world.client.post("/api/v1/accounts", json={"name": "X", "role": "root"}, headers=world.auth("ops"))
    assert bad.status_code == 400


def test_a_provider_rotates_and_revokes_its_own_tokens(world: World) -> None:
    issued = world.client.post("/api/v1/accounts/zed/tokens", json={"label": "ci"}, headers=world.auth("zed"))
    assert issued.status_code == 201
    new_token, new_id = issued.get_json()["token"], issued.get_json()["id"]
    revoke = world.client.delete(f"/api/v1/tokens/{world.token_ids['zed']}", headers=world.auth("zed"))
    assert revoke.status_code == 200 and revoke.get_json()["revoked_at"]
    # the old token is dead at once, the new one works
    old = world.client.patch(f"/api/v1/sources/{SOURCE}", json={"name": "x"}, headers=world.auth("zed"))
    assert old.status_code == 401
    new = world.client.patch(
        f"/api/v1/sources/{SOURCE}", json={"name": "x"}, headers={"Authorization": f"Bearer {new_token}"}
    )
    assert new.status_code == 200
    assert AccountStore(world.store).get_token(new_id).last_used_at is not None


def test_cli_bootstraps_the_first_admin(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["accounts", "create", "Ops team", "--role", "admin"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    found = AccountStore(get_services(app).store).authenticate(token)
    assert found is not None and found[0].id == "ops-team" and found[0].role is Role.ADMIN
    listed = runner.invoke(main, ["accounts", "list"])
    assert "ops-team" in listed.output and "admin" in listed.output and token not in listed.output
    token_id = found[1].id
    tokens = runner.invoke(main, ["tokens", "list", "ops-team"])
    assert token_id in tokens.output and token not in tokens.output
    assert runner.invoke(main, ["tokens", "revoke", token_id]).exit_code == 0
    assert AccountStore(get_services(app).store).authenticate(token) is None
    again = runner.invoke(main, ["accounts", "create", "Ops team", "--role", "admin"])
    assert again.exit_code != 0
    assert runner.invoke(main, ["accounts", "create", "X", "--role", "root"]).exit_code == 2
