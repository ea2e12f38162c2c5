"""One error shape: every API error is the same JSON object; HTML routes get a helpful page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from course_catalogue.catalogue.errors import NotFound, StoreError
from course_catalogue.search.errors import BackendUnavailable, QueryError


def assert_error_shape(body: Any, status: int, code: str) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return dict(error)


def raising(exc: Exception) -> Callable[[], Any]:
    def view() -> Any:
        raise exc

    return view


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app with test-only routes that raise, registered before the first request."""
    secret = RuntimeError("secret internals: password=hunter2")
    app.add_url_rule("/api/v1/test-boom", "api_boom", raising(secret))
    app.add_url_rule("/test-boom", "ui_boom", raising(secret))
    app.add_url_rule(
        "/api/v1/test-store", "api_store", raising(StoreError("connection to db:5432 password=x"))
    )
    app.add_url_rule("/api/v1/test-search", "api_search", raising(BackendUnavailable("index locked")))
    app.add_url_rule("/api/v1/test-query", "api_query", raising(QueryError("bad facet")))
    app.add_url_rule("/api/v1/test-missing", "api_missing", raising(NotFound("no course 'x'")))
    return app


def test_unknown_api_route_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    error = assert_error_shape(response.get_json(), 404, "not_found")
    assert error["details"] == {"path": "/api/v1/nothing-here"}


def test_wrong_method_is_405_json_with_allowed_methods(client: FlaskClient) -> None:
    response = client.post("/api/v1/search")
    assert response.status_code == 405
    error = assert_error_shape(response.get_json(), 405, "method_not_allowed")
    assert "GET" in error["details"]["allowed"]
    assert "GET" in response.headers["Allow"]


def test_bad_query_is_400_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/search?page=-1")
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "invalid_query")


def test_unexpected_exception_is_500_json_without_internals(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/api/v1/test-boom")
    assert response.status_code == 500
    error = assert_error_shape(response.get_json(), 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert error["details"] == {}


@pytest.mark.parametrize(
    ("url", "status", "code", "leak"),
    [
        ("/api/v1/test-store", 503, "store_unavailable", "password"),
        ("/api/v1/test-search", 503, "search_unavailable", "locked"),
        ("/api/v1/test-query", 400, "invalid_query", None),
        ("/api/v1/test-missing", 404, "not_found", None),
    ],
)
def test_domain_errors_map_through_the_table(
    failing_app: Flask, url: str, status: int, code: str, leak: str | None
) -> None:
    response = failing_app.test_client().get(url)
    assert response.status_code == status
    assert_error_shape(response.get_json(), status, code)
    if leak:
        assert leak not in response.get_data(as_text=True)


def test_too_large_body_is_413_json(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(MAX_UPLOAD_BYTES=10)
    app.add_url_rule("/api/v1/test-upload", "upload", lambda: str(len(request.get_data())), methods=["POST"])
    response = app.test_client().post("/api/v1/test-upload", data=b"x" * 100)
    assert response.status_code == 413
    assert_error_shape(response.get_json(), 413, "request_entity_too_large")


def test_ui_errors_are_html_pages(failing_app: Flask) -> None:
    client = failing_app.test_client()
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    page = missing.get_data(as_text=True)
    assert "We could not find that page" in page
    assert 'href="/"' in page  # a way back to the search
    boom = client.get("/test-boom")
    assert boom.status_code == 500
    assert "Something went wrong" in boom.get_data(as_text=True)
    assert "hunter2" not in boom.get_data(as_text=True)


def test_unknown_course_page_is_a_helpful_404(client: FlaskClient) -> None:
    response = client.get("/courses/unknown-id")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "no course" in page and "removed from its feed" in page


def test_ui_method_not_allowed_is_html(client: FlaskClient) -> None:
    response = client.post("/")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
