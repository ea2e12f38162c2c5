"""One error shape for the whole service: a table from exceptions to HTTP statuses.

API routes (paths under /api/) always answer

    {"error": {"status": 404, "code": "not_found", "message": "...", "details": {...}}}

and HTML routes render templates/error.html from the same fields. Domain errors
(`catalogue.errors`, `search.errors`), werkzeug's HTTP exceptions and unexpected exceptions all
go through `describe()`; a 5xx never shows a traceback or an internal message to the client.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from course_catalogue.catalogue import errors as catalogue_errors
from course_catalogue.search import errors as search_errors
from course_catalogue.services import errors as service_errors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """How one exception class is answered. `public`: its message is safe to show."""

    status: int
    code: str
    public: bool
    hint: str = ""


# Most specific first: the first class an exception is an instance of wins.
ERROR_TABLE: tuple[tuple[type[Exception], Rule], ...] = (
    (service_errors.InvalidInput, Rule(400, "bad_request", True)),
    (service_errors.PermissionDenied, Rule(403, "forbidden", True)),
    (catalogue_errors.NotFound, Rule(404, "not_found", True, "It may have been removed from its feed.")),
    (catalogue_errors.Conflict, Rule(409, "conflict", True)),
    (catalogue_errors.QuotaExceeded, Rule(409, "quota_exceeded", True)),
    (search_errors.QueryError, Rule(400, "invalid_query", True, "Check the search parameters.")),
    (
        search_errors.BackendUnavailable,
        Rule(503, "search_unavailable", False, "Search is temporarily unavailable; try again shortly."),
    ),
    (search_errors.IndexingError, Rule(500, "indexing_failed", False)),
    (search_errors.SearchError, Rule(500, "search_error", False)),
    (catalogue_errors.FetchError, Rule(502, "fetch_failed", True)),
    (catalogue_errors.ParseError, Rule(422, "parse_failed", True)),
    (catalogue_errors.FeedError, Rule(422, "feed_error", True)),
    (
        catalogue_errors.StoreError,
        Rule(503, "store_unavailable", False, "The catalogue database is unavailable; try again shortly."),
    ),
    (catalogue_errors.ConfigurationError, Rule(500, "configuration_error", False)),
    (catalogue_errors.CatalogueError, Rule(500, "catalogue_error", False)),
)

_GENERIC_5XX = "An unexpected error occurred. It has been logged."
# Hints are shown translated on HTML error pages (templates/error.html); they are listed in the
# translation catalogues under these exact English texts.


@dataclass(frozen=True)
class ErrorInfo:
    """The answer to one error, shared by the JSON body and the HTML page."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "message": self.message,
                "details": self.details,
            }
        }


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _http(exc: HTTPException) -> ErrorInfo:
    status = exc.code or 500
    details: dict[str, Any] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        details["allowed"] = sorted(exc.valid_methods)
    if status == 404:
        details["path"] = request.path
    message = exc.description or exc.name if status < 500 else _GENERIC_5XX
    return ErrorInfo(status, _slug(exc.name), message, details)


def describe(exc: BaseException) -> ErrorInfo:
    """Map any exception to the status, code and public message the client gets."""
    if isinstance(exc, HTTPException):
        return _http(exc)
    for cls, rule in ERROR_TABLE:
        if isinstance(exc, cls):
            message = str(exc) if rule.public and str(exc) else _default_message(rule)
            details = dict(getattr(exc, "details", None) or {}) if rule.public else {}
            return ErrorInfo(rule.status, rule.code, message, details, hint=rule.hint)
    return ErrorInfo(500, "internal_error", _GENERIC_5XX)


def _default_message(rule: Rule) -> str:
    return rule.hint or _GENERIC_5XX


MACHINE_PATHS = frozenset({"/oai"})
"""Paths for programs outside /api/: their HTTP errors (429, 405, 413...) are JSON too (OAI-PMH
protocol errors are still XML documents with status 200, see catalogue.oai)."""


def wants_json() -> bool:
    """API paths (and MACHINE_PATHS) always get JSON; every other path gets an HTML page."""
    return request.path.startswith("/api/") or request.path in MACHINE_PATHS


def error_response(info: ErrorInfo) -> Response:
    if wants_json():
        response = jsonify(info.to_dict())
    else:
        response = make_response(render_template("error.html", error=info))
    response.status_code = info.status
    return response


def handle(exc: Exception) -> Response:
    info = describe(exc)
    if info.status >= 500:
        log.error("%s %s failed with %s", request.method, request.path, info.code, exc_info=exc)
    response = error_response(info)
    if isinstance(exc, HTTPException):
        # keep headers werkzeug computed (Allow on 405, Retry-After ...)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    # One handler for Exception covers HTTPExceptions too: Flask looks handlers up along the MRO.
    app.register_error_handler(Exception, handle)
