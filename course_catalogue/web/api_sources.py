"""The write side of the JSON API: register, change and delete sources, push feeds, harvest, confirm.

Every route here needs a bearer token (`web.auth.token_required`: 401) and a permission from
`catalogue.permissions` (403). A pushed feed is a dry run unless `?dry_run=false`: the response
shows the record-level diff and every issue, and the feed is staged until
`POST /api/v1/sources/<id>/feed/<staged_id>/confirm` publishes exactly those bytes. A run whose
feed fails as a whole answers 422 in the error shape, with the run report in `details`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.errors import ConfigurationError, Conflict, NotFound
from course_catalogue.catalogue.permissions import can_assign_owner, can_change_source, can_register_source
from course_catalogue.catalogue.runs import RunReport, RunStatus
from course_catalogue.catalogue.sources import (
    FORMATS,
    Source,
    SourceParameters,
    check_parameters,
    registered_provider,
    set_parameters,
    source_parameters,
)
from course_catalogue.catalogue.staged_feeds import StagedFeed, StagedFeedStore
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.transforms.levels import framework_keys
from course_catalogue.services import publish
from course_catalogue.services.runtime import get_services
from course_catalogue.web.api import issue_summary, source_summary
from course_catalogue.web.auth import current_account, permit, token_required
from course_catalogue.web.bodies import json_object
from course_catalogue.web.errors import ErrorInfo, error_response
from course_catalogue.web.quotas import check_source_quota, staged_feeds
from course_catalogue.web.uploads import read_feed

bp = Blueprint("api_sources", __name__, url_prefix="/api/v1")

MIN_SCHEDULE_MINUTES = 15
"""Pull no more often than this: a feed is a catalogue, not a ticker."""
_MAPPING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # a bundled spec name, never a path
_EDITABLE = ("name", "url", "format", "mapping", "schedule_minutes", "owner", "provider", "parameters")
CONFIRM_NOTE = (
    "The catalogue may have changed since the dry run (another push or a scheduled pull), so this "
    "run's changes can differ from the preview; compare `counts` with `dry_run.counts`."
)


def _body() -> dict[str, Any]:
    data = json_object()
    unknown = set(data) - {"id", *_EDITABLE}
    if unknown:
        raise BadRequest(description=f"Unknown fields: {', '.join(sorted(unknown))}.")
    return data


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in {"true", "1", "yes"}:
        return True
    if raw.lower() in {"false", "0", "no"}:
        return False
    raise BadRequest(description=f"{name} must be true or false.")


def _check_fields(data: dict[str, Any]) -> None:
    """Type and value checks of the editable fields present in `data` (400 on the first bad one)."""
    for key in ("name", "url", "mapping", "owner"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadRequest(description=f"{key} must be a string.")
    if "format" in data and data["format"] not in FORMATS:
        raise BadRequest(description=f"format must be one of {', '.join(FORMATS)}.")
    url = data.get("url")
    if url and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname):
        raise BadRequest(description="url must be an http(s) URL.")
    mapping = data.get("mapping")
    if mapping is not None:
        if not _MAPPING_NAME.match(mapping):
            raise BadRequest(description="mapping must be the name of a mapping spec, e.g. 'edx-csv'.")
        try:
            load_spec(mapping)
        except ConfigurationError:
            raise BadRequest(description=f"There is no usable mapping spec named {mapping!r}.") from None
    minutes = data.get("schedule_minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < MIN_SCHEDULE_MINUTES
    ):
        raise BadRequest(description=f"schedule_minutes must be a whole number >= {MIN_SCHEDULE_MINUTES}.")


def _owner(data: dict[str, Any], default: str | None) -> str | None:
    """The owner a request may set: only an admin names one, and it must be an account."""
    if "owner" not in data:
        return default
    account = current_account()
    owner: str | None = data["owner"]
    permit(can_assign_owner(account) or owner == account.id, "Only an admin can choose a source's owner.")
    if owner is not None:
        AccountStore(get_services().store).get_account(owner)  # 404 for an unknown account
    return owner


def _with_provider(source: Source, data: dict[str, Any]) -> Source:
    """The source with the body's `provider` registration (null removes it), checked; unchanged
    when the body has none. ConfigurationError for a malformed one."""
    if "provider" not in data:
        return source
    settings = {key: value for key, value in source.settings.items() if key != "provider"}
    if data["provider"] is not None:
        settings["provider"] = data["provider"]
    updated = replace(source, settings=MappingProxyType(settings))
    registered_provider(updated)
    return updated


def _with_parameters(source: Source, data: dict[str, Any], *, merge: bool) -> Source:
    """The source with the body's `parameters` (what its feed leaves implicit), checked by the
    domain; `merge`: a PATCH changes only the parameters it names (null removes one), and
    `"parameters": null` removes them all. ConfigurationError names a bad parameter."""
    if "parameters" not in data:
        return source
    raw = data["parameters"]
    if raw is None:
        return set_parameters(source, SourceParameters())
    current = source_parameters(source) if merge else None
    return set_parameters(source, check_parameters(raw, framework_keys(), current))


def source_json(source: Source) -> dict[str, Any]:
    """A source as its owner sees it (`settings` may hold feed credentials: never shown)."""
    return {
        **source_summary(source),
        "provider": source.settings.get("provider"),
        "parameters": dict(source.settings.get("parameters") or {}),
        "retired": publish.is_retired(source),
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


def _source_for_change(source_id: str) -> Source:
    source = get_services().store.get_source(source_id)
    permit(can_change_source(current_account(), source), f"Your account does not own source {source_id!r}.")
    return source


@bp.post("/sources")
@token_required
def register_source() -> ResponseReturnValue:
    """Register a source; the caller owns it (an admin may name another owner)."""
    account = current_account()
    permit(can_register_source(account), "Only provider and admin accounts register sources.")
    data = _body()
    _check_fields(data)
    for key in ("id", "format"):
        if not isinstance(data.get(key), str):
            raise BadRequest(description=f"{key} is required.")
    owner = _owner(data, None if can_assign_owner(account) else account.id)
    store = get_services().store
    try:
        known = store.get_source(data["id"])
    except NotFound:
        known = None
    if known is not None and not (publish.is_retired(known) and can_change_source(account, known)):
        raise Conflict(f"source {data['id']!r} already exists")
    if known is None or known.owner != owner:  # a retired source of one's own is no new one
        check_source_quota(owner)
    try:
        source = Source(
            id=data["id"],
            format=data["format"],
            name=data.get("name") or data["id"],
            url=data.get("url"),
            mapping=data.get("mapping"),
            schedule_minutes=data.get("schedule_minutes"),
            owner=owner,
        )
        source = _with_parameters(_with_provider(source, data), data, merge=False)
    except ConfigurationError as exc:
        raise BadRequest(description=str(exc)) from None
    store.save_source(source)
    response = jsonify(source_json(source))
    response.status_code = 201
    response.headers["Location"] = url_for("api.source", source_id=source.id)
    return response


@bp.patch("/sources/<source_id>")
@token_required
def change_source(source_id: str) -> ResponseReturnValue:
    """Change the given fields of a source (name, url, format, mapping, schedule_minutes,
    provider, parameters: only those named change; owner: admin only)."""
    source = _source_for_change(source_id)
    data = _body()
    if "id" in data and data["id"] != source_id:
        raise BadRequest(description="A source's id cannot change.")
    _check_fields(data)
    settings_keys = ("owner", "provider", "parameters")
    changes = {key: data[key] for key in _EDITABLE if key in data and key not in settings_keys}
    changes["owner"] = _owner(data, source.owner)
    if changes["owner"] != source.owner:
        check_source_quota(changes["owner"])
    try:
        updated = _with_parameters(_with_provider(replace(source, **changes), data), data, merge=True)
    except ConfigurationError as exc:
        raise BadRequest(description=str(exc)) from None
    get_services().store.save_source(updated)
    return jsonify(source_json(updated))


@bp.delete("/sources/<source_id>")
@token_required
def delete_source(source_id: str) -> ResponseReturnValue:
    """Withdraw all the source's courses as tombstones and unschedule it (nothing is deleted)."""
    source = _source_for_change(source_id)
    services = get_services()
    report = publish.retire(services.store, source, locks=services.locks, sinks=services.sinks)
    retired = services.store.get_source(source_id)
    return jsonify({"source": source_json(retired), "run": run_json(report)})


def _failed(report: RunReport) -> ResponseReturnValue:
    message = report.error or "The feed could not be harvested."
    return error_response(ErrorInfo(422, "feed_rejected", message, {"run": run_json(report)}))


def _staged_json(source: Source, staged: StagedFeed) -> dict[str, Any]:
    return {
        "id": staged.id,
        "media_type": staged.media_type,
        "sha256": staged.sha256,
        "bytes": staged.size,
        "created_at": staged.created_at.isoformat(),
        "expires_at": staged.expires_at.isoformat(),
        "links": {"confirm": url_for("api_sources.confirm_feed", source_id=source.id, staged_id=staged.id)},
    }


def _published_json(source: Source, published: publish.Published) -> dict[str, Any]:
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
    source = _source_for_change(source_id)
    dry_run = _flag("dry_run", True)
    upload = read_feed(source)
    services = get_services()
    account = current_account()
    staged = staged_feeds(account)
    if dry_run:  # a feed that could not be staged is refused before its dry run is spent
        staged.check_room(source, account.id, len(upload.content))
    published = publish.push(
        services.store,
        staged,
        source,
        upload.content,
        upload.media_type,
        account_id=account.id,
        dry_run=dry_run,
        ttl=timedelta(hours=current_app.config["STAGED_FEED_HOURS"]),
        locks=services.locks,
        sinks=services.sinks,
        settings=services.harvest_settings,
    )
    if published.report.status is RunStatus.FAILED:
        return _failed(published.report)
    return jsonify(_published_json(source, published))


@bp.post("/sources/<source_id>/feed/<staged_id>/confirm")
@token_required
def confirm_feed(source_id: str, staged_id: str) -> ResponseReturnValue:
    """Publish exactly the bytes of a staged dry run (the mapping is applied again)."""
    source = _source_for_change(source_id)
    services = get_services()
    confirmed = publish.confirm(
        services.store,
        StagedFeedStore(services.store),
        source,
        staged_id,
        locks=services.locks,
        sinks=services.sinks,
        settings=services.harvest_settings,
    )
    report = confirmed.published.report
    if report.status is RunStatus.FAILED:
        return _failed(report)
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
    """Pull the source's URL now (`?dry_run=true` previews without changing anything)."""
    source = _source_for_change(source_id)
    if not source.url:
        raise BadRequest(description=f"Source {source_id!r} has no URL: push its feed instead.")
    services = get_services()
    published = publish.pull(
        services.store,
        source,
        dry_run=_flag("dry_run", False),
        locks=services.locks,
        sinks=services.sinks,
        settings=services.harvest_settings,
    )
    if published.report.status is RunStatus.FAILED:
        return _failed(published.report)
    return jsonify(_published_json(source, published))


@bp.post("/runs/<int:run_id>/confirm-withdrawals")
@token_required
def confirm_withdrawals(run_id: int) -> ResponseReturnValue:
    """Apply the withdrawals a HELD run kept back (the mass-withdrawal guard)."""
    services = get_services()
    report = services.store.get_run(run_id)
    _source_for_change(report.source_id)
    diff = services.store.confirm_withdrawals(run_id)
    for sink in services.sinks:
        sink.apply(diff.changed)
    return jsonify(
        {"run_id": run_id, "withdrawn": diff.withdrawn, "links": {"run": url_for("api.run", run_id=run_id)}}
    )
