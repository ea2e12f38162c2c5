"""Rate limits for anonymous use, per client IP, on every surface: 429 in the one error shape.

Three budgets, each with its own setting and its own counters (using one surface does not
spend another's budget):

* the JSON API, `/api/...`: RATELIMIT_ANONYMOUS (e.g. "120/minute");
* the HTML pages (search, course, provider, sources, runs, the dashboard's login):
  RATELIMIT_PAGES; a search page costs the same engine work as an API search, and its facet
  links make it the larger answer;
* OAI-PMH, `/oai`: RATELIMIT_OAI (a list request reads a page of records from the store).

An empty setting turns that budget off. Static files are never limited. Requests with a valid
API token are exempt everywhere (tokens are issued to known providers and registries), and so
are dashboard pages of a logged-in session; forged tokens count as anonymous.

Counters live in RATELIMIT_STORAGE_URI: `memory://` keeps them per process (N web workers allow
N times the budget), `redis://host:6379/2` shares them between processes and hosts. If the
storage is down, requests are let through (a limiter outage must not take the service down).
The client address is the TCP peer: behind a reverse proxy, wrap the app in werkzeug's ProxyFix
so `request.remote_addr` is the real client.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_limiter.util import get_remote_address

EXTENSION = "catalogue_ratelimit"
BUDGETS = {"api": "RATELIMIT_ANONYMOUS", "pages": "RATELIMIT_PAGES", "oai": "RATELIMIT_OAI"}
"""Surface -> the setting holding its anonymous limit."""


def surface(path: str) -> str | None:
    """Which budget a request path spends: "api", "oai", "pages", or None (static files)."""
    if path.startswith("/static/"):
        return None
    if path.startswith("/api/"):
        return "api"
    if path == "/oai":
        return "oai"
    return "pages"


def _limit(setting: str) -> str:
    return str(current_app.config[setting])


def _valid_token() -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    from course_catalogue.web.auth import (
        bearer_account,  # late: web.auth imports the services this module must not need
    )

    return bearer_account() is not None


def _exempt(budget: str) -> bool:
    """Whether this request does not spend `budget`: another surface's request, or a known caller."""
    if surface(request.path) != budget:
        return True
    if _valid_token():
        return True
    if budget == "pages" and request.cookies:
        from course_catalogue.web.auth import session_account

        return session_account() is not None
    return False


def _application_limit(budget: str, setting: str) -> ApplicationLimit:
    exempt: Callable[[], bool] = partial(_exempt, budget)
    provider: Callable[[], str] = partial(_limit, setting)
    return ApplicationLimit(limit_provider=provider, scope=f"anonymous-{budget}", exempt_when=exempt)


def init_app(app: Flask) -> None:
    """Install the limiter with one application limit per configured budget (none: no
    limiter). A breach raises werkzeug's TooManyRequests, which `web.errors` answers with 429
    and a Retry-After header (JSON on /api/ and /oai, the error page elsewhere)."""
    limits: list[str | Callable[[], str] | ApplicationLimit] = [
        _application_limit(budget, setting) for budget, setting in BUDGETS.items() if app.config.get(setting)
    ]
    if not limits:
        return
    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=limits,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        headers_enabled=True,  # X-RateLimit-* on every limited answer, Retry-After on a 429
        swallow_errors=True,  # storage down: serve rather than fail (logged by Flask-Limiter)
        in_memory_fallback_enabled=True,
        key_prefix="catalogue",
    )
    app.extensions[EXTENSION] = limiter
