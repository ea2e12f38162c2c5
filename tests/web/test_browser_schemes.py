"""End to end in Debian's Chromium: a registry defines an eligibility scheme on the dashboard,
sees its counts, decides on a course and changes the rules, in en, fr and de and on a phone, with
axe-core on every page and screenshots kept (artifacts/screenshots/, see tests/web/test_browser.py).

One app for the module: a registry account "reg" and a provider's edX slice of 20 courses pushed
through the API, so a scheme has courses to evaluate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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
from tests.web.test_browser import browser, check_page, open_page

__all__ = ["browser"]

pytestmark = pytest.mark.browser

LANGS = ("en", "fr", "de")
PHONE = {"width": 390, "height": 844}
COURSES = 20
EVERYTHING = [{"id": "titled", "field": "title", "op": "present", "message": "has a title"}]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """(base URL, the registry's token, the course ids) of the app served on a free local port."""
    app: Flask = make_app(tmp_path_factory.mktemp("schemes-instance"))
    assert app.test_cli_runner().invoke(main, ["init"]).exit_code == 0
    store = get_services(app).store
    accounts = AccountStore(store)
    accounts.create_account("zed", "Zed", Role.PROVIDER)
    accounts.create_account("reg", "Skills Registry", Role.REGISTRY)
    zed = accounts.issue_token("zed", "browser").plaintext
    token = accounts.issue_token("reg", "browser").plaintext
    rows = first_rows(COURSES)
    for institution in sorted({row[HEADER.index("institution")] for row in rows}):
        accounts.grant_organisation("zed", institution, granted_by="test")
    store.save_source(Source("zed-feed", "csv", name="Zed's courses", mapping="edx-csv", owner="zed"))
    response = app.test_client().post(
        "/api/v1/sources/zed-feed/feed?dry_run=false",
        data=edx_csv(rows),
        headers={"Authorization": f"Bearer {zed}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.get_json()
    ids = sorted(course.id for course in store.iter_courses())
    try:
        with serve_app(app) as url:
            yield url, token, ids
    finally:
        get_services(app).close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from open_page(browser, axe=True)


def _counts(page: Any) -> tuple[int, int]:
    """(eligible, not eligible) as the scheme page states them."""
    terms = page.locator("dl.elements dd")
    eligible = re.match(r"\d+", terms.nth(2).inner_text())
    not_eligible = re.match(r"\d+", terms.nth(3).inner_text())
    assert eligible and not_eligible
    return int(eligible.group()), int(not_eligible.group())


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_registry_defines_a_scheme_decides_and_changes_its_rules(
    page: Any, served: tuple[str, str, list[str]], lang: str, phone: bool
) -> None:
    base, token, ids = served
    suffix = f"{lang}{'-phone' if phone else ''}"
    scheme_id = f"fund-{suffix}"
    if phone:
        page.set_viewport_size(PHONE)
    page.goto(f"{base}/dashboard/login?lang={lang}")
    page.fill("#token", token)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/dashboard/")
    page.locator("main a[href$='/dashboard/schemes/']").click()
    page.wait_for_url("**/dashboard/schemes/")
    check_page(page, f"schemes-index-{suffix}")

    page.locator("main a[href$='/dashboard/schemes/new']").click()
    page.fill("#id", scheme_id)
    page.fill("#name", f"Skills fund {suffix}")
    page.fill("#description", "Courses of French providers")
    page.fill("#rules", "[{not json")
    page.locator("main form button[type=submit]").last.click()
    assert page.locator(".notice-error").count() == 1  # kept on the form, with what was typed
    assert page.input_value("#rules") == "[{not json"
    check_page(page, f"schemes-new-error-{suffix}")
    rules = [{"id": "fr", "field": "provider.country", "op": "in", "value": ["FRA"]}]
    page.fill("#rules", json.dumps(rules))
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(f"**/dashboard/schemes/{scheme_id}")
    assert page.locator(".notice-success").count() == 1
    assert _counts(page) == (0, COURSES)  # the edX slice has no French provider
    check_page(page, f"schemes-created-{suffix}")

    page.fill("#course_id", ids[0])
    page.check("#eligible-yes")
    page.fill("#note", "approved by the board")
    page.locator("form[action$='/decisions'] button[type=submit]").click()
    page.wait_for_url(f"**/dashboard/schemes/{scheme_id}")
    assert _counts(page) == (1, COURSES - 1)
    decisions = page.locator("table.decisions tbody tr")
    assert decisions.count() == 1 and "approved by the board" in decisions.inner_text()

    page.fill("#rules", json.dumps(EVERYTHING))
    page.locator("form[action$='/" + scheme_id + "'] button[type=submit]").click()
    page.wait_for_url(f"**/dashboard/schemes/{scheme_id}")
    assert _counts(page) == (COURSES, 0)
    assert json.loads(page.locator("pre.code").inner_text()) == EVERYTHING
    check_page(page, f"schemes-changed-{suffix}")
    page.goto(f"{base}/dashboard/schemes/")
    assert page.locator(f"main a[href$='/dashboard/schemes/{scheme_id}']").count() == 1
    check_page(page, f"schemes-listed-{suffix}")
