"""The API's discovery surfaces: autocomplete suggestions, facet counts and the OpenAPI document.

Routes join the `api` blueprint of `web.api` (this module is imported by `web.app` before the
blueprint is registered).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from course_catalogue.search.backend import Suggestion
from course_catalogue.search.errors import QueryError
from course_catalogue.services.runtime import get_services
from course_catalogue.web.api import bp, cache_outcome, search_json
from course_catalogue.web.apidoc import openapi_document
from course_catalogue.web.facets import build_view, parse_query
from course_catalogue.web.params import whole_number
from course_catalogue.web.urls import PathTemplate, query_url

MAX_SUGGESTIONS = 20
MAX_PREFIX = 100


def suggestion_url(suggestion: Suggestion) -> str:
    """Where choosing a suggestion leads: the course page, the provider page, or a search."""
    if suggestion.kind == "course":
        return url_for("ui.course", course_id=suggestion.value)
    if suggestion.kind == "provider":
        return url_for("ui.provider", provider_key=suggestion.value)
    return url_for("ui.search", q=suggestion.value)


class SuggestionUrls:
    """`suggestion_url` for the many suggestions of one response: one `url_for` per kind,
    not per suggestion (see `web.urls`)."""

    def __init__(self) -> None:
        self.course = PathTemplate("ui.course", "course_id")
        self.provider = PathTemplate("ui.provider", "provider_key")
        self.search = url_for("ui.search")

    def __call__(self, suggestion: Suggestion) -> str:
        if suggestion.kind == "course":
            return self.course(suggestion.value)
        if suggestion.kind == "provider":
            return self.provider(suggestion.value)
        return query_url(self.search, {"q": suggestion.value})


def _int_arg(name: str, default: int, high: int) -> int:
    return whole_number(request.args, name, default, 1, high)


@bp.get("/suggest")
def suggest() -> ResponseReturnValue:
    """Completions of `q` as the user types: providers, keywords, course titles (each with a link)."""
    unknown = sorted(set(request.args) - {"q", "limit", "lang"})
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; parameters are q, limit, lang")
    prefix = request.args.get("q", "")
    if len(prefix) > MAX_PREFIX:
        raise QueryError(f"q is longer than {MAX_PREFIX} characters")
    limit = _int_arg("limit", 8, MAX_SUGGESTIONS)
    found = get_services().backend.suggest(prefix, limit)
    url = SuggestionUrls()
    items: list[dict[str, Any]] = [
        {"kind": s.kind, "text": s.text, "value": s.value, "url": url(s)} for s in found
    ]
    return cache_outcome(jsonify({"q": prefix, "suggestions": items}))


@bp.get("/facets")
def facets() -> ResponseReturnValue:
    """Facet counts for a search (same parameters as /search), without the hits."""
    page_size = current_app.config["PAGE_SIZE"]
    query = parse_query(request.args, default_page_size=page_size, strict=True)
    view = build_view(get_services().backend.search(query), "api.search", page_size)
    full = search_json(view)
    return cache_outcome(jsonify({"query": full["query"], "total": full["total"], "facets": full["facets"]}))


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API (merged from the fragments in web/openapi/)."""
    return jsonify(openapi_document())
