"""The OpenAPI document matches the implementation: every /api/v1 route is documented and vice
versa, and generated requests to every documented GET get responses that conform to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.web.apidoc import merge, openapi_document

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def implemented(app: Flask) -> set[tuple[str, str]]:
    """(path in OpenAPI form, method) of every route under /api/v1."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes.update((path, m) for m in (rule.methods or set()) - IGNORED_METHODS)
    return routes


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    assert implemented(app) - documented(document) == set(), "document these routes in web/openapi/"
    assert documented(document) - implemented(app) == set(), "the document describes routes that do not exist"


def test_the_document_is_served(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi_document()


def test_fragments_cannot_redefine_each_other() -> None:
    base = {"openapi": "3.1.0", "info": {}, "paths": {}, "components": {"schemas": {"A": {"type": "string"}}}}
    merged = merge(
        base,
        [("one.json", {"paths": {"/x": {"get": {}}}, "components": {"schemas": {"A": {"type": "string"}}}})],
    )
    assert "/x" in merged["paths"]
    with pytest.raises(ConfigurationError, match="components/schemas/A"):
        merge(base, [("two.json", {"components": {"schemas": {"A": {"type": "integer"}}}})])
    with pytest.raises(ConfigurationError, match=r"b\.json: paths//x"):
        merge(base, [("a.json", {"paths": {"/x": {"get": {}}}}), ("b.json", {"paths": {"/x": {"post": {}}}})])


GET_OPERATIONS = [
    result.ok().label
    for result in schemathesis.openapi.from_dict(openapi_document())
    .include(method="GET")
    .get_all_operations()
]


@pytest.fixture(scope="module")
def api_schema(edx_app: Flask) -> Any:
    """The served document, loaded by schemathesis against the app in-process (WSGI)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", edx_app).include(method="GET")
    # A NUL in any parameter is refused with 400 before the route runs (web.params): no id or
    # filter value can hold one, so strings with NUL are not schema-valid inputs here.
    schema.config.generation.update(allow_x00=False)
    return schema


UNGUESSABLE = ("cursor", "skills")
"""Parameters whose generated values are all but never valid, each a 400 by design: a cursor a
search wrote (base64url JSON bound to its search: issue 22, class 19; tests/web/test_cursors.py),
an ESCO skill name (an unknown one is a 400 naming it: tests/web/test_web_skills.py)."""


def _without_cursor(case: Any) -> Any:
    if case.query and any(name in case.query for name in UNGUESSABLE):
        case.query = {name: value for name, value in case.query.items() if name not in UNGUESSABLE}
    return case


def _run(operation: Any, **fixed: Any) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=operation.as_strategy(**fixed).map(_without_cursor))
    def check(case: Any) -> None:
        case.call_and_validate()  # no 5xx; status, content type, headers and body as documented

    check()


@pytest.mark.parametrize("label", GET_OPERATIONS)
def test_get_responses_conform_to_the_document(api_schema: Any, edx_client: FlaskClient, label: str) -> None:
    """Generated requests (bounded, reproducible) to every documented GET, plus real ids."""
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)
    _run(operation)
    hit = edx_client.get("/api/v1/search?page_size=1").get_json()["hits"][0]
    real = {"course_id": hit["id"], "source_id": "edx", "run_id": 1}
    wanted = {name: real[name] for name in re.findall(r"{(\w+)}", label) if name in real}
    if wanted:
        _run(operation, path_parameters=wanted)
