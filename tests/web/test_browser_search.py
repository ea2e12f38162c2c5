"""The learner's side in headless Chromium (issue 18): place search with suggestions and the
map, the course page's key facts and map, facets that filter in place with "show all" and a
filter box, the phone drawer, and queries that help; in English, French and German and on a
390x844 phone, with screenshots (artifacts/screenshots/uisearch-*.png) and axe-core checks.

Two apps: the edX fixture (`base_url`, many providers and fields) and a small synthetic
catalogue with places (`geo_url`, tests/web/places_world.py; maps without tiles, as offline).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import serve_app
from tests.web.places_world import places_app
from tests.web.test_browser import AXE, SCREENSHOTS, axe_violations, base_url, browser, describe, page, shot

__all__ = ["base_url", "browser", "page"]  # fixtures used from test_browser

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def phone_shot(page: Any, name: str) -> None:
    """What the phone's screen shows (a full-page picture hides where the drawer and the first
    result sit)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.fixture(scope="module")
def geo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for app in places_app(tmp_path_factory.mktemp("geo-browser") / "instance"):
        with serve_app(app) as url:
            yield url


def result_titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".result h3 a").all_inner_texts()]


def test_place_box_suggests_towns_and_maps_the_results(page: Any, geo_url: str) -> None:
    page.goto(geo_url + "/")
    box = page.locator("#place")
    assert box.get_attribute("role") == "combobox"
    box.press_sequentially("Lyo", delay=40)
    page.wait_for_selector("#place-suggestions li[role=option]")
    shot(page, "uisearch-01-place-suggestions")
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**near=**")
    assert box.input_value() == "Lyon, France"
    assert page.locator("#sort").input_value() == "distance"
    assert result_titles(page) == ["Data analysis with Python", "Machine learning for engineers"]
    assert "km away" in page.locator(".result").first.inner_text()
    page.wait_for_selector("#results-map .leaflet-interactive")
    assert page.locator("#results-map").is_visible()  # no tiles configured: markers only
    assert page.locator("#results-map .leaflet-interactive").count() >= 2
    shot(page, "uisearch-02-place-results-map")
    page.select_option("#within_km", "250")
    page.locator(".search-row button[type=submit]").click()
    page.wait_for_url("**within_km=250**")
    assert len(result_titles(page)) == 2
    page.select_option("#within_km", "100")


@pytest.mark.parametrize(
    ("lang", "label", "town"),
    [
        ("en", "Near a town", "Lyon, France"),
        ("fr", "Près d'une ville", "Lyon, France"),
        ("de", "In der Nähe eines Ortes", "Lyon, Frankreich"),
    ],
)
def test_place_search_in_each_language(page: Any, geo_url: str, lang: str, label: str, town: str) -> None:
    page.goto(geo_url + f"/?place=Lyon&within_km=25&lang={lang}")
    assert page.locator("label[for=place]").inner_text().strip() == label
    assert page.locator("#place").input_value() == town
    page.wait_for_selector("#results-map .leaflet-interactive")
    shot(page, f"uisearch-03-place-{lang}")


@pytest.mark.parametrize("lang", ["en", "fr", "de"])
def test_course_page_leads_with_key_facts_and_a_map(page: Any, geo_url: str, lang: str) -> None:
    page.goto(geo_url + "/?q=pandas")
    page.locator(".result h3 a").first.click()
    page.wait_for_url("**/courses/**")
    page.goto(page.url + f"?lang={lang}")
    facts = page.locator(".key-facts")
    assert facts.is_visible()
    top = facts.bounding_box()
    elements = page.locator("#elements").bounding_box()
    assert top and elements and top["y"] < elements["y"]
    page.wait_for_selector("#course-map .leaflet-interactive")
    assert page.locator("details.originals-disclosure[open]").count() == 0  # provider's values: closed
    shot(page, f"uisearch-04-course-{lang}")


def test_long_facets_show_more_filter_and_apply_in_place(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    provider = page.locator("details.facet").filter(has=page.locator("h3#facet-provider"))
    provider.locator("summary").click() if not provider.get_attribute("open") else None
    visible = provider.locator("li:visible")
    assert visible.count() == 8
    more = provider.locator("button.facet-toggle")
    assert more.get_attribute("aria-expanded") == "false"
    more.click()
    assert provider.locator("li:visible").count() > 20  # every provider, not the first 20
    box = provider.locator(".facet-tools input")
    box.fill("harv")
    assert [t.strip() for t in provider.locator("li:visible .facet-label").all_inner_texts()] == [
        "Harvard University"
    ]
    shot(page, "uisearch-05-facet-filter-box")
    page.evaluate("() => { window.__samePage = true; }")
    provider.locator("li:visible a.facet-value").first.click()
    page.wait_for_url("**provider=harvard-university**")
    page.wait_for_selector(".active-filters .chip")
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert page.evaluate("() => document.activeElement.id") == "results-title"
    assert "Harvard" in page.locator(".result .provider").first.inner_text()
    shot(page, "uisearch-06-facet-applied-in-place")
    page.go_back()
    page.wait_for_function("() => !document.querySelector('.active-filters .chip')")
    assert page.evaluate("() => window.__samePage === true")


def test_phone_results_first_and_a_filter_drawer(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    try:
        page.goto(base_url + "/")
        first = page.locator(".result").first.bounding_box()
        assert first is not None and first["y"] < PHONE["height"], first
        filters = page.locator("aside.filters")
        assert not filters.is_visible() or filters.bounding_box()["x"] < 0  # type: ignore[index]
        phone_shot(page, "uisearch-07-phone-results-first")
        page.locator(".filters-button").click()
        page.wait_for_function("() => document.querySelector('aside.filters').classList.contains('open')")
        page.wait_for_timeout(300)  # the drawer's slide
        phone_shot(page, "uisearch-08-phone-drawer")
        page.locator("details.facet").filter(has=page.locator("h3#facet-language")).get_by_role(
            "link", name="English"
        ).first.click()
        page.wait_for_url("**language=en**")
        page.wait_for_function("() => !document.querySelector('aside.filters').classList.contains('open')")
        heading = page.locator("#results-title").bounding_box()
        assert heading is not None and 0 <= heading["y"] < PHONE["height"], heading
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        phone_shot(page, "uisearch-09-phone-filtered")
    finally:
        page.close()


def test_phone_place_search_and_course(browser: Any, geo_url: str) -> None:
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    try:
        page.goto(geo_url + "/?place=München&within_km=50&lang=de")
        assert result_titles(page) == ["Projektmanagement kompakt"]
        page.wait_for_selector("#results-map .leaflet-interactive")
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
        phone_shot(page, "uisearch-10-phone-place-de")
        page.locator(".result h3 a").first.click()
        page.wait_for_url("**/courses/**")
        assert page.locator(".key-facts").bounding_box()["y"] < PHONE["height"]  # type: ignore[index]
        phone_shot(page, "uisearch-11-phone-course-de")
    finally:
        page.close()


@pytest.mark.parametrize(
    ("lang", "showing"), [("en", "Showing results for"), ("fr", "Résultats pour"), ("de", "Ergebnisse für")]
)
def test_spelling_correction_and_fallback_notices(page: Any, base_url: str, lang: str, showing: str) -> None:
    page.goto(base_url + f"/?q=machne+lerning&lang={lang}")
    notice = page.locator(".notice.spelling")
    assert showing in notice.inner_text()
    assert page.locator("#q").input_value() == "machine learning"
    shot(page, f"uisearch-12-spelling-{lang}")
    page.goto(base_url + f"/?q=python+java&lang={lang}")
    assert page.locator(".notice.relaxed").is_visible()
    assert page.locator(".result").count() > 0
    shot(page, f"uisearch-13-any-word-{lang}")


@pytest.mark.parametrize(
    ("name", "app", "path"),
    [
        ("place", "geo", "/?place=Lyon&within_km=25"),
        ("course", "geo", None),
        ("spelling", "edx", "/?q=machne+lerning"),
        ("facets", "edx", "/?field=06"),
        ("provider", "edx", "/providers/harvard-university"),
    ],
)
def test_changed_pages_have_no_serious_accessibility_violations(
    page: Any, base_url: str, geo_url: str, name: str, app: str, path: str | None
) -> None:
    page.add_init_script(path=str(AXE))
    root = geo_url if app == "geo" else base_url
    if path is None:
        page.goto(root + "/?q=pandas")
        path = page.locator(".result h3 a").first.get_attribute("href")
    page.goto(root + str(path))
    page.wait_for_load_state("load")
    violations = axe_violations(page)
    shot(page, f"uisearch-a11y-{name}")
    assert violations == [], describe(violations)


def test_everything_works_without_javascript(browser: Any, geo_url: str) -> None:
    page = browser.new_page()
    page.route("**/*.js", lambda route: route.abort())  # none of our scripts runs
    page.set_viewport_size(PHONE)
    try:
        page.goto(geo_url + "/")
        page.fill("#place", "Lyon")
        page.press("#place", "Enter")
        page.wait_for_url("**place=Lyon**")
        assert result_titles(page) == ["Data analysis with Python", "Machine learning for engineers"]
        assert page.locator("#results-map").is_hidden()  # no script: the places are listed as text
        assert "Lyon (2 km away)" in page.locator(".result").first.inner_text()
        first = page.locator(".result").first.bounding_box()
        assert first is not None and first["y"] < PHONE["height"] * 1.5
        phone_shot(page, "uisearch-14-no-js-phone-place")
        page.locator(".filters-button").click()  # a plain link to the filters below the results
        page.wait_for_url("**#filters")
        page.locator("details.facet").filter(has=page.locator("h3#facet-eqf")).get_by_role(
            "link"
        ).first.click()
        page.wait_for_url("**eqf=**")
        assert page.locator(".active-filters .chip").count() == 1 and len(result_titles(page)) == 1
        phone_shot(page, "uisearch-15-no-js-phone-filtered")
    finally:
        page.close()


def test_near_me_still_searches_from_the_browser_position(browser: Any, geo_url: str) -> None:
    browser.grant_permissions(["geolocation"], origin=geo_url)
    browser.set_geolocation({"latitude": 45.764, "longitude": 4.8357})
    page = browser.new_page()
    try:
        page.goto(geo_url + "/")
        page.locator("button.near-me").click()
        page.wait_for_url("**near=45.764%2C4.836**")
        assert result_titles(page)[:2] == ["Data analysis with Python", "Machine learning for engineers"]
        assert page.locator("#place").input_value() == "Lyon, France"  # the point, named
    finally:
        page.close()
        browser.clear_permissions()


def test_phone_drawer_has_no_serious_accessibility_violations(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    page.add_init_script(path=str(AXE))
    try:
        page.goto(base_url + "/?q=python")
        page.locator(".filters-button").click()
        page.wait_for_function("() => document.querySelector('aside.filters').classList.contains('open')")
        assert page.evaluate("() => document.activeElement.id") == "filters-title"
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('aside.filters').classList.contains('open')")
        assert page.evaluate("() => document.activeElement.classList.contains('filters-button')")
    finally:
        page.close()


@pytest.mark.parametrize(
    ("lang", "help_label", "country"),
    [
        ("en", "Which postcodes work?", "Poland"),
        ("fr", "Quels codes postaux", "Pologne"),
        ("de", "Welche", "Polen"),
    ],
)
def test_postcode_box_suggests_the_town_and_searches_near_it(
    page: Any, geo_url: str, lang: str, help_label: str, country: str
) -> None:
    """A postcode typed in the place box: suggestions name code, town and country; choosing one
    searches near that town; the countries whose postcodes work are listed under the box."""
    page.add_init_script(path=str(AXE))
    page.goto(geo_url + f"/?lang={lang}")
    help_box = page.locator("details.place-help")
    assert help_label in help_box.locator("summary").inner_text()
    help_box.locator("summary").click()
    assert country in help_box.inner_text()
    box = page.locator("#place")
    box.press_sequentially("31-00", delay=40)
    page.wait_for_selector("#place-suggestions li[role=option]")
    first = page.locator("#place-suggestions li[role=option]").first.inner_text()
    assert first.startswith("31-00") and "Kraków" in first
    shot(page, f"uisearch-12-postcode-suggestions-{lang}")
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**near=**")
    assert box.input_value().startswith("Kraków")
    assert result_titles(page) == ["Nursing practice"]
    page.wait_for_selector("#results-map .leaflet-interactive")
    violations = axe_violations(page)
    shot(page, f"uisearch-13-postcode-results-{lang}")
    assert violations == [], describe(violations)
    page.goto(geo_url + f"/?place=31-008&within_km=25&lang={lang}")  # typed, no suggestion chosen
    assert result_titles(page) == ["Nursing practice"]
