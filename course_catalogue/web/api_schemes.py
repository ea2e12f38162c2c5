"""Eligibility schemes over the API: define and edit them (registries), decide on courses, read eligibility.

Reads are public (a scheme's rules and which courses it funds are public information); writes
need a bearer token: a registry account creates schemes and owns them, an admin may do all.
Creating a scheme or changing its rules or accredited list evaluates every course again: that is
a job (catalogue/eligibility_jobs.py), so the request answers 202 at once with the job's URL
(`Location`), where its progress shows; readers keep seeing the previous evaluation, whole, until
the job switches the new one in. The job runs on a Celery worker (`SCHEME_JOBS = "worker"`; a web
process takes it over when none has) or inside the request (`"inline"`). A name, description or
owner change applies at once (200). A manual decision re-evaluates its course at once. What
changes reaches the search index (the outbox) and the webhook queue.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, has_app_context, jsonify, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.eligibility import ManualDecision, Scheme, parse_rules, rules_to_data
from course_catalogue.catalogue.eligibility_jobs import SchemeJob
from course_catalogue.catalogue.eligibility_store import (
    CourseEligibility,
    EligibilityStore,
    definition_scheme,
)
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.permissions import can_change_scheme, can_create_scheme, is_admin
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import register_value_labeller
from course_catalogue.services.runtime import get_services
from course_catalogue.web.auth import accounts, current_account, permit, token_required
from course_catalogue.web.bodies import json_object
from course_catalogue.web.params import whole_number

logger = logging.getLogger(__name__)

bp = Blueprint("api_schemes", __name__, url_prefix="/api/v1")

_FIELDS = ("id", "name", "description", "rules", "accredited", "owner")
MAX_PAGE = 1000


def eligibility() -> EligibilityStore:
    return EligibilityStore(get_services().store)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def scheme_json(scheme: Scheme, job: SchemeJob | None = None) -> dict[str, Any]:
    """A scheme as readers see it (its live definition), with its latest evaluation job."""
    return {
        "id": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "owner": scheme.owner,
        "rules": rules_to_data(scheme.rules),
        "accredited": list(scheme.accredited),
        "created_at": _iso(scheme.created_at),
        "updated_at": _iso(scheme.updated_at),
        "evaluated_at": _iso(scheme.evaluated_at),
        "evaluation": job_json(job) if job is not None else None,
        "links": {
            "self": url_for("api_schemes.scheme", scheme_id=scheme.id),
            "courses": url_for("api_schemes.scheme_courses", scheme_id=scheme.id),
            "changes": url_for("api_changes.changes", scheme=scheme.id),
            "search": url_for("api.search", funding=scheme.id),
            "jobs": url_for("api_schemes.scheme_jobs", scheme_id=scheme.id),
        },
    }


def job_json(job: SchemeJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "scheme": job.scheme_id,
        "kind": job.kind,
        "status": job.status.value,
        "progress": {"done": job.done, "total": job.total},
        "changed": job.changed,
        "attempts": job.attempts,
        "error": job.error,
        "requested_by": job.requested_by,
        "created_at": job.created_at.isoformat(),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "links": {
            "self": url_for("api_schemes.scheme_job", scheme_id=job.scheme_id, job_id=job.id),
            "scheme": url_for("api_schemes.scheme", scheme_id=job.scheme_id),
        },
    }


def _latest_job(scheme_id: str) -> SchemeJob | None:
    found = get_services().scheme_jobs.history(scheme_id, limit=1)
    return found[0] if found else None


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


def _deliver() -> None:
    """Send what a write changed to the search index (the outbox) and the webhook queue."""
    services = get_services()
    services.drain_outbox()
    WebhookStore(services.store).enqueue()


def _dispatch(job: SchemeJob) -> SchemeJob:
    """Start the job where `SCHEME_JOBS` says: here and now, or on a Celery worker. A job that
    cannot be queued stays queued: a web process's maintenance thread takes it over
    (`SCHEME_JOB_STALE_SECONDS`), so the request still succeeds."""
    services = get_services()
    if current_app.config["SCHEME_JOBS"] == "inline":
        if services.scheme_jobs.run(job.id).claimed:
            services.after_scheme_jobs()
        return services.scheme_jobs.get(job.id)
    try:
        from course_catalogue.services.tasks import EVALUATE  # Celery loads only when a job is queued
        from course_catalogue.web.celery_app import celery_init_app

        celery = celery_init_app(current_app._get_current_object())  # type: ignore[attr-defined]
        policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
        celery.send_task(EVALUATE, args=(job.id,), retry=True, retry_policy=policy)
    except Exception:  # the broker is down: the job waits for a background runner
        logger.exception("scheme job %s could not be queued; it waits for a background runner", job.id)
    return job


def _accepted(scheme_id: str, job: SchemeJob) -> ResponseReturnValue:
    """202: the scheme as readers see it now, and the job that will change it."""
    response = jsonify(scheme_json(eligibility().get_scheme(scheme_id), job))
    response.status_code = 202
    response.headers["Location"] = url_for("api_schemes.scheme_job", scheme_id=scheme_id, job_id=job.id)
    return response


@bp.get("/schemes")
def schemes() -> ResponseReturnValue:
    owner = request.args.get("owner") or None
    return jsonify(
        {"schemes": [scheme_json(s, _latest_job(s.id)) for s in eligibility().list_schemes(owner)]}
    )


@bp.post("/schemes")
@token_required
def create_scheme() -> ResponseReturnValue:
    """Define a scheme (the calling registry owns it; an admin may name the owner) and start its
    evaluation: 202 with the job (`Location`). Until the job completes the scheme funds nothing."""
    account = current_account()
    permit(can_create_scheme(account), "Only registry and admin accounts define eligibility schemes.")
    data = _body()
    scheme = _scheme_from(data, None, _owner(data, account.id))
    job = get_services().scheme_jobs.submit(scheme, create=True, requested_by=account.id)
    return _accepted(scheme.id, _dispatch(job))


@bp.get("/schemes/<scheme_id>")
def scheme(scheme_id: str) -> ResponseReturnValue:
    return jsonify(scheme_json(eligibility().get_scheme(scheme_id), _latest_job(scheme_id)))


@bp.patch("/schemes/<scheme_id>")
@token_required
def change_scheme(scheme_id: str) -> ResponseReturnValue:
    """Change name, description or owner (200, at once), or rules or accredited list (202: a job
    evaluates every course again; readers see the current evaluation until it completes). A
    change made while a job runs is made to what that job will switch in (a new rule change
    supersedes the job)."""
    store = eligibility()
    known = store.get_scheme(scheme_id)
    account = current_account()
    permit(can_change_scheme(account, known.owner), f"Your account does not own scheme {scheme_id!r}.")
    data = _body()
    if data.get("id", scheme_id) != scheme_id:
        raise BadRequest(description="A scheme's id cannot change.")
    services = get_services()
    pending = services.scheme_jobs.active(scheme_id)
    base = definition_scheme(pending.definition, scheme_id) if pending is not None else known
    base = replace(base, created_at=known.created_at, evaluated_at=known.evaluated_at)
    changed = _scheme_from(data, base, _owner(data, base.owner))
    evaluated = (rules_to_data(changed.rules), changed.accredited)
    if evaluated == (rules_to_data(base.rules), base.accredited):
        updated = store.rename_scheme(
            scheme_id, name=changed.name, description=changed.description, owner=changed.owner
        )
        return jsonify(scheme_json(updated, _latest_job(scheme_id)))
    job = services.scheme_jobs.submit(changed, create=False, requested_by=account.id)
    return _accepted(scheme_id, _dispatch(job))


@bp.get("/schemes/<scheme_id>/jobs")
def scheme_jobs(scheme_id: str) -> ResponseReturnValue:
    """The scheme's evaluation jobs, newest first (the last 20)."""
    eligibility().get_scheme(scheme_id)
    jobs = get_services().scheme_jobs.history(scheme_id)
    return jsonify({"scheme": scheme_id, "jobs": [job_json(j) for j in jobs]})


@bp.get("/schemes/<scheme_id>/jobs/<int:job_id>")
def scheme_job(scheme_id: str, job_id: int) -> ResponseReturnValue:
    """One evaluation job: status (queued, running, succeeded, failed, superseded) and progress."""
    job = get_services().scheme_jobs.get(job_id)
    if job.scheme_id != scheme_id:
        raise NotFound(f"scheme {scheme_id!r} has no job {job_id}")
    response = jsonify(job_json(job))
    response.headers["Cache-Control"] = "no-cache"  # progress moves: always revalidate
    return response


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
    if verdict is None:
        store.clear_decision(scheme_id, course_id)
    else:
        decision = ManualDecision(scheme_id, course_id, verdict, note.strip(), account.id, datetime.now(UTC))
        store.set_decision(decision)
    _deliver()
    try:
        found = store.get_eligibility(scheme_id, course_id)
    except NotFound:  # the scheme's first evaluation is still running: it will include the decision
        raise NotFound(
            f"scheme {scheme_id!r} is being evaluated; the decision is recorded and applies when it completes"
        ) from None
    return jsonify(eligibility_json(found))


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
