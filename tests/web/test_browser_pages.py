"""End to end in Debian's Chromium: the first run, the provider dashboard, the API documentation, in
en, fr and de and on a 390x844 phone, with axe-core on every page and screenshots kept.

One app for the module: `catalogue load-samples` (the bundled real feeds, as `make run` loads them),
plus a provider account "zed" owning a pushed edX slice harvested three times (so its dashboard
has a history to chart). Screenshots go to artifacts/screenshots/ (see tests/web/test_browser.py).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.web.conftest import make_app, serve_app
from tests.web.publishing import HEADER, edx_csv, first_rows
from tests.web.test_browser import axe_violations, browser, check_page, describe, open_page, shot

__all__ = ["browser"]

pytestmark = pytest.mark.browser

SOURCE = "zed-feed"
LANGS = ("en", "fr", "de")
PHONE = {"width": 390, "height": 844}
TITLE = HEADER.index("title")


def _push(client: Any, token: str, rows: list[list[str]]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    response = client.post(
        f"/api/v1/sources/{SOURCE}/feed?dry_run=false", data=edx_csv(rows), headers=headers
    )
    assert response.status_code == 200, response.get_json()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, zed's token) of the app served on a free local port."""
    app: Flask = make_app(tmp_path_factory.mktemp("pages-instance"))
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    loaded = runner.invoke(main, ["load-samples"])
    assert loaded.exit_code == 0, loaded.output
    store = get_services(app).store
    accounts = AccountStore(store)
    accounts.create_account("zed", "Zed", Role.PROVIDER)
    token = accounts.issue_token("zed", "browser").plaintext
    rows = first_rows(30)
    for institution in sorted({row[HEADER.index("institution")] for row in rows}):
        accounts.grant_organisation("zed", institution, granted_by="test")
    store.save_source(Source(SOURCE, "csv", name="Zed's courses", mapping="edx-csv", owner="zed"))
    client = app.test_client()
    _push(client, token, rows[:20])
    _push(client, token, rows[:26])
    _push(client, token, rows[2:30])
    try:
        with serve_app(app) as url:
            yield url, token
    finally:
        get_services(app).close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from open_page(browser, axe=True)


def _log_in(page: Any, base: str, token: str, lang: str) -> None:
    page.goto(f"{base}/dashboard/login?lang={lang}")
    page.fill("#token", token)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/dashboard/")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_first_run_shows_places_levels_and_provenance(
    page: Any, served: tuple[str, str], lang: str, phone: bool
) -> None:
    base, _ = served
    if phone:
        page.set_viewport_size(PHONE)
    page.goto(f"{base}/?include_past=true&lang={lang}")
    facets = page.locator("body").inner_text()
    for country in {
        "en": ("United Kingdom", "France"),
        "fr": ("Royaume-Uni", "France"),
        "de": ("Vereinigtes Königreich", "Frankreich"),
    }[lang]:
        assert country in facets, country
    assert page.locator("a[href*='eqf=']").count() >= 3
    assert page.locator("a[href*='city=']").count() >= 3
    check_page(page, f"first-run-search-{lang}{'-phone' if phone else ''}")
    page.goto(f"{base}/sources?lang={lang}")
    text = page.locator("main").inner_text()
    assert "k-int/XCRI-Aggregator" in text and "lheo/lheo-schema" in text
    assert {"en": "Provenance", "fr": "Provenance", "de": "Herkunft"}[lang] in text
    check_page(page, f"first-run-sources-{lang}{'-phone' if phone else ''}")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_dashboard_charts_preview_and_publish(
    page: Any, served: tuple[str, str], lang: str, phone: bool, tmp_path: Path
) -> None:
    base, token = served
    if phone:
        page.set_viewport_size(PHONE)
    _log_in(page, base, token, lang)
    suffix = f"{lang}{'-phone' if phone else ''}"
    check_page(page, f"dashboard-index-{suffix}")
    page.goto(f"{base}/dashboard/sources/{SOURCE}")
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == 3  # records, issues, quality score
    assert page.locator("svg.chart rect").count() >= 6  # bars of three runs
    issues_heading = {
        "en": "Issues by standard element",
        "fr": "Problèmes par élément standard",
        "de": "Probleme nach Standardelement",
    }
    assert issues_heading[lang] in page.locator("main").inner_text()
    assert "provider.country" not in page.locator("main").inner_text()
    check_page(page, f"dashboard-source-{suffix}")

    rows = first_rows(30)[2:30]
    edition = f"({suffix} edition)"  # differs from what the previous run of this test published
    rows[0][TITLE] = rows[0][TITLE] + " " + edition
    feed = tmp_path / "zed-update.csv"
    feed.write_bytes(edx_csv(rows))
    page.set_input_files("#file", str(feed))
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_selector("table.before-after")
    assert "zed-update.csv" in page.locator("h1").inner_text()
    change = page.locator("table.before-after").first
    assert edition in change.locator("ins").first.inner_text()
    assert edition not in change.locator("del").first.inner_text()
    check_page(page, f"dashboard-preview-{suffix}")

    page.locator("form[action*='/confirm'] button[type=submit]").first.click()
    page.wait_for_url("**/runs/**")
    notice = page.locator(".notice-success")
    assert notice.count() == 1
    published = {"en": "Published.", "fr": "Publié.", "de": "Veröffentlicht."}[lang]
    assert notice.inner_text().startswith(published)
    check_page(page, f"dashboard-published-{suffix}")


@pytest.mark.parametrize("lang", LANGS)
def test_mapping_is_chosen_from_the_bundled_specs(page: Any, served: tuple[str, str], lang: str) -> None:
    base, token = served
    _log_in(page, base, token, lang)
    page.goto(f"{base}/dashboard/sources/new")
    options = page.locator("#mapping option").all_inner_texts()
    assert any(text.startswith("edx-csv") for text in options) and any(
        text.startswith("xcri-cap") for text in options
    )
    check_page(page, f"dashboard-new-source-{lang}")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_api_docs_render_the_openapi_document(
    page: Any, served: tuple[str, str], lang: str, phone: bool
) -> None:
    base, _ = served
    if phone:
        page.set_viewport_size(PHONE)
    page.goto(f"{base}/api/v1/docs?lang={lang}")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    assert page.locator(".swagger-ui .opblock").count() > 30
    assert page.locator("table.api-operations").count() == 0  # the viewer replaced the plain list
    suffix = f"{lang}{'-phone' if phone else ''}"
    shot(page, f"api-docs-{suffix}")
    page.wait_for_function("() => document.getElementById('swagger-ui').getAttribute('aria-busy') === null")
    # The whole page, Swagger UI's markup included (static/api-docs.css and api-docs.js repair
    # what axe finds in it), folded and with a read and a write operation opened.
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    for operation in ("#operations-search-search", "#operations-publishing-push_feed"):
        page.locator(f"{operation} .opblock-summary-control").click()
        page.wait_for_selector(f"{operation} .opblock-body")
    assert page.url.endswith("#/publishing/push_feed")  # the summary button still gives the deep link
    shot(page, f"api-docs-open-{suffix}")
    violations = axe_violations(page)
    assert violations == [], describe(violations)


def test_api_docs_list_operations_without_javascript(page: Any, served: tuple[str, str]) -> None:
    base, _ = served
    page.route(re.compile(r".*/(vendor/swagger-ui/.*|static/api-docs)\.js$"), lambda route: route.abort())
    try:
        page.goto(f"{base}/api/v1/docs?lang=de")
        rows = page.locator("table.api-operations tbody tr")
        assert rows.count() > 30
        assert "/api/v1/search" in page.locator("table.api-operations").inner_text()
        shot(page, "api-docs-no-js-de")
        violations = axe_violations(page)
        assert violations == [], describe(violations)
    finally:
        page.unroute_all(behavior="ignoreErrors")


def test_untranslated_text_check_covers_a_real_upload(page: Any, served: tuple[str, str]) -> None:
    """The German preview of an upload, as a provider sees it: no English interface text."""
    from tests.web.test_translations_complete import english_messages, untranslated

    base, token = served
    _log_in(page, base, token, "de")
    page.goto(f"{base}/dashboard/sources/{SOURCE}")
    feed = io.BytesIO(edx_csv(first_rows(31)[3:31]))
    page.set_input_files(
        "#file", files=[{"name": "kurse.csv", "mimeType": "text/csv", "buffer": feed.getvalue()}]
    )
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_selector("h1")
    assert untranslated(page.content(), "de", english_messages("de")) == []


SYNTHETIC_BADGE = {"en": "synthetic sample", "fr": "exemple fictif", "de": "erfundenes Beispiel"}
SYNTHETIC_NOTICE = {
    "en": "Synthetic sample data.",
    "fr": "Données d'exemple fictives.",
    "de": "Erfundene Beispieldaten.",
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_first_run_default_search_has_places_a_map_and_labels_synthetic_courses(
    page: Any, served: tuple[str, str], lang: str, phone: bool
) -> None:
    """The page as `make run` opens it (ended courses hidden): country, city and EQF filters, the
    map of the results, a town search with results near it, and the synthetic sample courses
    badged in results and bannered on their page."""
    base, _ = served
    suffix = f"{lang}{'-phone' if phone else ''}"
    if phone:
        page.set_viewport_size(PHONE)
    page.goto(f"{base}/?lang={lang}")
    assert page.locator("a[href*='country=']").count() >= 8
    assert page.locator("a[href*='city=']").count() >= 5
    assert page.locator("a[href*='eqf=']").count() >= 4
    page.wait_for_selector("#results-map .leaflet-interactive", state="attached")
    assert page.locator(".badge-synthetic").first.inner_text() == SYNTHETIC_BADGE[lang]
    check_page(page, f"first-run-default-{suffix}")
    page.goto(f"{base}/?place=K%C3%B6ln&within_km=100&lang={lang}")
    results = page.locator("li.result")
    assert results.count() >= 1
    first = results.first
    assert "Köln" in first.inner_text() and first.locator(".badge-synthetic").count() == 1
    page.wait_for_selector("#results-map .leaflet-interactive", state="attached")
    check_page(page, f"first-run-place-koeln-{suffix}")
    first.locator("h3 a").click()
    page.wait_for_selector("#course-map .leaflet-interactive", state="attached")
    assert SYNTHETIC_NOTICE[lang] in page.locator(".notice-synthetic").inner_text()
    check_page(page, f"first-run-synthetic-course-{suffix}")
