"""Who is calling: bearer tokens for the API, a signed session for the dashboard, CSRF for its forms.

API writes need ``Authorization: Bearer <token>``: `token_required` answers 401 (with a
``WWW-Authenticate: Bearer`` challenge, RFC 6750) when it is missing, malformed, unknown or
revoked; views then call a service operation, whose one permission check (`Actor.permit`)
answers 403. Both go through the one error shape of `web.errors`. The API never looks at cookies,
so it needs no CSRF protection.

The dashboard keeps the token's *id* (not the token) in Flask's signed session cookie and checks
on every request that the token is still active, so revoking a token also ends its sessions.
Every dashboard POST is checked by Flask-WTF's CSRFProtect (enabled for that blueprint only).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, g, has_request_context, session
from flask import request as flask_request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Account
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.services.runtime import get_services

log = logging.getLogger(__name__)

REALM = "catalogue"
SESSION_LIFETIME = timedelta(hours=12)
"""A dashboard login lasts this long, whatever the browser does with the cookie."""

csrf = CSRFProtect()
_View = TypeVar("_View", bound=Callable[..., Any])


def _accounts() -> AccountStore:
    """The account store of the current app (a thin wrapper: cheap to build per request)."""
    return AccountStore(get_services().store)


def _challenge(error: str | None = None, description: str | None = None) -> WWWAuthenticate:
    params: dict[str, str | None] = {"realm": REALM}
    if error:
        params["error"] = error
    if description:
        params["error_description"] = description
    return WWWAuthenticate("Bearer", params)


def _unauthorized(message: str, error: str | None = None) -> Unauthorized:
    return Unauthorized(description=message, www_authenticate=_challenge(error, message if error else None))


def authenticate_request() -> Account:
    """The account of the request's bearer token; raises Unauthorized (401) otherwise."""
    header = flask_request.headers.get("Authorization", "")
    if not header.strip():
        raise _unauthorized("This request needs an API token: send 'Authorization: Bearer <token>'.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.", "invalid_request")
    found = _accounts().authenticate(token.strip())
    if found is None:
        raise _unauthorized("The API token is invalid or has been revoked.", "invalid_token")
    g.account, g.api_token = found
    return found[0]


def bearer_account() -> Account | None:
    """The account of a valid bearer token on this request, else None (no header, another
    scheme, unknown or revoked token): for public reads that show more to some callers (their
    own dry runs). Never raises; looked up once per request."""
    if "bearer_account" not in g:
        header = flask_request.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        found = (
            _accounts().authenticate(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        )
        g.bearer_account = found[0] if found else None
    account: Account | None = g.bearer_account
    return account


def token_required(view: _View) -> _View:
    """Authenticate before the view runs (so an unauthenticated write never learns whether its
    target exists); the view reads the caller with `current_account()`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticate_request()
        return view(*args, **kwargs)

    return cast(_View, wrapper)


def current_account() -> Account:
    account: Account = g.account
    return account


# --- dashboard session ---------------------------------------------------------------------------


def log_in(plaintext: str) -> Account | None:
    """Check a pasted token and start a dashboard session for its account; None if invalid."""
    found = _accounts().authenticate(plaintext.strip())
    if found is None:
        return None
    account, token = found
    session.clear()  # a new session id for a new login (no fixation of an earlier session)
    session["account_id"] = account.id
    session["token_id"] = token.id
    session["login_at"] = datetime.now(UTC).isoformat()
    return account


def log_out() -> None:
    session.clear()


def session_account() -> Account | None:
    """The logged-in account, or None (expired login, revoked token, unknown account)."""
    token_id, login_at = session.get("token_id"), session.get("login_at")
    if not token_id or not login_at:
        return None
    try:
        if datetime.now(UTC) - datetime.fromisoformat(login_at) > SESSION_LIFETIME:
            raise NotFound("session expired")
        store = _accounts()
        token = store.get_token(token_id)
        if not token.active or token.account_id != session.get("account_id"):
            raise NotFound("token revoked")
        return store.get_account(token.account_id)
    except (NotFound, ValueError):
        session.clear()
        return None


def protect_form() -> None:
    """CSRF check for a state-changing dashboard request (400 on a missing or bad token)."""
    if flask_request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        csrf.protect()


AUTO = "auto"
"""SESSION_COOKIE_SECURE value: Secure exactly on requests that came over HTTPS."""


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions whose cookie is `Secure` per request when the setting
    SESSION_COOKIE_SECURE is "auto": on requests that came over HTTPS (`request.is_secure`;
    behind a TLS-terminating proxy that needs ProxyFix or gunicorn's --forwarded-allow-ips, so
    the scheme is the client's). A browser then never sends the session over plain HTTP, and a
    plain-HTTP development server still gets a cookie it can use."""

    def get_cookie_secure(self, app: Flask) -> bool:
        setting = app.config["SESSION_COOKIE_SECURE"]
        if setting == AUTO:
            return bool(has_request_context() and flask_request.is_secure)
        return bool(setting)


def init_app(app: Flask) -> None:
    """A secret key for the session (random per process if unset), cookie flags, CSRFProtect
    checking only where `protect_form` is called (the dashboard), not on the bearer-token API.

    The flags are assigned, not `setdefault`: Flask defines every SESSION_COOKIE_* key with its
    own default (SameSite None), so a default here would never apply. They come from the
    settings SESSION_COOKIE_SAMESITE and SESSION_COOKIE_SECURE (`web.settings`); HttpOnly is
    always on (no script of ours reads the session)."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        if not app.testing:
            log.warning("SECRET_KEY is not set: dashboard logins last only as long as this process")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.session_interface = SessionCookies()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
