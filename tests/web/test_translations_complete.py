"""Every language complete: no English interface text on a French or German page.

Two checks that fail on different mistakes:

* every template, stripped of its Jinja expressions and statements, its markup and the code
  samples it quotes, holds no words: any text a reader sees went through gettext (a string
  typed straight into a template is caught even if nobody added it to a catalogue);
* every page a learner, provider or registry opens (search, course, provider, sources, run
  report, dashboard pages, upload preview, error page, API docs), rendered in fr and de, shows no
  English message of the catalogue whose translation differs: catches strings from Python
  (labels, issue kinds, statuses, flashes) and msgids missing from a .po file. Text a page marks
  as another language (`lang="en"` around a feed's own values and the engine's messages), code
  and data values are not interface text and are skipped.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.web.app import TEMPLATE_DIR
from course_catalogue.web.i18n import TRANSLATIONS
from tests.web.publishing import SOURCE, World, edx_csv, first_rows, world

__all__ = ["world"]

# Words a template may carry untranslated: names of standards, formats and products.
ALLOWED_WORDS = {"JSON", "OpenAPI", "ECTS", "API", "ISO", "EQF", "CSV", "XML", "ELM", "ESCO", "km"}
_JINJA = re.compile(r"{#.*?#}|{{.*?}}|{%.*?%}", re.S)
_QUOTED = re.compile(r"<(code|script|style)\b.*?</\1>|<span class=\"code\">.*?</span>", re.S)
# attributes a reader sees or hears; of the data-* ones, those holding text a script shows
_ATTRIBUTES = re.compile(
    r'\b(?:aria-label|title|placeholder|alt|data-[\w-]*(?:label|loading|text))="([^"]*)"'
)
_TAG = re.compile(r"<[^>]*>", re.S)
_PATH = re.compile(r"(?<![\w])/[\w./-]+")  # a URL path shown as a link text: /api/v1/search
_WORD = re.compile(r"[^\W\d_]{2,}")


def template_words(source: str) -> list[str]:
    """Words a reader would see that the template writes itself (not through gettext)."""
    without_jinja = _JINJA.sub(" ", source)
    attribute_words = [w for value in _ATTRIBUTES.findall(without_jinja) for w in _WORD.findall(value)]
    text = _PATH.sub(" ", _TAG.sub(" ", _QUOTED.sub(" ", without_jinja)))
    return [w for w in [*attribute_words, *_WORD.findall(text)] if w not in ALLOWED_WORDS]


def test_the_checker_catches_words_outside_gettext() -> None:
    assert template_words('<p>{{ _("Fine") }}</p><th>Field</th>') == ["Field"]
    assert template_words('<nav aria-label="Breadcrumb">{% if x %}{{ y }}{% endif %}</nav>') == ["Breadcrumb"]
    assert template_words("<code>catalogue sources add</code> {# a comment #} JSON") == []


TEMPLATES = sorted(p.relative_to(TEMPLATE_DIR) for p in TEMPLATE_DIR.rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=str)
def test_templates_write_no_text_outside_gettext(template: Path) -> None:
    words = template_words((TEMPLATE_DIR / template).read_text(encoding="utf-8"))
    assert words == [], f"{template}: wrap these in _(): {words}"


class _VisibleText(HTMLParser):
    """Text nodes a reader sees in the page's language (skips script, style, code, `.code`
    spans, elements marked with another `lang` and codes marked `translate="no"`)."""

    SKIPPED = frozenset({"script", "style", "code", "pre", "svg"})
    VOID = frozenset(
        {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "area", "base", "col", "embed"}
    )

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang
        self.stack: list[bool] = []  # per open element: whether its text is skipped
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        values = dict(attrs)
        skipped = (
            tag in self.SKIPPED
            or "code" in (values.get("class") or "").split()
            or (tag != "html" and values.get("lang") not in (None, self.lang))
            or values.get("translate") == "no"
        )
        self.stack.append(skipped or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not (self.stack and self.stack[-1]):
            self.texts.append(text)


def visible_texts(page: str, lang: str) -> list[str]:
    parser = _VisibleText(lang)
    parser.feed(page)
    return parser.texts


def english_messages(lang: str) -> list[str]:
    """Literal pieces (between placeholders and markup) of each msgid translated differently."""
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    catalog = read_po(io.BytesIO(path.read_bytes()), locale=lang)
    pieces = set()
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, msgstr in zip(ids, strings, strict=False):
            if msgid == msgstr:
                continue
            for piece in re.split(r"%\(\w+\)[sd]|<[^>]+>", msgid):
                piece = " ".join(piece.split()).strip(" .,:;()")
                if _WORD.search(piece) and piece not in strings:
                    pieces.add(piece)
    return sorted(pieces)


def untranslated(page: str, lang: str, messages: list[str]) -> list[str]:
    """English catalogue pieces shown on the page: a whole text node for short ones, anywhere in
    a text node for pieces of four words or more (short words also occur in data: "Online")."""
    texts = visible_texts(page, lang)
    whole = {t.strip(" .,:;()") for t in texts}
    found = []
    for piece in messages:
        if len(piece.split()) >= 4:
            if any(piece in t for t in texts):
                found.append(piece)
        elif piece in whole:
            found.append(piece)
    return found


def test_the_page_check_finds_english_and_ignores_marked_text() -> None:
    page = (
        '<html lang="fr"><body><h1>Issues by kind</h1><p lang="en">Issues by kind</p>'
        "<code>Issues</code><p>Problèmes</p></body></html>"
    )
    assert untranslated(page, "fr", ["Issues by kind", "Issues"]) == ["Issues by kind"]


def _log_in(client: FlaskClient, w: World, who: str = "zed") -> None:
    login = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    response = client.post("/dashboard/login", data={"token": w.tokens[who], "csrf_token": token.group(1)})
    assert response.status_code == 302


def _pages(w: World, lang: str) -> dict[str, str]:
    """Every kind of page, rendered in `lang`, by name."""
    client = w.app.test_client()
    client.get(f"/?lang={lang}")  # the cookie keeps the language for the POSTs below
    hit = client.get("/api/v1/search?q=online").get_json()["hits"][0]
    provider = client.get("/api/v1/search?q=online").get_json()["facets"]
    provider_key = next(f for f in provider if f["name"] == "provider")["values"][0]["value"]
    pages = {
        "search": client.get("/?q=online+learning"),
        "search-empty": client.get("/?q=zzqqxx"),
        "search-unknown-town": client.get("/?q=data&place=Xyzzyville"),
        "search-postcode": client.get("/?q=data&place=75011"),
        "course": client.get(hit["links"]["html"]),
        "provider": client.get(f"/providers/{provider_key}"),
        "sources": client.get("/sources"),
        "api-docs": client.get("/api/v1/docs"),
        "not-found": client.get("/courses/no-such-course"),
        "login": client.get("/dashboard/login"),
    }
    run_id = w.store.list_runs(SOURCE, limit=1)[0].run_id
    pages["run"] = client.get(f"/runs/{run_id}")
    _log_in(client, w)
    pages["dashboard"] = client.get("/dashboard/")
    pages["dashboard-source"] = client.get(f"/dashboard/sources/{SOURCE}")
    pages["dashboard-new-source"] = client.get("/dashboard/sources/new")
    source_page = pages["dashboard-source"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', source_page.get_data(as_text=True))
    assert csrf, (source_page.status_code, source_page.get_data(as_text=True)[:2000])
    rows = first_rows(14)
    rows[0][2] = rows[0][2] + " (revised)"
    data = {"file": (io.BytesIO(edx_csv(rows)), "courses.csv", "text/csv"), "csrf_token": csrf.group(1)}
    pages["dashboard-preview"] = client.post(
        f"/dashboard/sources/{SOURCE}/upload", data=data, content_type="multipart/form-data"
    )
    bad = {"id": "Bad Id", "format": "csv", "csrf_token": csrf.group(1)}
    pages["dashboard-form-error"] = client.post("/dashboard/sources/new", data=bad)
    slow = {"id": "ok-id", "format": "csv", "schedule_minutes": "5", "csrf_token": csrf.group(1)}
    pages["dashboard-form-schedule-error"] = client.post("/dashboard/sources/new", data=slow)
    unknown = {"id": "ok-id", "format": "csv", "mapping": "edx", "csrf_token": csrf.group(1)}
    pages["dashboard-form-mapping-error"] = client.post("/dashboard/sources/new", data=unknown)
    pages.update(_scheme_pages(w, lang))
    return {name: response.get_data(as_text=True) for name, response in pages.items()}


def _scheme_pages(w: World, lang: str) -> dict[str, Any]:
    """The registry's scheme pages: list, one scheme with a decision, the new-scheme form, errors."""
    registry = w.app.test_client()
    registry.get(f"/?lang={lang}")
    _log_in(registry, w, "reg")
    rules = [{"id": "any", "field": "title", "op": "present"}]
    body = {"id": "fund", "name": "Skills fund", "rules": rules, "accredited": ["Uni Zed"]}
    assert w.client.post("/api/v1/schemes", json=body, headers=w.auth("reg")).status_code == 202
    form = registry.get("/dashboard/schemes/fund").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found
    csrf = found.group(1)
    course = next(iter(w.store.iter_courses())).id
    decision = {"csrf_token": csrf, "course_id": course, "eligible": "no", "note": "-"}
    assert registry.post("/dashboard/schemes/fund/decisions", data=decision).status_code == 303
    bad = {"csrf_token": csrf, "id": "fund2", "name": "x", "rules": "[{"}
    return {
        "dashboard-schemes": registry.get("/dashboard/schemes/"),
        "dashboard-scheme": registry.get("/dashboard/schemes/fund"),
        "dashboard-new-scheme": registry.get("/dashboard/schemes/new"),
        "dashboard-scheme-error": registry.post("/dashboard/schemes/new", data=bad),
        "dashboard-decision-error": registry.post(
            "/dashboard/schemes/fund/decisions",
            data={"csrf_token": csrf, "course_id": "nope", "eligible": "no"},
        ),
    }


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_every_page_is_fully_translated(world: World, lang: str) -> None:
    messages = english_messages(lang)
    assert len(messages) > 200
    problems = {}
    for name, page in _pages(world, lang).items():
        assert f'<html lang="{lang}">' in page, name
        found = untranslated(page, lang, messages)
        if found:
            problems[name] = found
    assert problems == {}, f"English on {lang} pages: {problems}"


@pytest.mark.parametrize(("lang", "words"), [("fr", "Aucune ville nommée"), ("de", "Kein Ort namens")])
def test_place_errors_are_in_the_readers_language(edx_app: Flask, lang: str, words: str) -> None:
    response = edx_app.test_client().get(f"/?q=data&place=Xyzzyville&lang={lang}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert words in page and "Xyzzyville" in page and "no town called" not in page
