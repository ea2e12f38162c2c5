"""Issue 22, classes 12 and 13: no open redirect after the dashboard login, and the session cookie's
flags (SameSite, Secure over HTTPS, HttpOnly)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.web.dashboard import local_path
from tests.web.conftest import make_app
from tests.web.publishing import World, world
from tests.web.test_dashboard import csrf_of

__all__ = ["world"]

HOSTILE_NEXT = [
    "/%09/evil.example",  # the reported one: werkzeug decodes it to "/\t/evil.example"
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/ /evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "//evil.example",
    "///evil.example",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "\x00//evil.example",
    "/\x00/evil.example",
    "//evil.example/%2F..",
    "/%5Cevil.example",
    "evil.example",
    "@evil.example",
]


def _login(w: World, next_value: str) -> str:
    client = w.app.test_client()
    form = {"token": w.tokens["zed"], "csrf_token": csrf_of(client, "/dashboard/login")}
    response = client.post("/dashboard/login", query_string={"next": next_value}, data=form)
    assert response.status_code in {302, 303}, (next_value, response.status_code)
    return str(response.headers["Location"])


def _origin_of(location: str) -> tuple[str, str]:
    """(scheme, host) a browser on http://localhost/dashboard/login goes to."""
    # Browsers strip tabs and newlines from URLs and read "\\" as "/" in http(s) URLs.
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/").strip()
    absolute = urljoin("http://localhost/dashboard/login", cleaned)
    parts = urlsplit(absolute)
    return parts.scheme, parts.netloc


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_the_login_never_redirects_to_another_origin(world: World, target: str) -> None:
    if "\x00" in target:  # refused before the view: no parameter may hold a NUL (class 11)
        client = world.app.test_client()
        form = {"token": world.tokens["zed"], "csrf_token": csrf_of(client, "/dashboard/login")}
        response = client.post("/dashboard/login", query_string={"next": target}, data=form)
        assert response.status_code == 400 and "Location" not in response.headers
        return
    location = _login(world, target)
    assert _origin_of(location) == ("http", "localhost"), (target, location)
    assert location.startswith("/") and not location.startswith("//"), location
    assert not any(c in location for c in "\t\r\n\\ "), location


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/sources/zed-feed", "/dashboard/sources/zed-feed"),
        ("/dashboard/", "/dashboard/"),
        ("/dashboard/sources/new?x=1#top", "/dashboard/sources/new?x=1"),
        ("/dashboard/../sources", "/sources"),
        ("/é", "/%C3%A9"),
    ],
)
def test_a_local_next_is_kept_normalised(world: World, target: str, expected: str) -> None:
    assert _login(world, target) == expected
    assert local_path(target) == expected


def test_an_unsafe_next_falls_back_to_the_dashboard(world: World) -> None:
    assert _login(world, "/%09/evil.example") == "/%09/evil.example"  # a path here, percent-encoded
    assert _login(world, "/\t/evil.example") == "/dashboard/"
    assert _login(world, "https://evil.example/") == "/dashboard/"


def _session_cookie(client: FlaskClient, w: World) -> str:
    form = {"token": w.tokens["zed"], "csrf_token": csrf_of(client, "/dashboard/login")}
    response = client.post("/dashboard/login", data=form)
    assert response.status_code in {302, 303}
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def _flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_lax_and_httponly(world: World) -> None:
    cookie = _session_cookie(world.app.test_client(), world)
    assert "SameSite=Lax" in cookie, cookie
    assert "httponly" in _flags(cookie), cookie
    assert "secure" not in _flags(cookie), (
        "plain HTTP (the dev server): no Secure, or it would never come back"
    )


def test_the_session_cookie_is_secure_over_https(world: World) -> None:
    client = world.app.test_client()
    base = "https://catalogue.example.org"
    page = client.get("/dashboard/login", base_url=base).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    form = {"token": world.tokens["zed"], "csrf_token": csrf.group(1)}
    headers = {"Referer": f"{base}/dashboard/login"}  # Flask-WTF checks the referrer over HTTPS
    response = client.post("/dashboard/login", data=form, base_url=base, headers=headers)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert {"secure", "httponly", "samesite"} <= _flags(cookie), cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("setting", "secure_on_http"), [("true", True), ("false", False), ("auto", False), (True, True)]
)
def test_session_cookie_secure_setting(tmp_path, setting: object, secure_on_http: bool) -> None:
    app = make_app(tmp_path / "i", SESSION_COOKIE_SECURE=setting)
    with app.test_request_context("/"):
        assert app.session_interface.get_cookie_secure(app) is secure_on_http
    with app.test_request_context("/", base_url="https://x.example"):
        assert app.session_interface.get_cookie_secure(app) is (setting != "false")


def test_same_site_setting(tmp_path) -> None:
    assert (
        make_app(tmp_path / "a", SESSION_COOKIE_SAMESITE="strict").config["SESSION_COOKIE_SAMESITE"]
        == "Strict"
    )
    with pytest.raises(ConfigurationError):
        make_app(tmp_path / "b", SESSION_COOKIE_SAMESITE="None")


def test_flask_defaults_do_not_hide_ours(tmp_path) -> None:
    # the bug: Flask defines SESSION_COOKIE_SAMESITE = None, so `setdefault("...", "Lax")` did nothing
    app: Flask = make_app(tmp_path / "i")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
