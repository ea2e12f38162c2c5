"""HTTP headers that belong to the server or to one status, checked once on every response.

* `Date`: the WSGI server (werkzeug, gunicorn) writes its own; werkzeug's `make_conditional`
  also sets one, so a response carried two. The application's copy is dropped.
* `Retry-After`: means "try again later" only on 429 and 503 (RFC 9110 10.2.3); Flask-Limiter's
  header injection adds it to every limited answer, 200s included. Elsewhere it is dropped.

Registered before every other after_request hook, so it runs last (Flask runs them in reverse).
"""

from __future__ import annotations

from flask import Flask, Response

RETRY_STATUSES = frozenset({429, 503})


def tidy(response: Response) -> Response:
    """after_request hook: drop the application's Date, and Retry-After outside 429/503."""
    response.headers.pop("Date", None)
    if response.status_code not in RETRY_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(tidy)
