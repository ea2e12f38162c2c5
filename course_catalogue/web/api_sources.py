"""The write side of the JSON API: register, change and delete sources, push feeds, harvest, confirm.

Every route here needs a bearer token (`web.auth.token_required`: 401) and a permission from
`catalogue.permissions` (403). A pushed feed is a dry run unless `?dry_run=false`: the response
shows the record-level diff and every issue, and the feed is staged until
`POST /api/v1/sources/<id>/feed/<staged_id>/confirm` publishes exactly those bytes. A run whose
feed fails as a whole answers 422 in the error shape, with the run report in `details`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.runs import RunReport, RunStatus
from course_catalogue.catalogue.sources import (
    Source,
    is_retired,
)
from course_catalogue.catalogue.staged_feeds import StagedFeed
from course_catalogue.services.actors import Actor
from course_catalogue.services.harvests import Published, SourceRepair
from course_catalogue.services.runtime import get_services
from course_catalogue.services.sources import SourceFields
from course_catalogue.web.api import issue_summary, source_summary
from course_catalogue.web.auth import current_account, token_required
from course_catalogue.web.bodies import json_object
from course_catalogue.web.errors import ErrorInfo, error_response
from course_catalogue.web.uploads import read_feed

bp = Blueprint("api_sources", __name__, url_prefix="/api/v1")

CONFIRM_NOTE = (
    "The catalogue may have changed since the dry run (another push or a scheduled pull), so this "
    "run's changes can differ from the preview; compare `counts` with `dry_run.counts`."
)


def _fields() -> SourceFields:
    return SourceFields.from_json(json_object())


def _actor() -> Actor:
    return Actor(current_account())


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise BadRequest(description=f"{name} must be true or false.")


def source_json(source: Source) -> dict[str, Any]:
    """A source as its owner sees it (`settings` may hold feed credentials: never shown)."""
    return {
        **source_summary(source),
        "provider": source.settings.get("provider"),
        "parameters": dict(source.settings.get("parameters") or {}),
        "retired": is_retired(source),
        "links": {
            "self": url_for("api.source", source_id=source.id),
            "feed": url_for("api_sources.push_feed", source_id=source.id),
            "runs": url_for("api.source_runs", source_id=source.id),
        },
    }


def run_json(report: RunReport) -> dict[str, Any]:
    data = report.to_dict()
    data["issue_totals"] = {s.value: n for s, n in report.severity_totals().items()}
    data["issue_summary"] = issue_summary(report)
    data["links"] = {"self": url_for("api.run", run_id=report.run_id) if report.run_id else None}
    return data


@bp.post("/sources")
@token_required
def register_source() -> ResponseReturnValue:
    """Register a source; the caller owns it (an admin may name another owner)."""
    source = get_services().sources.register(_actor(), _fields())
    response = jsonify(source_json(source))
    response.status_code = 201
    response.headers["Location"] = url_for("api.source", source_id=source.id)
    return response


@bp.patch("/sources/<source_id>")
@token_required
def change_source(source_id: str) -> ResponseReturnValue:
    """Change the given fields of a source (name, url, format, mapping, schedule_minutes,
    provider, parameters: only those named change; owner: admin only)."""
    return jsonify(source_json(get_services().sources.change(_actor(), source_id, _fields())))


@bp.delete("/sources/<source_id>")
@token_required
def delete_source(source_id: str) -> ResponseReturnValue:
    """Withdraw all the source's courses as tombstones and unschedule it (nothing is deleted)."""
    retired = get_services().sources.retire(_actor(), source_id)
    return jsonify({"source": source_json(retired.source), "run": run_json(retired.report)})


def _failed(report: RunReport) -> ResponseReturnValue:
    message = report.error or "The feed could not be harvested."
    return error_response(ErrorInfo(422, "feed_rejected", message, {"run": run_json(report)}))


def _staged_json(source: Source, staged: StagedFeed) -> dict[str, Any]:
    return {
        "id": staged.id,
        "filename": staged.filename,
        "media_type": staged.media_type,
        "sha256": staged.sha256,
        "bytes": staged.size,
        "created_at": staged.created_at.isoformat(),
        "expires_at": staged.expires_at.isoformat(),
        "links": {"confirm": url_for("api_sources.confirm_feed", source_id=source.id, staged_id=staged.id)},
    }


def _published_json(source: Source, published: Published) -> dict[str, Any]:
    report = published.report
    return {
        "dry_run": report.dry_run,
        "run": run_json(report),
        "diff": published.diff.to_dict() if published.diff else None,
        "staged": _staged_json(source, published.staged) if published.staged else None,
    }


@bp.post("/sources/<source_id>/feed")
@token_required
def push_feed(source_id: str) -> ResponseReturnValue:
    """Push a feed (raw body with its Content-Type, or a multipart `file`). Dry run by default:
    nothing changes until the staged feed is confirmed; `?dry_run=false` publishes at once."""
    harvests = get_services().harvests
    source = harvests.changeable(_actor(), source_id)
    upload = read_feed(source)
    published = harvests.push(
        _actor(),
        source_id,
        upload.content,
        upload.media_type,
        dry_run=_flag("dry_run", True),
        filename=upload.filename,
        force=_flag("force", False),
    )
    if published.report.status is RunStatus.FAILED:
        return _failed(published.report)
    return jsonify(_published_json(source, published))


@bp.post("/sources/<source_id>/feed/<staged_id>/confirm")
@token_required
def confirm_feed(source_id: str, staged_id: str) -> ResponseReturnValue:
    """Publish exactly the bytes of a staged dry run (the mapping is applied again)."""
    confirmed = get_services().harvests.confirm(_actor(), source_id, staged_id)
    report = confirmed.published.report
    if report.status is RunStatus.FAILED:
        return _failed(report)
    source = get_services().store.get_source(source_id)
    data = _published_json(source, confirmed.published)
    dry = confirmed.dry_run
    data["dry_run_report"] = (
        {
            "run_id": dry.run_id,
            "counts": dry.to_dict()["counts"],
            "link": url_for("api.run", run_id=dry.run_id),
        }
        if dry is not None and dry.run_id is not None
        else None
    )
    data["differs_from_dry_run"] = confirmed.differs
    data["note"] = CONFIRM_NOTE
    return jsonify(data)


@bp.post("/sources/<source_id>/harvest")
@token_required
def harvest_source(source_id: str) -> ResponseReturnValue:
    """Pull the source's URL now (`?dry_run=true` previews without changing anything; `?force=true`
    reads a feed byte-identical to the last one applied, which is otherwise not read again)."""
    harvests = get_services().harvests
    published = harvests.pull(
        _actor(), source_id, dry_run=_flag("dry_run", False), force=_flag("force", False)
    )
    if published.report.status is RunStatus.FAILED:
        return _failed(published.report)
    return jsonify(_published_json(get_services().store.get_source(source_id), published))


def repair_json(repair: SourceRepair) -> dict[str, Any]:
    """What a source's repair found and did (see `services.harvests.SourceRepair`)."""
    index = repair.index
    return {
        "source_id": repair.source_id,
        "dry_run": repair.dry_run,
        "stale_runs": repair.stale_runs,
        "inconsistent_records": repair.inconsistent,
        "remap": run_json(repair.remap) if repair.remap is not None else None,
        "still_inconsistent": repair.left,
        "index": None
        if index is None
        else {"checked": index.checked, "missing": index.missing, "stale": index.stale},
        "links": {"source": url_for("api.source", source_id=repair.source_id)},
    }


@bp.post("/sources/<source_id>/repair")
@token_required
def repair_source(source_id: str) -> ResponseReturnValue:
    """Put the source right after a crash or a hand-edited database: fail its runs a dead process
    left RUNNING, remap its courses whose stored record disagrees with its hash, upsert its
    missing or stale index documents. `?dry_run=true` reports them and changes nothing. 409
    while a harvest of the source runs."""
    repaired = get_services().harvests.repair(_actor(), source_id, dry_run=_flag("dry_run", False))
    return jsonify(repair_json(repaired))


@bp.post("/runs/<int:run_id>/confirm-withdrawals")
@token_required
def confirm_withdrawals(run_id: int) -> ResponseReturnValue:
    """Apply the withdrawals a HELD run kept back (the mass-withdrawal guard)."""
    diff = get_services().harvests.confirm_withdrawals(_actor(), run_id)
    return jsonify(
        {"run_id": run_id, "withdrawn": diff.withdrawn, "links": {"run": url_for("api.run", run_id=run_id)}}
    )
