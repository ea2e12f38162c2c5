"""Eligibility schemes over the API: define and edit them (registries), decide on courses, read eligibility.

Reads are public (a scheme's rules and which courses it funds are public information); writes
need a bearer token: a registry account creates schemes and owns them, an admin may do all.
Changing a scheme's rules re-evaluates every course; a manual decision re-evaluates its course.
Whatever flips goes to the search index and to the webhook queue at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, has_app_context, jsonify, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from catalogue.eligibility import ManualDecision, Scheme, parse_rules, rules_to_data
from catalogue.eligibility_store import CourseEligibility, EligibilityChange, EligibilityStore
from catalogue.errors import NotFound
from catalogue.permissions import can_change_scheme, can_create_scheme, is_admin
from catalogue.webhook_store import WebhookStore
from search.errors import QueryError
from search.query import register_value_labeller
from search.sync import IndexSync
from web.auth import accounts, current_account, permit, token_required
from web.bodies import json_object
from web.params import whole_number
from web.services import get_services

bp = Blueprint("api_schemes", __name__, url_prefix="/api/v1")

_FIELDS = ("id", "name", "description", "rules", "accredited", "owner")
MAX_PAGE = 1000


def eligibility() -> EligibilityStore:
    return EligibilityStore(get_services().store)


def scheme_json(scheme: Scheme) -> dict[str, Any]:
    return {
        "id": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "owner": scheme.owner,
        "rules": rules_to_data(scheme.rules),
        "accredited": list(scheme.accredited),
        "created_at": scheme.created_at.isoformat() if scheme.created_at else None,
        "updated_at": scheme.updated_at.isoformat() if scheme.updated_at else None,
        "links": {
            "self": url_for("api_schemes.scheme", scheme_id=scheme.id),
            "courses": url_for("api_schemes.scheme_courses", scheme_id=scheme.id),
            "changes": url_for("api_changes.changes", scheme=scheme.id),
            "search": url_for("api.search", funding=scheme.id),
        },
    }


def eligibility_json(found: CourseEligibility) -> dict[str, Any]:
    return {
        "scheme": found.scheme_id,
        "course_id": found.course_id,
        "eligible": found.eligible,
        "since": found.since.isoformat(),
        "reasons": [r.to_dict() for r in found.reasons],
        "manual": found.manual,
        "evaluated_at": found.evaluated_at.isoformat(),
    }


def _body() -> dict[str, Any]:
    return json_object()


def _scheme_from(data: dict[str, Any], base: Scheme | None, owner: str | None) -> Scheme:
    """A scheme from a request body (a PATCH keeps what it does not give); 400 on bad input."""
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise BadRequest(description=f"Unknown fields: {', '.join(sorted(unknown))}.")
    for key in ("id", "name", "description"):
        if key in data and not isinstance(data[key], str):
            raise BadRequest(description=f"{key} must be a string.")
    accredited = data.get("accredited", list(base.accredited) if base else [])
    if not isinstance(accredited, list) or not all(isinstance(a, str) for a in accredited):
        raise BadRequest(description="accredited must be a list of provider names or identifiers.")
    try:
        rules = parse_rules(data["rules"]) if "rules" in data else (base.rules if base else None)
        if rules is None:
            raise ValueError("rules are required")
        return Scheme(
            id=base.id if base else data.get("id", ""),
            name=data.get("name", base.name if base else ""),
            owner=owner,
            rules=rules,
            accredited=tuple(accredited),
            description=data.get("description", base.description if base else ""),
            created_at=base.created_at if base else None,
        )
    except ValueError as exc:
        raise BadRequest(description=str(exc)) from None


def _owner(data: dict[str, Any], default: str | None) -> str | None:
    """Only an admin names a scheme's owner, and it must be a registry or admin account."""
    if "owner" not in data:
        return default
    account = current_account()
    owner = data["owner"]
    permit(is_admin(account) or owner == account.id, "Only an admin can choose a scheme's owner.")
    if owner is not None:
        accounts().get_account(owner)  # 404 for an unknown account
    return str(owner) if owner is not None else None


def propagate(changed: Sequence[EligibilityChange]) -> None:
    """Push eligibility flips made outside a harvest to the search index and the webhook queue."""
    services = get_services()
    ids = sorted({c.course_id for c in changed})
    if not ids:
        return
    stored = [services.store.get_course(course_id) for course_id in ids]
    IndexSync(services.backend, EligibilityStore(services.store)).apply(stored)
    WebhookStore(services.store).enqueue()


@bp.get("/schemes")
def schemes() -> ResponseReturnValue:
    owner = request.args.get("owner") or None
    return jsonify({"schemes": [scheme_json(s) for s in eligibility().list_schemes(owner)]})


@bp.post("/schemes")
@token_required
def create_scheme() -> ResponseReturnValue:
    """Define a scheme; the calling registry owns it (an admin may name the owner)."""
    account = current_account()
    permit(can_create_scheme(account), "Only registry and admin accounts define eligibility schemes.")
    data = _body()
    scheme = _scheme_from(data, None, _owner(data, account.id))
    store = eligibility()
    created = store.create_scheme(scheme)
    propagate(_all_eligible(store, created.id))
    response = jsonify(scheme_json(created))
    response.status_code = 201
    response.headers["Location"] = url_for("api_schemes.scheme", scheme_id=created.id)
    return response


def _all_eligible(store: EligibilityStore, scheme_id: str) -> list[EligibilityChange]:
    """A new scheme: every course it made eligible needs its search document updated."""
    return [
        EligibilityChange(scheme_id, found.course_id, True, found.seq or 0)
        for found in store.scheme_courses(scheme_id, eligible=True, limit=10**9)
    ]


@bp.get("/schemes/<scheme_id>")
def scheme(scheme_id: str) -> ResponseReturnValue:
    return jsonify(scheme_json(eligibility().get_scheme(scheme_id)))


@bp.patch("/schemes/<scheme_id>")
@token_required
def change_scheme(scheme_id: str) -> ResponseReturnValue:
    """Change name, description, rules or accredited list; every course is re-evaluated."""
    store = eligibility()
    known = store.get_scheme(scheme_id)
    permit(
        can_change_scheme(current_account(), known.owner), f"Your account does not own scheme {scheme_id!r}."
    )
    data = _body()
    if data.get("id", scheme_id) != scheme_id:
        raise BadRequest(description="A scheme's id cannot change.")
    changed = _scheme_from(data, known, _owner(data, known.owner))
    before = set(store.eligible_course_ids(scheme_id))
    updated = store.update_scheme(replace(changed, id=scheme_id))
    after = set(store.eligible_course_ids(scheme_id))
    propagate([EligibilityChange(scheme_id, cid, cid in after, 0) for cid in before ^ after])
    return jsonify(scheme_json(updated))


@bp.get("/schemes/<scheme_id>/courses")
def scheme_courses(scheme_id: str) -> ResponseReturnValue:
    """The scheme's evaluated courses in id order; `eligible=true|false` filters, `after` pages."""
    store = eligibility()
    store.get_scheme(scheme_id)
    raw = request.args.get("eligible")
    if raw not in (None, "true", "false"):
        raise QueryError("eligible must be true or false")
    limit = whole_number(request.args, "limit", 100, 1, MAX_PAGE)
    eligible = None if raw is None else raw == "true"
    found = store.scheme_courses(scheme_id, eligible=eligible, after=request.args.get("after"), limit=limit)
    links: dict[str, str | None] = {"next": None}
    if len(found) == limit:
        args: dict[str, Any] = {
            "after": found[-1].course_id,
            "limit": limit,
            **({"eligible": raw} if raw else {}),
        }
        links["next"] = url_for("api_schemes.scheme_courses", scheme_id=scheme_id, **args)
    return jsonify({"scheme": scheme_id, "courses": [eligibility_json(f) for f in found], "links": links})


@bp.put("/schemes/<scheme_id>/decisions/<course_id>")
@token_required
def decide_course(scheme_id: str, course_id: str) -> ResponseReturnValue:
    """A manual decision: {"eligible": true|false, "note": "..."} overrides the rules for the
    course; {"eligible": null} drops it so the rules decide again."""
    store = eligibility()
    known = store.get_scheme(scheme_id)
    account = current_account()
    permit(can_change_scheme(account, known.owner), f"Your account does not own scheme {scheme_id!r}.")
    data = _body()
    if set(data) - {"eligible", "note"} or "eligible" not in data:
        raise BadRequest(description='The body is {"eligible": true|false|null, "note": "..."}.')
    verdict, note = data["eligible"], data.get("note", "")
    if verdict is not None and not isinstance(verdict, bool):
        raise BadRequest(description="eligible must be true, false or null.")
    if not isinstance(note, str):
        raise BadRequest(description="note must be a string.")
    get_services().store.get_course(course_id)  # 404 for an unknown course
    was = _eligible(store, scheme_id, course_id)
    if verdict is None:
        store.clear_decision(scheme_id, course_id)
        found = store.get_eligibility(scheme_id, course_id)
    else:
        decision = ManualDecision(scheme_id, course_id, verdict, note.strip(), account.id, datetime.now(UTC))
        found = store.set_decision(decision)
    if found.eligible != was:
        propagate([EligibilityChange(scheme_id, course_id, found.eligible, found.seq or 0)])
    return jsonify(eligibility_json(found))


def _eligible(store: EligibilityStore, scheme_id: str, course_id: str) -> bool:
    try:
        return store.get_eligibility(scheme_id, course_id).eligible
    except NotFound:
        return False


@bp.get("/courses/<course_id>/eligibility")
def course_eligibility(course_id: str) -> ResponseReturnValue:
    """The course's standing in every scheme: eligible or not, since when, and why."""
    get_services().store.get_course(course_id)  # 404 for an unknown course
    found = eligibility().course_eligibility(course_id)
    return jsonify({"course_id": course_id, "schemes": [eligibility_json(f) for f in found]})


def _scheme_label(value: str) -> str | None:
    """A funding facet value's label: the scheme's name (schemes read once per request)."""
    if not has_app_context() or "catalogue" not in current_app.extensions:
        return None
    names: dict[str, str] | None = g.get("_scheme_names")
    if names is None:
        try:
            names = {s.id: s.name for s in eligibility().list_schemes()}
        except Exception:  # labels are cosmetic: a failing lookup must not fail a search
            names = {}
        g._scheme_names = names
    return names.get(value)


@bp.record_once
def _register_labels(state: BlueprintSetupState) -> None:
    register_value_labeller("funding", _scheme_label)
