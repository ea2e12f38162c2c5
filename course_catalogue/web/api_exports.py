"""Bulk downloads for registries: a filtered search as ELM, and snapshots of the whole catalogue.

* `GET /api/v1/export?format=jsonld|turtle&<search parameters>`: every course of the search (not
  one page), as ONE ELM LOQ graph, streamed; at most `EXPORT_MAX_RECORDS` courses (headers
  `X-Export-Total`, `X-Export-Count`, `X-Export-Truncated` say how many matched and were sent).
  Course ids come from the search backend, page by page; records from the store.
* `GET /api/v1/snapshot.jsonl` and `GET /api/v1/snapshot.csv`: every active course, streamed.

Bodies are streamed, so their ETag is computed before the body: a snapshot's is the seq of the
newest course change (`X-Catalogue-Seq`; continue with the changes feed from there), an export's
also covers the query, the format and the day (search hides courses that have ended).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from course_catalogue.catalogue import exports
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import MAX_PAGE, MAX_PAGE_SIZE, Query, SearchResult
from course_catalogue.services.runtime import get_services
from course_catalogue.web import caching, elm_views
from course_catalogue.web.facets import KNOWN_PARAMS, parse_query

bp = Blueprint("api_exports", __name__, url_prefix="/api/v1")

EXPORT_FORMATS = {"jsonld": (elm_views.JSONLD, "jsonld"), "turtle": (elm_views.TURTLE, "ttl")}
EXPORT_PARAMS = (KNOWN_PARAMS - {"page", "page_size", "facets"}) | {"format"}
JSONL = "application/x-ndjson"
CSV = "text/csv"
VERSION = "1"  # bump when the bytes of an unchanged catalogue change (ETags follow)


def _export_query() -> tuple[Query, str]:
    """The search of an export request and its format key; QueryError (400) otherwise. It
    counts no facets: an export pages through up to MAX_PAGE searches and shows none."""
    unknown = sorted(set(request.args) - EXPORT_PARAMS)
    if unknown:
        raise QueryError(
            f"unknown parameter {unknown[0]!r}; parameters are {', '.join(sorted(EXPORT_PARAMS))}"
        )
    fmt = request.args.get("format", "jsonld")
    if fmt not in EXPORT_FORMATS:
        raise QueryError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    args = request.args.copy()
    args.pop("format", None)
    return replace(parse_query(args, default_page_size=MAX_PAGE_SIZE, strict=True), facets=()), fmt


def matching_ids(backend: SearchBackend, first: SearchResult, limit: int) -> Iterator[str]:
    """Up to `limit` course ids of the search whose first page is `first`, in its order."""
    hits, page, sent = first.hits, 1, 0
    while True:
        for hit in hits[: limit - sent]:
            yield hit.id
        sent += min(len(hits), limit - sent)
        if sent >= limit or sent >= first.total or len(hits) < first.query.page_size or page >= MAX_PAGE:
            return
        page += 1
        hits = backend.search(replace(first.query, page=page)).hits


def _etag(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, (VERSION, *parts))).encode()).hexdigest()[:32]


@bp.get("/export")
def export() -> ResponseReturnValue:
    """A filtered search as one ELM graph (JSON-LD or Turtle), streamed."""
    query, fmt = _export_query()
    services = get_services()
    store, backend = services.store, services.backend
    limit = min(current_app.config["EXPORT_MAX_RECORDS"], MAX_PAGE * MAX_PAGE_SIZE)
    base = elm_views.base_iri()
    media_type, extension = EXPORT_FORMATS[fmt]
    canonical = sorted(request.args.items(multi=True))
    etag = _etag("export", exports.changes_head(store), date.today(), fmt, canonical, limit, base)
    if (unchanged := caching.precomputed(etag)) is not None:
        return unchanged
    first = backend.search(query)
    count = min(first.total, limit)
    ids = matching_ids(backend, first, limit)
    courses = (stored.course for stored in exports.active_courses(store, ids))
    chunks = exports.elm_jsonld(courses, base) if fmt == "jsonld" else exports.elm_turtle(courses, base)
    response = Response(chunks, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="catalogue-export.{extension}"'
    response.headers["X-Export-Total"] = str(first.total)
    response.headers["X-Export-Count"] = str(count)
    response.headers["X-Export-Limit"] = str(limit)
    response.headers["X-Export-Truncated"] = "true" if first.total > limit else "false"
    return caching.stream_validators(response, etag)


def _snapshot(kind: str, media_type: str) -> ResponseReturnValue:
    if request.args:
        raise QueryError(f"unknown parameter {sorted(request.args)[0]!r}: snapshots take no parameters")
    store = get_services().store
    seq = exports.courses_head(store)
    headers = {"X-Catalogue-Seq": str(seq)}
    etag = _etag("snapshot", kind, seq)
    if (unchanged := caching.precomputed(etag, headers)) is not None:
        return unchanged
    items = store.iter_courses()
    chunks = exports.snapshot_jsonl(items) if kind == "jsonl" else exports.snapshot_csv(items)
    response = Response(chunks, mimetype=media_type, headers=headers)
    response.headers["Content-Disposition"] = f'attachment; filename="catalogue-snapshot-{seq}.{kind}"'
    return caching.stream_validators(response, etag)


@bp.get("/snapshot.jsonl")
def snapshot_jsonl() -> ResponseReturnValue:
    """Every active course, one JSON object per line."""
    return _snapshot("jsonl", JSONL)


@bp.get("/snapshot.csv")
def snapshot_csv() -> ResponseReturnValue:
    """Every active course as a flat CSV row (UTF-8, no BOM, formula-safe)."""
    return _snapshot("csv", CSV)
