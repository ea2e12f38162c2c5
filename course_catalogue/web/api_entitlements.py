"""Verified provider identities over the API: admins entitle accounts to organisations and mark
sources that may publish for others (catalogue/entitlements.py says what that restricts).

    GET    /api/v1/accounts/<id>/organisations            the account itself or an admin
    POST   /api/v1/accounts/<id>/organisations            admin: {name, identifier?, country?, aliases?}
    DELETE /api/v1/accounts/<id>/organisations/<org id>   admin
    PUT    /api/v1/sources/<id>/publishing                admin: {"for_others": true|false}
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.entitlements import (
    EntitledOrganisation,
    publishes_for_others,
)
from course_catalogue.services.actors import Actor
from course_catalogue.services.runtime import get_services
from course_catalogue.web.auth import current_account, token_required

bp = Blueprint("api_entitlements", __name__, url_prefix="/api/v1")


def organisation_json(org: EntitledOrganisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "account_id": org.account_id,
        "name": org.name,
        "aliases": list(org.aliases),
        "identifier": org.identifier,
        "country": org.country,
        "granted_by": org.granted_by,
        "granted_at": org.granted_at.isoformat() if org.granted_at else None,
        "links": {
            "self": url_for(
                "api_entitlements.revoke_organisation", account_id=org.account_id, organisation_id=org.id
            )
        },
    }


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest(description="The request body must be a JSON object.")
    return data


@bp.get("/accounts/<account_id>/organisations")
@token_required
def organisations(account_id: str) -> ResponseReturnValue:
    """The organisations the account may publish courses for."""
    found = get_services().accounts.organisations(Actor(current_account()), account_id)
    response = jsonify({"account_id": account_id, "organisations": [organisation_json(org) for org in found]})
    response.headers["Cache-Control"] = "no-store"  # per caller: never in a shared cache
    return response


@bp.post("/accounts/<account_id>/organisations")
@token_required
def grant_organisation(account_id: str) -> ResponseReturnValue:
    """Entitle the account to publish for an organisation (admin only)."""
    actor = Actor(current_account())
    org = get_services().accounts.grant_organisation(actor, account_id, _body())
    response = jsonify(organisation_json(org))
    response.status_code = 201
    response.headers["Location"] = organisation_json(org)["links"]["self"]
    return response


@bp.delete("/accounts/<account_id>/organisations/<organisation_id>")
@token_required
def revoke_organisation(account_id: str, organisation_id: str) -> ResponseReturnValue:
    """Withdraw an entitlement (admin only); the account's next harvests are checked without it."""
    actor = Actor(current_account())
    return jsonify(
        organisation_json(get_services().accounts.revoke_organisation(actor, account_id, organisation_id))
    )


@bp.put("/sources/<source_id>/publishing")
@token_required
def mark_publisher(source_id: str) -> ResponseReturnValue:
    """{"for_others": true}: the source may publish courses of any provider (an aggregator or a
    registry's feed); false: only its owner's organisations. Admin only."""
    actor = Actor(current_account())
    data = _body()
    if set(data) != {"for_others"} or not isinstance(data["for_others"], bool):
        raise BadRequest(description='The body is {"for_others": true|false}.')
    updated = get_services().sources.set_publishing(actor, source_id, for_others=data["for_others"])
    return jsonify({"source": source_id, "owner": updated.owner, "for_others": publishes_for_others(updated)})
