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

The operations (input schema, permission, errors) are `services.schemes.SchemeService`'s; these
routes translate HTTP to them and back, and start an evaluation job where configured.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.eligibility import Scheme, rules_to_data
from course_catalogue.catalogue.eligibility_jobs import SchemeJob
from course_catalogue.catalogue.eligibility_store import CourseEligibility
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.search.errors import QueryError
from course_catalogue.services.actors import Actor
from course_catalogue.services.runtime import get_services
from course_catalogue.services.schemes import MAX_PAGE, SchemeFields, SchemeService
from course_catalogue.web.auth import current_account, token_required
from course_catalogue.web.bodies import json_object
from course_catalogue.web.params import whole_number

logger = logging.getLogger(__name__)

bp = Blueprint("api_schemes", __name__, url_prefix="/api/v1")


def schemes_service() -> SchemeService:
    return get_services().schemes


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


def dispatch_job(job: SchemeJob) -> SchemeJob:
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
        from course_catalogue.web.celery_setup import celery_init_app

        celery = celery_init_app(current_app._get_current_object())  # type: ignore[attr-defined]
        policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
        celery.send_task(EVALUATE, args=(job.id,), retry=True, retry_policy=policy)
    except Exception:  # the broker is down: the job waits for a background runner
        logger.exception("scheme job %s could not be queued; it waits for a background runner", job.id)
    return job


def _accepted(scheme_id: str, job: SchemeJob) -> ResponseReturnValue:
    """202: the scheme as readers see it now, and the job that will change it."""
    response = jsonify(scheme_json(schemes_service().scheme(scheme_id), job))
    response.status_code = 202
    response.headers["Location"] = url_for("api_schemes.scheme_job", scheme_id=scheme_id, job_id=job.id)
    return response


@bp.get("/schemes")
def schemes() -> ResponseReturnValue:
    service = schemes_service()
    found = service.schemes(request.args.get("owner") or None)
    return jsonify({"schemes": [scheme_json(s, service.latest_job(s.id)) for s in found]})


@bp.post("/schemes")
@token_required
def create_scheme() -> ResponseReturnValue:
    """Define a scheme (the calling registry owns it; an admin may name the owner) and start its
    evaluation: 202 with the job (`Location`). Until the job completes the scheme funds nothing."""
    submitted = schemes_service().create(Actor(current_account()), SchemeFields.from_json(json_object()))
    return _accepted(submitted.scheme.id, dispatch_job(submitted.job))


@bp.get("/schemes/<scheme_id>")
def scheme(scheme_id: str) -> ResponseReturnValue:
    service = schemes_service()
    return jsonify(scheme_json(service.scheme(scheme_id), service.latest_job(scheme_id)))


@bp.patch("/schemes/<scheme_id>")
@token_required
def change_scheme(scheme_id: str) -> ResponseReturnValue:
    """Change name, description or owner (200, at once), or rules or accredited list (202: a job
    evaluates every course again; readers see the current evaluation until it completes). A
    change made while a job runs is made to what that job will switch in (a new rule change
    supersedes the job)."""
    service = schemes_service()
    changed = service.change(Actor(current_account()), scheme_id, SchemeFields.from_json(json_object()))
    if changed.job is None:
        return jsonify(scheme_json(changed.scheme, service.latest_job(scheme_id)))
    return _accepted(scheme_id, dispatch_job(changed.job))


@bp.get("/schemes/<scheme_id>/jobs")
def scheme_jobs(scheme_id: str) -> ResponseReturnValue:
    """The scheme's evaluation jobs, newest first (the last 20)."""
    jobs = schemes_service().job_history(scheme_id)
    return jsonify({"scheme": scheme_id, "jobs": [job_json(j) for j in jobs]})


@bp.get("/schemes/<scheme_id>/jobs/<int:job_id>")
def scheme_job(scheme_id: str, job_id: int) -> ResponseReturnValue:
    """One evaluation job: status (queued, running, succeeded, failed, superseded) and progress."""
    response = jsonify(job_json(schemes_service().job(scheme_id, job_id)))
    response.headers["Cache-Control"] = "no-cache"  # progress moves: always revalidate
    return response


@bp.get("/schemes/<scheme_id>/courses")
def scheme_courses(scheme_id: str) -> ResponseReturnValue:
    """The scheme's evaluated courses in id order; `eligible=true|false` filters, `after` pages."""
    raw = request.args.get("eligible")
    if raw not in (None, "true", "false"):
        raise QueryError("eligible must be true or false")
    limit = whole_number(request.args, "limit", 100, 1, MAX_PAGE)
    eligible = None if raw is None else raw == "true"
    found = schemes_service().courses(
        scheme_id, eligible=eligible, after=request.args.get("after"), limit=limit
    )
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
    data = json_object()
    if set(data) - {"eligible", "note"} or "eligible" not in data:
        raise BadRequest(description='The body is {"eligible": true|false|null, "note": "..."}.')
    found = schemes_service().decide(
        Actor(current_account()), scheme_id, course_id, data["eligible"], data.get("note", "")
    )
    if found is None:  # the scheme's first evaluation is still running: it will include the decision
        raise NotFound(
            f"scheme {scheme_id!r} is being evaluated; the decision is recorded and applies when it completes"
        )
    return jsonify(eligibility_json(found))


@bp.get("/courses/<course_id>/eligibility")
def course_eligibility(course_id: str) -> ResponseReturnValue:
    """The course's standing in every scheme: eligible or not, since when, and why."""
    found = schemes_service().course_eligibility(course_id)
    return jsonify({"course_id": course_id, "schemes": [eligibility_json(f) for f in found]})
