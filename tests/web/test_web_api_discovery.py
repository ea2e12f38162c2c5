"""Suggestions, facet counts, ELM content negotiation and HTTP caching of the JSON API (edX fixture)."""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph
import pytest
from flask.testing import FlaskClient

EDX_TITLE = "How to Learn Online"


def course_id(client: FlaskClient) -> str:
    hits = client.get("/api/v1/search?q=" + EDX_TITLE.replace(" ", "+")).get_json()["hits"]
    return str(hits[0]["id"])


def test_suggest_completes_titles_providers_and_keywords(edx_client: FlaskClient) -> None:
    body = edx_client.get("/api/v1/suggest?q=harv").get_json()
    assert body["q"] == "harv"
    first = body["suggestions"][0]
    assert first == {
        "kind": "provider",
        "text": "Harvard University",
        "value": "harvard-university",
        "url": "/providers/harvard-university",
    }
    titles = edx_client.get("/api/v1/suggest?q=pyth&limit=5").get_json()["suggestions"]
    assert 0 < len(titles) <= 5
    assert all("python" in s["text"].lower() for s in titles if s["kind"] == "course")
    course = next(s for s in titles if s["kind"] == "course")
    assert course["url"] == f"/courses/{course['value']}"
    keywords = edx_client.get("/api/v1/suggest?q=comput").get_json()["suggestions"]
    assert {
        "kind": "keyword",
        "text": "Computer Science",
        "value": "Computer Science",
        "url": "/?q=Computer+Science",
    } in keywords


@pytest.mark.parametrize("query", ["q=p", "q=", "", "q=%20%20", "q=zzqqxx"])
def test_suggest_has_nothing_for_short_or_unknown_text(edx_client: FlaskClient, query: str) -> None:
    assert edx_client.get(f"/api/v1/suggest?{query}").get_json()["suggestions"] == []


@pytest.mark.parametrize(
    "query", ["q=py&limit=0", "q=py&limit=abc", "q=py&limit=21", "q=py&colour=1", "q=" + "x" * 101]
)
def test_suggest_rejects_bad_parameters(edx_client: FlaskClient, query: str) -> None:
    response = edx_client.get(f"/api/v1/suggest?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_query"


def test_facets_endpoint_counts_without_hits(edx_client: FlaskClient) -> None:
    body = edx_client.get("/api/v1/facets?language=en").get_json()
    assert set(body) == {"query", "total", "facets"}
    search = edx_client.get("/api/v1/search?language=en").get_json()
    assert body["total"] == search["total"]
    assert body["facets"] == search["facets"]
    assert edx_client.get("/api/v1/facets?sort=nope").status_code == 400


@pytest.mark.parametrize(
    ("how", "media_type"),
    [
        ({"headers": {"Accept": "application/ld+json"}}, "application/ld+json"),
        ({"headers": {"Accept": "text/turtle"}}, "text/turtle"),
        ({"query_string": {"format": "jsonld"}}, "application/ld+json"),
        ({"query_string": {"format": "turtle"}}, "text/turtle"),
        ({"headers": {"Accept": "text/turtle;q=0.5, application/json"}}, "application/json"),
        ({"headers": {"Accept": "*/*"}}, "application/json"),
        ({}, "application/json"),
    ],
)
def test_course_content_negotiation(edx_client: FlaskClient, how: dict[str, Any], media_type: str) -> None:
    response = edx_client.get(f"/api/v1/courses/{course_id(edx_client)}", **how)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert "Accept" in response.headers["Vary"]


def test_elm_forms_describe_the_course_as_a_learning_opportunity(edx_client: FlaskClient) -> None:
    cid = course_id(edx_client)
    turtle = edx_client.get(f"/api/v1/courses/{cid}?format=turtle").data
    jsonld = edx_client.get(f"/api/v1/courses/{cid}?format=jsonld").data
    iri = f"http://localhost/courses/{cid}"
    assert f"<{iri}> a elm:LearningOpportunity".encode() in turtle
    assert EDX_TITLE.encode() in turtle
    document = json.loads(jsonld)
    assert document["@graph"][0]["@id"] == iri
    from_turtle = set(pyoxigraph.parse(turtle, format=pyoxigraph.RdfFormat.TURTLE))
    from_jsonld = set(pyoxigraph.parse(jsonld, format=pyoxigraph.RdfFormat.JSON_LD))
    assert from_turtle == from_jsonld


def test_bad_format_and_unknown_course_keep_the_error_shape(edx_client: FlaskClient) -> None:
    bad = edx_client.get(f"/api/v1/courses/{course_id(edx_client)}?format=xml")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_query"
    missing = edx_client.get("/api/v1/courses/nope", headers={"Accept": "text/turtle"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url", ["/api/v1/search?q=data", "/api/v1/suggest?q=data", "/api/v1/sources", "/", "/sources"]
)
def test_gets_carry_etag_and_answer_304_when_unchanged(edx_client: FlaskClient, url: str) -> None:
    first = edx_client.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"]
    again = edx_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    other = edx_client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_cache_control_per_surface(edx_client: FlaskClient) -> None:
    assert edx_client.get("/api/v1/search").headers["Cache-Control"] == "public, max-age=60"
    assert edx_client.get("/api/v1/health").headers["Cache-Control"] == "no-store"
    assert edx_client.get("/").headers["Cache-Control"] == "private, no-cache"
    signed = edx_client.get("/api/v1/search", headers={"Authorization": "Bearer x"})
    assert signed.headers["Cache-Control"] == "private, no-cache"
    error = edx_client.get("/api/v1/courses/nope")
    assert "ETag" not in error.headers


def test_course_detail_etag_differs_per_format(edx_client: FlaskClient) -> None:
    url = f"/api/v1/courses/{course_id(edx_client)}"
    tags = {
        edx_client.get(url, query_string={"format": f}).headers["ETag"] for f in ("json", "jsonld", "turtle")
    }
    assert len(tags) == 3
