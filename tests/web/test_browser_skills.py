"""Search by skill in headless Chromium: "teaches:" in the search box, the skill facet, and the
explanation on a result and on the course page. The edX fixture (session `edx_app`) with the small
test taxonomy; fixtures of tests/web/test_browser.py. Screenshots: artifacts/screenshots/
skills-search.png and skills-course.png."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_browser import base_url, browser, page, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_teaches_query_facet_and_explanations(page: Any, base_url: str) -> None:  # noqa: F811
    page.goto(f"{base_url}/?include_past=true")
    page.fill("#q", "teaches: project management")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    results = page.locator("li.result")
    assert results.count() > 0, page.content()[-2000:]
    # every result says it teaches the skill, and from which sentence (inferred: no stated link here)
    first = results.first.locator(".skills-taught li").first
    text = first.inner_text()
    assert text.startswith("Teaches project management"), text
    assert "inferred from:" in text
    assert first.locator("a.skill").get_attribute("lang") == "en"
    assert results.locator(".skills-taught").count() == results.count()
    # the skill facet shows the selected skill by its label
    facet = page.locator("#facet-skill")
    assert facet.inner_text() == "Skill (ESCO)"
    selected = page.locator("details.facet a.facet-value.selected .facet-label[lang=en]")
    assert "project management" in selected.all_inner_texts()
    assert page.locator("#facet-language").count() == 1  # the other facets still count under it
    shot(page, "skills-search")
    # the course page lists the course's skills with their explanation
    results.first.locator("h3 a").click()
    page.wait_for_load_state("networkidle")
    skills = page.locator("dl.elements .skills-taught").inner_text()
    assert "Teaches project management" in skills and "inferred from:" in skills
    shot(page, "skills-course")


def test_an_unknown_skill_is_explained_on_the_page(page: Any, base_url: str) -> None:  # noqa: F811
    page.goto(f"{base_url}/?q=teaches:%20budgeting")
    page.wait_for_load_state("networkidle")
    body = page.locator("main").inner_text()
    assert "no ESCO skill is called 'budgeting'" in body, body[:1000]
    assert "manage budgets" in body


def test_french_page_keeps_english_skill_labels(page: Any, base_url: str) -> None:  # noqa: F811
    page.goto(f"{base_url}/?include_past=true&lang=fr&skills=statistics")
    page.wait_for_load_state("networkidle")
    first = page.locator("li.result .skills-taught li").first
    assert first.inner_text().startswith("Enseigne statistics")
    assert "déduit de" in first.inner_text()
    assert page.locator("#facet-skill").inner_text() == "Compétence (ESCO)"
