"""Interface languages, translated vocabulary labels, the provider page and the course page's provenance."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.web import vocab_labels as vl
from course_catalogue.web.i18n import TRANSLATIONS, compile_catalogues

EDX_TITLE = "How to Learn Online"


def html(client: FlaskClient, url: str, status: int = 200, **kwargs: object) -> str:
    response = client.get(url, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "label", "language", "facet"),
    [
        ("en", "Search courses", "English", "Language"),
        ("fr", "Rechercher des formations", "Anglais", "Langue"),
        ("de", "Kurse suchen", "Englisch", "Sprache"),
    ],
)
def test_lang_parameter_translates_ui_and_vocabulary_labels(
    edx_app: Flask, lang: str, label: str, language: str, facet: str
) -> None:
    page = html(edx_app.test_client(), f"/?lang={lang}")
    assert f'<html lang="{lang}">' in page
    assert f'<label for="q">{label}</label>' in page
    assert f">{facet}</h3>" in page
    assert f'<span class="facet-label">{language}</span>' in page


def test_choice_is_kept_in_a_cookie_and_beats_accept_language(edx_app: Flask) -> None:
    client = edx_app.test_client()
    first = client.get("/?lang=de")
    assert "lang=de" in first.headers["Set-Cookie"]
    assert "Quellen" in html(client, "/sources", headers={"Accept-Language": "fr"})


def test_accept_language_picks_the_language_without_a_choice(edx_app: Flask) -> None:
    page = html(edx_app.test_client(), "/sources", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    assert "<h1>Sources</h1>" in page and "Jamais moissonné" not in page
    assert 'lang="fr"' in page
    unknown = html(edx_app.test_client(), "/", headers={"Accept-Language": "pl"})
    assert '<html lang="en">' in unknown


def test_language_links_keep_the_current_page(edx_client: FlaskClient) -> None:
    page = html(edx_client, "/?q=data&language=en")
    links = re.findall(r'<a href="([^"]+)" lang="(\w\w)" hreflang', page)
    assert {code for _, code in links} == {"en", "fr", "de"}
    assert all("q=data" in url and "language=en" in url for url, _ in links)


def test_vocabulary_labels_per_language() -> None:
    assert vl.eqf(5, "en") == "Level 5"
    assert vl.eqf(5, "fr") == "Niveau 5"
    assert vl.country("DEU", "fr") == "Allemagne"
    assert vl.country("FRA", "de") == "Frankreich"
    assert vl.language("de", "fr") == "Allemand"
    assert vl.mode("online", "fr") == "En ligne"
    assert vl.schedule("full-time", "de") == "Vollzeit"
    assert vl.isced("06", "de").startswith("Informations")
    assert vl.isced("0613", "de") == "Software- und Applikationsentwicklung und -analyse"
    assert vl.isced("0610", "fr").endswith(", sans autre précision")  # named after its narrow field
    assert vl.isced("0619", "de") == vl.isced("061", "de") + ", anderweitig nicht klassifiziert"
    assert vl.isced("0688", "fr") == vl.isced("068", "fr") and vl.isced("9999", "de") == vl.isced("999", "de")
    assert vl.isced("0613", "it") == vl.isced("0613", "en")  # no Italian table: English


def test_every_detailed_isced_field_is_translated() -> None:
    from course_catalogue.catalogue.vocabularies import isced_fields

    detailed = [code for code in isced_fields() if len(code) == 4]
    assert len(detailed) == 150
    same_word = {"fr": {"0812", "1014"}, "de": set()}  # "Horticulture", "Sports" in French too
    for lang in ("fr", "de"):
        english = [c for c in detailed if vl.isced(c, lang) == vl.isced(c, "en") and c not in same_word[lang]]
        assert english == [], lang
    assert vl.country("XXX", "de") == "XXX"


def test_every_catalogue_translates_every_message() -> None:
    from babel.messages.pofile import read_po

    catalogues = {}
    for lang in ("fr", "de"):
        with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalogues[lang] = read_po(handle)
    ids = [{m.id for m in c if m.id} for c in catalogues.values()]
    assert ids[0] == ids[1]
    for lang, catalogue in catalogues.items():
        untranslated = [
            m.id
            for m in catalogue
            if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
        ]
        assert untranslated == [], (lang, untranslated)
    compile_catalogues()
    assert compile_catalogues() == []  # up to date: nothing is rewritten


def test_provider_page_lists_courses_and_the_latest_harvest_report(edx_client: FlaskClient) -> None:
    page = html(edx_client, "/providers/harvard-university")
    assert "<h1>Harvard University</h1>" in page
    assert page.count('<li class="result">') > 0
    assert "Latest harvest reports" in page
    assert "edX course catalogue (2020 scrape)" in page
    assert 'href="/runs/' in page
    # a summary by severity, not the issue table: the run report lists them record by record
    assert re.search(r"\d+ problems? in this provider(&#39;|')s records", page), page[-3000:]
    assert 'class="badge sev-' in page and '<table class="issues">' not in page
    html(edx_client, "/providers/no-such-provider", status=404)


def test_result_cards_link_to_the_provider_page(edx_client: FlaskClient) -> None:
    page = html(edx_client, "/?q=" + EDX_TITLE.replace(" ", "+"))
    assert re.search(r'<p class="provider"><a href="/providers/[a-z0-9-]+">', page)


def test_course_page_offers_elm_downloads_and_shows_originals(edx_client: FlaskClient) -> None:
    search = html(edx_client, "/?q=" + EDX_TITLE.replace(" ", "+"))
    href = re.search(r'href="(/courses/[^"]+)"', search)
    assert href is not None
    page = html(edx_client, href.group(1))
    cid = href.group(1).rsplit("/", 1)[1]
    assert f'href="/api/v1/courses/{cid}?format=jsonld"' in page
    assert f'href="/api/v1/courses/{cid}?format=turtle"' in page
    assert "Values as the provider wrote them" in page
    assert '<tr class="changed">' in page
    assert "harvest history" in page


def test_empty_search_suggests_similar_titles_and_past_courses(edx_client: FlaskClient) -> None:
    # one word (several that find nothing fall back to any of them: test_search_assist)
    page = html(edx_client, "/?q=pythonxqz")
    assert "No courses found" in page
    assert "Did you mean one of these?" in page
    assert "include_past=true" in page
