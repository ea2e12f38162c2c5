"""The search page's "by meaning" switch in headless Chromium: a German query over English courses.

An app with SEMANTIC_MODEL=use over a slice of the edX feed (tests/web/test_web_hybrid.py), served
in a thread; the browser fixtures are those of tests/web/test_browser.py. Screenshot:
artifacts/screenshots/hybrid-search.png.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.web.conftest import serve_app
from tests.web.test_browser import browser, page, shot  # noqa: F401  (fixtures)
from tests.web.test_web_hybrid import _hybrid_app

pytestmark = pytest.mark.browser


@pytest.fixture
def hybrid_url(app_factory: Callable[..., Flask]) -> Iterator[str]:
    with serve_app(_hybrid_app(app_factory)) as url:
        yield url


def test_the_meaning_switch_finds_english_courses_for_a_german_query(page: Any, hybrid_url: str) -> None:  # noqa: F811
    page.goto(f"{hybrid_url}/?include_past=true")
    page.fill("#q", "Programmieren lernen")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator("li.result").count() == 0
    page.check("#retrieval")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "retrieval=hybrid" in page.url
    assert page.locator("#retrieval").is_checked()
    titles = page.locator("li.result h2, li.result h3").all_inner_texts()
    assert titles, page.content()[-2000:]
    assert any("Programming" in title or "Python" in title for title in titles[:3]), titles
    shot(page, "hybrid-search")
