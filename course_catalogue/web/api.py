"""The JSON API (/api/v1): search, course records, sources and harvest runs. Read-only.

Errors use the one shape of `web.errors`; search results are built from the same `SearchView`
as the HTML page, so facet `toggle_url`s and paging links follow the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from course_catalogue.catalogue.accounts import Account
from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.permissions import can_read_run
from course_catalogue.catalogue.runs import RunReport, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import Hit
from course_catalogue.search.result_cache import take_outcome
from course_catalogue.services.runtime import get_services
from course_catalogue.skills.requests import covered
from course_catalogue.web import elm_views
from course_catalogue.web.auth import bearer_account
from course_catalogue.web.facets import KNOWN_PARAMS, SearchView, build_view, current_page, parse_query
from course_catalogue.web.labels import course_labels
from course_catalogue.web.params import whole_number
from course_catalogue.web.record_json import api_record, plain_snippet
from course_catalogue.web.urls import PathTemplate

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_RUNS = 200
CACHE_HEADER = "X-Search-Cache"


def _hit(
    hit: Hit, api_course: PathTemplate, html_course: PathTemplate, requested: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        **hit.fields,
        "skill_links": hit.fields.get("skill_links") or [],
        "skills_covered": covered(hit.fields.get("skill_links"), requested),
        "id": hit.id,
        "score": hit.score,
        "snippet": hit.snippet,
        "snippet_text": plain_snippet(hit.snippet),
        "distance_km": hit.distance_km,
        "links": {"self": api_course(hit.id), "html": html_course(hit.id)},
    }


def search_json(view: SearchView) -> dict[str, Any]:
    """The search response: query echo, totals, hits, facets with toggle urls, paging links.

    `next_cursor` continues the search after this page (also in `links.next`); drill-down
    facets name their `parent` facet."""
    result, query = view.result, view.result.query
    echo: dict[str, Any] = {
        "q": query.text,
        "filters": {name: list(values) for name, values in query.filters.items()},
        "sort": query.sort,
        "include_past": query.include_past,
    }
    if query.near is not None:
        echo["near"] = list(query.near)
        echo["within_km"] = query.within_km
    if query.facets is not None:
        echo["facets"] = list(query.facets)
    if query.any_words:
        echo["match"] = "any"
    api_course, html_course = PathTemplate("api.course", "course_id"), PathTemplate("ui.course", "course_id")
    return {
        "query": echo,
        "total": result.total,
        "page": current_page(result),
        "page_size": query.page_size,
        "pages": result.pages,
        "next_cursor": result.next_cursor,
        "hits": [_hit(hit, api_course, html_course, query.filters.get("skill", ())) for hit in result.hits],
        "facets": [
            {
                "name": facet.name,
                "label": facet.label,
                "parent": facet.parent,
                "values": [
                    {
                        "value": v.value,
                        "label": v.label,
                        "count": v.count,
                        "selected": v.selected,
                        "toggle_url": v.toggle_url,
                    }
                    for v in facet.values
                ],
            }
            for facet in view.facets
        ],
        "links": dict(view.links),
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    """Where everything is: a starting point for API clients."""
    return jsonify(
        {
            "links": {
                "search": url_for("api.search"),
                "facets": url_for("api.facets"),
                "suggest": url_for("api.suggest"),
                "course": url_for("api.course", course_id="ID").removesuffix("ID") + "{id}",  # a template
                "sources": url_for("api.sources"),
                "health": url_for("api.health"),
                "openapi": url_for("api.openapi"),
            },
            "search_parameters": sorted(KNOWN_PARAMS),
        }
    )


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 when the store and the search index answer (503 in the error shape otherwise)."""
    services = get_services()
    return jsonify(
        {"status": "ok", "courses": services.store.count_courses(), "indexed": services.backend.count()}
    )


@bp.get("/search")
def search() -> ResponseReturnValue:
    page_size = current_app.config["PAGE_SIZE"]
    query = parse_query(request.args, default_page_size=page_size, strict=True)
    result = get_services().backend.search(query)
    return cache_outcome(jsonify(search_json(build_view(result, "api.search", page_size))))


def cache_outcome(response: Response) -> Response:
    """Say in `X-Search-Cache` whether the search cache answered this request ("hit"/"miss");
    no header when no cache is configured. For operators and the load benchmark."""
    outcome = take_outcome()
    if outcome is not None:
        response.headers[CACHE_HEADER] = outcome
    return response


def source_summary(source: Source) -> dict[str, Any]:
    """The public fields of a source (`settings` may carry feed credentials: never published)."""
    return {
        "id": source.id,
        "name": source.name,
        "format": source.format,
        "url": source.url,
        "mapping": source.mapping,
        "schedule_minutes": source.schedule_minutes,
        "owner": source.owner,
    }


def course_json(stored: StoredCourse, source: Source | None) -> dict[str, Any]:
    """The full record with its store status, labels for coded values and provenance."""
    course = stored.course
    prov = course.provenance
    return {
        "course": api_record(course),
        "status": stored.status.value,
        "labels": course_labels(course),
        "provenance": {
            "source": source_summary(source) if source else {"id": prov.source_id},
            "provider_ref": prov.provider_ref,
            "pointer": prov.pointer,
            "run_id": prov.run_id,
            "last_run_id": stored.last_run_id,
            "harvested_at": prov.harvested_at.isoformat() if prov.harvested_at else None,
            "first_seen": stored.first_seen.isoformat(),
            "last_changed": stored.updated_at.isoformat(),
            "withdrawn_at": stored.withdrawn_at.isoformat() if stored.withdrawn_at else None,
            "content_hash": stored.content_hash,
            "seq": stored.seq,
        },
        "links": {
            "self": url_for("api.course", course_id=course.id),
            "html": url_for("ui.course", course_id=course.id),
            "source": url_for("api.source", source_id=prov.source_id),
            "run": url_for("api.run", run_id=prov.run_id) if prov.run_id is not None else None,
            "raw": url_for("api.course_raw", course_id=course.id),
        },
    }


def find_source(source_id: str) -> Source | None:
    try:
        return get_services().store.get_source(source_id)
    except NotFound:
        return None


@bp.get("/courses/<course_id>")
def course(course_id: str) -> ResponseReturnValue:
    """The record as our JSON, or as ELM (`Accept: application/ld+json` / `text/turtle`, or
    `?format=jsonld|turtle|json`); see `web.elm_views`."""
    wanted = elm_views.negotiate(request)
    stored = get_services().store.get_course(course_id)
    if wanted != elm_views.JSON:
        return elm_views.elm_response(stored.course, wanted)
    response = jsonify(course_json(stored, find_source(stored.course.provenance.source_id)))
    response.vary.add("Accept")
    return response


@bp.get("/courses/<course_id>/raw")
def course_raw(course_id: str) -> ResponseReturnValue:
    """The record exactly as the provider's feed had it (what `remap` replays)."""
    store = get_services().store
    store.get_course(course_id)  # 404 for an unknown id
    raw = store.get_raw(course_id)
    if raw is None:
        raise NotFound(f"no raw payload is stored for course {course_id!r}")
    content, media_type = raw
    response = Response(content, mimetype=media_type)
    # provider bytes on our origin: never let a browser run or sniff them
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _run_json(report: RunReport, *, with_issues: bool) -> dict[str, Any]:
    """A run as JSON: with its issues and coverage report, or (a listing) without them; the exact
    issue count per severity either way."""
    data = report.to_dict()
    data["issue_totals"] = {s.value: n for s, n in report.severity_totals().items()}
    if not with_issues:
        data.pop("issues", None)
        data.pop("coverage", None)
    data["links"] = {
        "self": url_for("api.run", run_id=report.run_id) if report.run_id is not None else None,
        "source": url_for("api.source", source_id=report.source_id),
    }
    return data


def shows_dry_runs(source: Source) -> bool:
    """Whether this API caller may see the source's dry runs (see `can_read_run`)."""
    return can_read_run(bearer_account(), source, dry_run=True)


def _source_json(source: Source) -> dict[str, Any]:
    store = get_services().store
    runs = store.list_runs(source.id, limit=1, include_dry_runs=shows_dry_runs(source))
    return {
        **source_summary(source),
        "courses": store.count_courses(source_id=source.id),
        "last_run": _run_json(runs[0], with_issues=False) if runs else None,
        "links": {
            "self": url_for("api.source", source_id=source.id),
            "runs": url_for("api.source_runs", source_id=source.id),
        },
    }


@bp.get("/sources")
def sources() -> ResponseReturnValue:
    return jsonify({"sources": [_source_json(s) for s in get_services().store.list_sources()]})


@bp.get("/sources/<source_id>")
def source(source_id: str) -> ResponseReturnValue:
    return jsonify(_source_json(get_services().store.get_source(source_id)))


def _limit(args: Mapping[str, str]) -> int:
    return whole_number(args, "limit", 20, 1, MAX_RUNS)


@bp.get("/sources/<source_id>/runs")
def source_runs(source_id: str) -> ResponseReturnValue:
    store = get_services().store
    source = store.get_source(source_id)  # 404 for an unknown source rather than an empty list
    runs = store.list_runs(source_id, limit=_limit(request.args), include_dry_runs=shows_dry_runs(source))
    return jsonify({"source_id": source_id, "runs": [_run_json(r, with_issues=False) for r in runs]})


def severities(args: MultiDict[str, str]) -> tuple[Severity, ...]:
    """The `severity` filter of a run report (repeatable); empty means all."""
    try:
        return tuple(Severity(value) for value in args.getlist("severity"))
    except ValueError:
        raise QueryError(f"severity must be one of {', '.join(s.value for s in Severity)}") from None


def readable_run(run_id: int, account: Account | None) -> RunReport:
    """The run report `account` may read: NotFound, exactly as for a run that does not exist,
    for a dry run of a source it may not change (a 403 would tell that the run exists)."""
    report = get_services().store.get_run(run_id)
    if not can_read_run(account, find_source(report.source_id), dry_run=report.dry_run):
        raise NotFound(f"no run {run_id}")
    return report


def issue_summary(report: RunReport) -> dict[str, Any]:
    """Exact issue counts per severity and per kind (see `RunReport.issue_summary`)."""
    return report.issue_summary()


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    """One run report with its issues (`?severity=error` keeps only those) and their summary."""
    wanted = severities(request.args)
    report = readable_run(run_id, bearer_account())
    data = _run_json(report, with_issues=True)
    data["issue_summary"] = issue_summary(report)
    if wanted:
        data["issues"] = [i.to_dict() for i in report.issues if i.severity in wanted]
    return jsonify(data)
