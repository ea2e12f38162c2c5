"""Rate limits for anonymous use of the JSON API: per client IP, 429 in the one error shape.

Anonymous requests to `/api/` share one budget per client address (RATELIMIT_ANONYMOUS, e.g.
"120/minute"; empty: no limit). Requests with a valid API token are exempt: tokens are issued
to known providers and every write needs one, so the limit only throttles scrapers. The UI is
not limited (its pages are cached and cheap; the limit protects the API's search work).

Counters live in RATELIMIT_STORAGE_URI: `memory://` keeps them per process (N web workers allow
N times the budget), `redis://host:6379/2` shares them between processes and hosts. If the
storage is down, requests are let through (a limiter outage must not take the API down).
The client address is the TCP peer: behind a reverse proxy, wrap the app in werkzeug's ProxyFix
so `request.remote_addr` is the real client.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

EXTENSION = "catalogue_ratelimit"


def _anonymous_limit() -> str:
    return str(current_app.config["RATELIMIT_ANONYMOUS"])


def _exempt() -> bool:
    """Not an API request, or one carrying a valid token."""
    if not request.path.startswith("/api/"):
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    from web.auth import accounts  # late: web.auth imports the services this module must not need

    return accounts().authenticate(token.strip()) is not None


def init_app(app: Flask) -> None:
    """Install the limiter (none when RATELIMIT_ANONYMOUS is empty). A breach raises werkzeug's
    TooManyRequests, which `web.errors` answers as JSON 429 with a Retry-After header."""
    if not app.config.get("RATELIMIT_ANONYMOUS"):
        return
    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=[_anonymous_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        headers_enabled=True,  # X-RateLimit-* on every limited answer, Retry-After on a 429
        swallow_errors=True,  # storage down: serve rather than fail (logged by Flask-Limiter)
        in_memory_fallback_enabled=True,
        key_prefix="catalogue",
    )
    app.extensions[EXTENSION] = limiter
