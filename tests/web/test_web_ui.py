"""The HTML pages on the harvested edX fixture: search page, facets, result cards, detail page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

EDX_TITLE = "How to Learn Online"


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_search_page_has_form_facets_with_counts_and_result_cards(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/")
    assert '<form class="search-form" role="search"' in html
    assert '<label for="q">Search courses</label>' in html
    assert "<main" in html and "<header" in html and "<footer" in html
    assert ">Language</h3>" in html and ">Mode</h3>" in html
    english = re.search(r'href="/\?language=en"[^>]*>.*?<span class="count">([\d,]+)', html, re.S)
    assert english is not None and int(english.group(1).replace(",", "")) > 0
    assert html.count('<li class="result">') == 20
    assert 'aria-label="Pagination"' in html and 'rel="next"' in html
    assert "catalogue.css" in html


def test_result_card_shows_title_provider_and_facts(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/?q=" + EDX_TITLE.replace(" ", "+"))
    card = html[html.index('<li class="result">') :]
    card = card[: card.index("</li>")]
    assert f">{EDX_TITLE}</a>" in card
    assert 'href="/courses/' in card
    assert '<p class="provider">' in card
    assert "<dt>Language</dt><dd>English</dd>" in card


def test_result_card_marks_an_estimated_ects_figure(edx_client: FlaskClient) -> None:
    # edX publishes effort and length only: every ECTS figure is an estimate and must say so
    html = page(edx_client, "/?q=How+to+Learn+Online")
    card = html[html.index('class="result') :]
    assert "≈" in card and "(estimated)" in card


def test_selected_facet_value_is_marked_and_listed_as_active_filter(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/?language=en")
    assert 'class="facet-value selected"' in html
    assert 'aria-current="true"' in html
    assert 'class="chip" href="/"' in html  # removing the only filter goes back to everything
    assert "Clear all filters" in html
    assert '<input type="hidden" name="language" value="en">' in html  # kept on a new query


def test_empty_state_helps(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/?q=zzqqxxnothingmatches&language=en")
    assert "No courses found" in html
    assert "Remove all filters" in html
    assert 'class="result"' not in html


def test_bad_parameter_shows_the_search_error_state(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/?page=abc", status=400)
    assert "We could not run that search" in html
    assert "page must be a whole number" in html


def test_user_text_is_escaped(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


def test_detail_page_shows_every_standard_element_and_provenance(edx_client: FlaskClient) -> None:
    search = page(edx_client, "/?q=" + EDX_TITLE.replace(" ", "+"))
    href = re.search(r'href="(/courses/[^"]+)"', search)
    assert href is not None
    html = page(edx_client, href.group(1))
    assert f'<h1 id="course-title">{EDX_TITLE}</h1>' in html
    for label in (
        "Title",
        "Provider",
        "Country of the provider",
        "Awarding body",
        "Learning outcomes",
        "Notional workload",
        "EQF level",
        "Type of assessment",
        "Form of participation",
        "Quality assurance",
        "Prerequisites",
        "Identity verification (supervision)",
        "Grade",
        "Integration and stackability",
        "Further information",
        "Languages",
        "Field of study (ISCED-F)",
        "Dates",
        "Duration",
        "Price",
        "Locations",
        "Course page",
        "Source feed",
        "Last harvested",
    ):
        assert f"<dt>{label}</dt>" in html, label
    assert "edX course catalogue (2020 scrape)" in html
    assert 'aria-label="Breadcrumb"' in html
    assert "/api/v1/courses/" in html  # link to the JSON record


def test_static_stylesheet_is_served(edx_client: FlaskClient) -> None:
    response = edx_client.get("/static/catalogue.css")
    assert response.status_code == 200
    assert ":focus-visible" in response.get_data(as_text=True)
    response.close()


def test_sources_page_lists_feeds_with_their_runs(edx_client: FlaskClient) -> None:
    html = page(edx_client, "/sources")
    assert '<h2 id="source-edx">edX course catalogue (2020 scrape)</h2>' in html
    assert 'href="/runs/' in html
    assert "succeeded" in html


def test_run_page_shows_counts_issue_kinds_and_filters(edx_client: FlaskClient) -> None:
    sources = page(edx_client, "/sources")
    href = re.search(r'href="(/runs/\d+)"', sources)
    assert href is not None
    html = page(edx_client, href.group(1))
    assert "Issues by kind" in html
    assert "The same course twice in the feed" in html  # the duplicate-record kind, in words
    assert "Showing the first 500" in html
    warnings = page(edx_client, href.group(1) + "?severity=warning")
    assert '<tr class="sev-info">' not in warnings
    assert '<tr class="sev-warning">' in warnings
    page(edx_client, href.group(1) + "?severity=fatal", status=400)
    page(edx_client, "/runs/99999", status=404)
