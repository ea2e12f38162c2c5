"""What registries read besides the data: the interactive documentation page, one number type per
field across records and hits, plain-text snippets, and headers that mean what they say."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.services.runtime import get_services
from course_catalogue.web.apidoc import openapi_document
from course_catalogue.web.record_json import plain_snippet


def test_docs_page_lists_every_operation_and_loads_the_bundled_viewer(edx_client: FlaskClient) -> None:
    page = edx_client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    document = openapi_document()
    for path in document["paths"]:
        assert f">{path}<" in html, f"{path} missing from the no-JavaScript list"
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert "//cdn" not in html and "unpkg" not in html
    viewer = edx_client.get("/vendor/swagger-ui/swagger-ui-bundle.js")
    assert viewer.status_code == 200 and b"SwaggerUIBundle" in viewer.data
    assert edx_client.get("/vendor/swagger-ui/swagger-editor.js").status_code == 404
    assert edx_client.get("/vendor/swagger-ui/..%2Fhandlers%2Fflask.py").status_code == 404


def test_the_document_does_not_call_an_api_with_write_routes_read_only() -> None:
    document = openapi_document()
    methods = {"post", "put", "patch", "delete"}
    writes = [m for item in document["paths"].values() for m in item if m in methods]
    assert writes, "the API has write routes"
    text = str(document["info"]) + " ".join(str(f) for f in document.get("tags", []))
    assert "read-only" not in text.lower()


def _numbers_agree(hit: dict[str, Any], record: dict[str, Any]) -> None:
    workload, price = record["workload"], record["price"]
    assert type(hit["ects"]) in {int, float} and type(workload["ects"]) in {int, float}
    assert hit["ects"] == workload["ects"]
    if price is not None:
        assert type(price["amount"]) in {int, float}
        assert hit["price"] == price["amount"]


def test_ects_and_prices_are_numbers_in_records_as_in_hits(edx_client: FlaskClient) -> None:
    hits = edx_client.get("/api/v1/search?ects=0-1&page_size=5").get_json()["hits"]
    assert hits
    for hit in hits:
        record = edx_client.get(hit["links"]["self"]).get_json()["course"]
        _numbers_agree(hit, record)
        hours = record["workload"]["hours"]
        assert hours is None or type(hours) in {int, float}


def test_snippets_come_as_html_and_as_plain_text(edx_client: FlaskClient) -> None:
    hits = edx_client.get("/api/v1/search?q=data+analysis&page_size=10").get_json()["hits"]
    highlighted = [hit for hit in hits if hit["snippet"] and "<b>" in hit["snippet"]]
    assert highlighted
    for hit in highlighted:
        text = hit["snippet_text"]
        assert "<b>" not in text and "</b>" not in text and "&amp;" not in text and "&lt;" not in text
        assert len(text) < len(hit["snippet"])


def test_plain_snippet_unescapes_once() -> None:
    assert plain_snippet("R&amp;D <b>data</b> &lt;b&gt; tags") == "R&D data <b> tags"
    assert plain_snippet(None) is None


def test_the_application_leaves_date_to_the_server(edx_client: FlaskClient) -> None:
    # werkzeug's make_conditional used to add a Date the WSGI server then repeated
    for path in ("/api/v1/search?q=python", "/", "/api/v1/openapi.json"):
        assert "Date" not in edx_client.get(path).headers, path


def test_retry_after_only_on_429(app_factory: Any) -> None:
    app: Flask = app_factory(RATELIMIT_ANONYMOUS="2/minute")
    get_services(app).store.migrate()
    client = app.test_client()
    first = client.get("/api/v1/search")
    assert first.status_code == 200
    assert "X-RateLimit-Limit" in first.headers and "Retry-After" not in first.headers
    client.get("/api/v1/search")
    limited = client.get("/api/v1/search")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
