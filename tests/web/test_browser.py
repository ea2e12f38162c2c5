"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): search, facet,
course page, language switch, keyboard-only use and an axe-core accessibility check.

The real app runs in a thread (werkzeug) on a free port with the edX fixture harvested (the
session `edx_app`). Screenshots go to artifacts/screenshots/ and are kept. Without chromium the
tests skip, except under CI=true, where they fail (`make browser-deps` installs it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import in_ci
from tests.web.conftest import serve_app

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
AXE = REPO / "tests" / "vendor" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BLOCKING = {"serious", "critical"}

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    problem = f"{CHROMIUM} is missing (run `make browser-deps` as root)"
    if in_ci():
        pytest.fail(f"{problem}; CI=true: the CI machine must provide the browser")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def base_url(edx_app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free local port for the module's tests."""
    with serve_app(edx_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="en-GB",
        )
        try:
            yield context
        finally:
            context.close()


def open_page(browser: Any, *, axe: bool = False) -> Iterator[Any]:
    """For a page fixture: a fresh page without cookies (with axe-core loaded in every document when
    `axe`), closed afterwards; the test fails on any JavaScript error the page raised."""
    browser.clear_cookies()
    page = browser.new_page()
    if axe:
        page.add_init_script(path=str(AXE))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from open_page(browser)


def check_page(page: Any, name: str) -> None:
    """axe-core finds nothing serious; the page does not scroll sideways; keep a screenshot."""
    violations = axe_violations(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    shot(page, name)
    assert violations == [], describe(violations)
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
                         && !e.parentElement.closest('.table-scroll'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
    )
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px: {wide}"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as loaded (axe comes in as an init
    script: our CSP rightly refuses inline scripts, and init scripts are outside its reach)."""
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
            for v in violations
        ],
        indent=1,
    )


def test_search_facet_course_and_language_switch(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    assert "974 courses" in page.locator("h2#results-title").inner_text()
    page.fill("#q", "data science")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=data+science**")
    total_before = page.locator(".result").count()
    assert total_before > 0
    shot(page, "01-search-results")

    # a facet: English only
    page.locator("details.facet").filter(has=page.locator("h3#facet-language")).get_by_role(
        "link", name="English"
    ).first.click()
    page.wait_for_url("**language=en**")
    assert page.locator(".active-filters .chip").count() == 1
    shot(page, "02-facet-selected")

    # open the first course
    first = page.locator(".result h3 a").first
    title = first.inner_text().strip()
    first.click()
    page.wait_for_url("**/courses/**")
    assert page.locator("h1#course-title").inner_text().strip() == title
    assert page.get_by_role("link", name="ELM as Turtle").count() == 1
    shot(page, "03-course")

    # switch language: French, then German; labels follow
    page.locator("nav.language-nav").get_by_role("link", name="Français").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h2#elements").inner_text().strip() == "Éléments standard"
    assert "Anglais" in page.locator("dl.elements").nth(1).inner_text()  # the course language
    shot(page, "04-course-fr")
    page.locator("nav.language-nav").get_by_role("link", name="Deutsch").click()
    page.wait_for_load_state()
    assert page.locator("h2#elements").inner_text().strip() == "Standardelemente"
    assert "Englisch" in page.locator("dl.elements").nth(1).inner_text()
    shot(page, "05-course-de")

    # the choice is remembered: the search page is German too
    page.goto(base_url + "/")
    assert page.locator("label[for=q]").inner_text().strip() == "Kurse suchen"
    assert page.locator("h3#facet-language").inner_text().strip() == "Sprache"
    shot(page, "06-search-de")


def test_autocomplete_suggests_and_opens_a_choice(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    box = page.locator("#q")
    assert box.get_attribute("role") == "combobox"
    box.press_sequentially("harv", delay=30)
    page.wait_for_selector("#q-suggestions li[role=option]")
    assert box.get_attribute("aria-expanded") == "true"
    shot(page, "07-autocomplete")
    box.press("ArrowDown")
    active = box.get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    box.press("Enter")
    page.wait_for_url("**/providers/harvard-university**")
    assert page.locator("h1").inner_text().strip() == "Harvard University"
    shot(page, "08-provider")


def test_keyboard_alone_reaches_search_box_facets_and_results(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement; return (e.id ? '#' + e.id : '') + '|'"
                " + (e.className || '') + '|' + (e.closest('.result') ? 'result' : '') }"
            )
        )
    assert any(r.startswith("#q|") for r in reached), reached
    assert any("facet-value" in r for r in reached), reached
    assert reached[0].startswith("|skip-link"), reached[0]
    # the skip link, then Enter, moves focus into main; jump links lead to results
    page.goto(base_url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    # following a fragment link is no new search: the in-place filters must not refetch the page
    # and take the focus to the results heading a moment later (popstate fires for fragments too)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.activeElement.id") == "main"
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("() => !!document.activeElement.closest('.result')"):
            break
    else:
        pytest.fail("no result link is reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/courses/**")
    shot(page, "09-keyboard-course")


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("search", "/?q=python"),
        ("search-empty", "/?q=zzqqxxnothing&language=en"),
        ("course", None),
        ("provider", "/providers/harvard-university"),
        ("sources", "/sources"),
        ("error", "/no/such/page"),
        ("search-fr", "/?lang=fr"),
    ],
)
def test_no_serious_accessibility_violations(page: Any, base_url: str, name: str, path: str | None) -> None:
    page.add_init_script(path=str(AXE))
    if path is None:
        page.goto(base_url + "/?q=python")
        path = page.locator(".result h3 a").first.get_attribute("href")
    page.goto(base_url + path)
    violations = axe_violations(page)
    shot(page, f"a11y-{name}")
    assert violations == [], describe(violations)


def test_mobile_layout_has_no_horizontal_scroll(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    try:
        for path in ("/", "/providers/harvard-university"):
            page.goto(base_url + path)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        shot(page, "10-mobile-provider")
    finally:
        page.close()
