"""Interface language: choosing it per request, the translation catalogues, and switch links.

The language is, in order: `?lang=` (remembered in a cookie for a year), the `lang` cookie, the
browser's Accept-Language, else English. Translations are gettext catalogues in
`web/translations/<lang>/LC_MESSAGES/messages.po`; `compile_catalogues()` writes the `.mo` files
Flask-Babel reads (the Makefile runs it at install time and the app runs it at start when a `.mo`
is missing or older than its `.po`, so a fresh clone works without a build step).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, g, request, url_for
from flask_babel import Babel, get_locale

log = logging.getLogger(__name__)

LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "de": "Deutsch"}
"""Interface languages, each named in itself (how a language switcher should show them)."""
DEFAULT = "en"
COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def compile_catalogues(directory: Path = TRANSLATIONS, *, force: bool = False) -> list[Path]:
    """Compile each `messages.po` under `directory` whose `.mo` is missing or stale; return those written."""
    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        with mo.open("wb") as target:
            write_mo(target, catalog)
        written.append(mo)
    return written


def select_locale() -> str:
    """The language of this request (see the module docstring)."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        g.set_language_cookie = asked
        return asked
    cookie = request.cookies.get(COOKIE, "")
    if cookie in LANGUAGES:
        return cookie
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def _remember(response: Response) -> Response:
    chosen = g.pop("set_language_cookie", None)
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_AGE, samesite="Lax", httponly=True)
    if not request.path.startswith(("/api/", "/static/")):
        response.vary.update(("Accept-Language", "Cookie"))
    return response


def switch_links() -> list[dict[str, str | bool]]:
    """One link per language to the current page in that language (for the switcher)."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    endpoint = request.endpoint or "ui.search"
    view_args = dict(request.view_args or {})
    current = current_language()
    links: list[dict[str, str | bool]] = []
    for code, name in LANGUAGES.items():
        try:
            url = url_for(endpoint, **view_args, **{**args, "lang": code})
        except Exception:  # an error page of an unroutable URL: switch on the search page
            url = url_for("ui.search", lang=code)
        links.append({"code": code, "name": name, "url": url, "current": code == current})
    return links


def init_app(app: Flask) -> None:
    try:
        compile_catalogues()
    except OSError as error:  # a read-only install ships compiled catalogues
        log.warning("could not compile translations: %s", error)
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.after_request(_remember)
    app.jinja_env.globals.update(language_links=switch_links, current_language=current_language)
