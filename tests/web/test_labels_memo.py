"""web.labels memoises labels per language: every request still gets its own language's labels,
whatever language earlier requests asked for, and memoised answers equal the unmemoised ones."""

from __future__ import annotations

import pytest
from flask import Flask

from course_catalogue.web import vocab_labels as vl
from course_catalogue.web.labels import (
    FacetLabels,
    country_label,
    duration,
    eqf_label,
    isced_label,
    vocabulary_label,
)

# (language, facet name "country", range label price=free, country FRA, duration P7W)
EXPECTED = {
    "en": ("Country", "Free", "France", "7 weeks"),
    "fr": ("Pays", "Gratuit", "France", "7\u00a0semaines"),  # CLDR: no-break space
    "de": ("Land", "Kostenlos", "Frankreich", "7 Wochen"),
}


@pytest.mark.parametrize("order", [("fr", "en", "de", "fr", "en"), ("en", "de", "fr", "de")])
def test_labels_follow_each_requests_language(app: Flask, order: tuple[str, ...]) -> None:
    for language in order:
        with app.test_request_context(f"/api/v1/search?lang={language}"):
            labels = FacetLabels()
            name, free, france, weeks = EXPECTED[language]
            assert labels.language == language
            assert labels.facet("country") == name
            assert labels.value("price", "free") == free
            assert labels.value("country", "FRA") == country_label("FRA") == france
            assert duration("P7W") == weeks


def test_memoised_vocabulary_labels_equal_the_vocabularies(app: Flask) -> None:
    for language in ("en", "fr", "de"):
        with app.test_request_context(f"/?lang={language}"):
            for code in ("FRA", "DEU", "XKX", "nope"):
                assert country_label(code) == vl.country(code, language)
            for code in ("06", "061", "0613", "99"):
                assert isced_label(code) == vl.isced(code, language)
                assert FacetLabels().value("field_narrow", code) == vl.isced(code, language)
            assert eqf_label(6) == eqf_label("6") == FacetLabels().value("eqf", "6") == vl.eqf(6, language)
            assert eqf_label("six") == FacetLabels().value("eqf", "six") == "six"


def test_other_values_keep_the_backends_label_and_unknown_facets_their_name(app: Flask) -> None:
    with app.test_request_context("/?lang=fr"):
        labels = FacetLabels()
        assert labels.value("provider", "edx", "edX") == "edX"
        assert labels.value("provider", "edx") == "edx"
        assert labels.facet("no-such-facet") == "no-such-facet"


def test_outside_a_request_labels_are_english() -> None:
    assert FacetLabels().language == "en"
    assert FacetLabels().facet("country") == "Country"
    assert duration("PT40H") == "40 hours"


def test_the_vocabulary_memo_is_bounded() -> None:
    # codes can come from requests (a selected filter value): the memo must not grow without end
    assert vocabulary_label.cache_info().maxsize is not None
