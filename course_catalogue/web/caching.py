"""HTTP caching for every GET: a strong ETag from the body, Cache-Control, and 304 on If-None-Match.

The ETag is a hash of the exact bytes sent, so it changes whenever anything on the page does
(a harvest, the interface language, a new label) and costs one hash of a body we already hold.
Anonymous API responses may be cached by anyone for `API_CACHE_SECONDS`; API responses to
authenticated requests and HTML pages (which follow the language cookie and may show a signed-in
user's dashboard) are `private, no-cache`: kept only by the browser, always revalidated. The
health check is never stored and has no ETag.
Streamed responses and responses that already carry an ETag (static files) are left alone;
streamed exports set an ETag known in advance with `precomputed` / `stream_validators`.
"""

from __future__ import annotations

import hashlib

from flask import Flask, Response, current_app, request

UNCACHED_PATHS = frozenset({"/api/v1/health"})


def _cache_control(response: Response) -> None:
    if "Cache-Control" in response.headers:
        return
    if request.path in UNCACHED_PATHS:
        response.headers["Cache-Control"] = "no-store"
    elif request.path.startswith("/api/") and "Authorization" not in request.headers:
        seconds = current_app.config["API_CACHE_SECONDS"]
        response.headers["Cache-Control"] = f"public, max-age={seconds}" if seconds > 0 else "no-cache"
    else:
        response.headers["Cache-Control"] = "private, no-cache"


def conditional(response: Response) -> Response:
    """after_request hook: ETag + Cache-Control on successful GET/HEAD, 304 when unchanged."""
    if request.method not in {"GET", "HEAD"} or response.status_code != 200:
        return response
    if response.is_streamed or response.direct_passthrough:
        return response
    _cache_control(response)
    if request.path in UNCACHED_PATHS:  # a live check: never answered from a validator
        return response
    if response.get_etag()[0] is None:
        response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.make_conditional(request)  # turns it into a 304 in place when the ETag matches
    return response


def precomputed(etag: str, headers: dict[str, str] | None = None) -> Response | None:
    """For a streamed GET whose ETag is known before the body is made (the hook above leaves
    streams alone): a bodiless 304 when If-None-Match matches `etag`, else None. Call
    `stream_validators` on the streamed 200."""
    if not request.if_none_match.contains(etag):
        return None
    response = Response(status=304, headers=headers)
    return stream_validators(response, etag)


def stream_validators(response: Response, etag: str) -> Response:
    """The ETag and Cache-Control a streamed response gets instead of the hook's."""
    response.set_etag(etag)
    _cache_control(response)
    return response


def init_app(app: Flask) -> None:
    app.after_request(conditional)
