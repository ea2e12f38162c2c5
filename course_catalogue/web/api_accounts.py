"""Accounts and API tokens over the JSON API: create accounts (admin), issue and revoke tokens.

A token's plaintext appears in exactly one response, the one that issued it (marked
``Cache-Control: no-store``); afterwards only its id, label and dates are shown.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from course_catalogue.catalogue.accounts import (
    Account,
    ApiToken,
    IssuedToken,
)
from course_catalogue.services.actors import Actor
from course_catalogue.services.runtime import get_services
from course_catalogue.web.auth import current_account, token_required
from course_catalogue.web.bodies import json_object

bp = Blueprint("api_accounts", __name__, url_prefix="/api/v1")


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "role": account.role.value,
        "created_at": account.created_at.isoformat(),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "account_id": token.account_id,
        "label": token.label,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {**token_json(issued.token), "token": issued.plaintext}


def _json_object() -> dict[str, Any]:
    return json_object(empty={})


def _secret(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"  # it carries a token's plaintext
    return response


@bp.post("/accounts")
@token_required
def create_account() -> ResponseReturnValue:
    """Create an account (admin only) and its first token, shown once: {name, role, id?}."""
    data = _json_object()
    account, issued = get_services().accounts.create(
        Actor(current_account()),
        data.get("name"),
        data.get("role"),
        account_id=data.get("id"),
        label=str(data.get("token_label") or "first token"),
    )
    return _secret({"account": account_json(account), "token": _issued(issued)}, 201)


@bp.get("/accounts/me")
@token_required
def me() -> ResponseReturnValue:
    """The calling account and its tokens (without their secrets)."""
    account = current_account()
    tokens = get_services().accounts.tokens(Actor(account), account.id)
    response = jsonify({"account": account_json(account), "tokens": [token_json(t) for t in tokens]})
    response.headers["Cache-Control"] = "no-store"  # per caller: never in a shared cache
    return response


@bp.post("/accounts/<account_id>/tokens")
@token_required
def issue_token(account_id: str) -> ResponseReturnValue:
    """Issue another token (rotation): an admin for anyone, an account for itself. {label?}"""
    label = _json_object().get("label") or ""
    issued = get_services().accounts.issue_token(Actor(current_account()), account_id, label)
    return _secret(_issued(issued), 201)


@bp.delete("/tokens/<token_id>")
@token_required
def revoke_token(token_id: str) -> ResponseReturnValue:
    """Revoke a token for good: an admin any, an account its own."""
    return jsonify(token_json(get_services().accounts.revoke_token(Actor(current_account()), token_id)))
