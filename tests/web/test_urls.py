"""web.urls builds the same links as Flask's url_for, on awkward values too."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for

from course_catalogue.web.urls import PathTemplate, query_url

AWKWARD = ["plain", "a b", "a+b", "a/b", "x?y#z", "100%", "é ü ß", "日本語", "a&b=c", "~!$'()*,;:@", ""]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "data science"},
        {"q": "a+b & c=d", "language": ["en", "fr"], "page": 2},
        {"q": "é/日本?#%", "country": ("FRA",), "sort": "title", "page_size": 50, "include_past": "true"},
        {"near": "52.1,4.3", "within_km": "25.0", "cursor": "eyJhIjoxfQ"},
        {"q": None, "provider": [], "eqf": ["6", None]},
        *({"q": value} for value in AWKWARD),
    ],
)
def test_query_url_is_url_for(app: Flask, params: dict[str, Any]) -> None:
    for base_endpoint in ("api.search", "ui.search"):
        with app.test_request_context("/", base_url="http://x.example/prefix"):
            assert query_url(url_for(base_endpoint), params) == url_for(base_endpoint, **params)


@pytest.mark.parametrize("value", [*AWKWARD[:-1], "edx:course-v1:MITx+6.00.1x+2T2017"])
def test_path_template_is_url_for(app: Flask, value: str) -> None:
    with app.test_request_context("/", base_url="http://x.example/prefix"):
        for endpoint, argument in (
            ("api.course", "course_id"),
            ("ui.course", "course_id"),
            ("ui.provider", "provider_key"),
        ):
            values: dict[str, Any] = {argument: value}
            assert PathTemplate(endpoint, argument)(value) == url_for(endpoint, **values)
