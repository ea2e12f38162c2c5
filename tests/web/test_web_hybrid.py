"""`retrieval=hybrid` through the API: an app with SEMANTIC_MODEL=use over a slice of the edX feed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from tests.web.conftest import EDX_CSV

ROWS = 60


def _edx_slice() -> bytes:
    rows = list(csv.reader(io.StringIO(EDX_CSV.read_text(encoding="utf-8"))))[: ROWS + 1]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _hybrid_app(app_factory: Callable[..., Flask]) -> Flask:
    app = app_factory(SEMANTIC_MODEL="use")
    services = get_services(app)
    services.store.migrate()
    source = Source(id="edx", format="csv", name="edX slice", mapping="edx-csv")
    services.store.save_source(source)
    report = run_harvest(
        services.store, source, data=_edx_slice(), sinks=services.sinks, settings=services.harvest_settings
    )
    assert report.status is RunStatus.SUCCEEDED, report.error
    return app


def _get(app: Flask, url: str, status: int = 200) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_hybrid_finds_by_meaning_across_languages(app_factory: Callable[..., Flask]) -> None:
    app = _hybrid_app(app_factory)
    text = "Programmieren lernen für Anfänger"
    assert _get(app, f"/api/v1/search?q={text}&include_past=true")["total"] == 0
    found = _get(app, f"/api/v1/search?q={text}&include_past=true&retrieval=hybrid")
    assert found["total"] > 0
    titles = [hit["title"] for hit in found["hits"][:3]]
    assert any("Programming" in title or "Python" in title for title in titles), titles
    assert parse_qs(urlsplit(found["links"]["self"]).query)["retrieval"] == ["hybrid"]
    assert found["retrieval_used"] == "hybrid"


def test_hybrid_without_vectors_says_it_answered_by_keyword(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()  # no SEMANTIC_MODEL
    body = _get(app, "/api/v1/search?q=python&retrieval=hybrid")
    assert body["retrieval_used"] == "keyword"
    assert _get(app, "/api/v1/search?q=python")["retrieval_used"] == "keyword"


def test_an_unknown_retrieval_is_a_400(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    body = _get(app, "/api/v1/search?q=python&retrieval=semantic", status=400)
    assert "retrieval" in body["error"]["message"]


def test_the_search_page_offers_the_switch_only_with_vectors(app_factory: Callable[..., Flask]) -> None:
    with_vectors = app_factory(SEMANTIC_MODEL="use").test_client().get("/").get_data(as_text=True)
    without = app_factory().test_client().get("/").get_data(as_text=True)
    assert 'name="retrieval"' in with_vectors
    assert 'name="retrieval"' not in without


def test_hybrid_pages_by_cursor_through_the_api(app_factory: Callable[..., Flask]) -> None:
    app = _hybrid_app(app_factory)
    base = "/api/v1/search?q=data+analysis+course&include_past=true&retrieval=hybrid"
    whole = _get(app, f"{base}&page_size=100")
    assert whole["total"] > 6 and whole["next_cursor"] is None
    walked: list[str] = []
    url = f"{base}&page_size=4"
    for _ in range(50):
        page = _get(app, url)
        walked += [hit["id"] for hit in page["hits"]]
        if page["next_cursor"] is None:
            break
        url = f"{base}&page_size=4&cursor={page['next_cursor']}"
    assert walked == [hit["id"] for hit in whole["hits"]]
    keyword_page = _get(app, "/api/v1/search?q=data+analysis+course&include_past=true&page_size=1")
    assert keyword_page["next_cursor"]  # a keyword cursor is not one of the hybrid search
    _get(app, f"{base}&page_size=1&cursor={keyword_page['next_cursor']}", status=400)


def test_a_hybrid_page_past_the_ranking_depth_is_a_400(app_factory: Callable[..., Flask]) -> None:
    app = _hybrid_app(app_factory)
    body = _get(app, "/api/v1/search?q=python&retrieval=hybrid&page=11&page_size=100", status=400)
    assert "1000 deep" in body["error"]["message"]


def test_a_request_never_embeds_what_the_graph_lacks_the_maintenance_thread_does(
    app_factory: Callable[..., Flask],
) -> None:
    """A process killed between the keyword commit and the graph's leaves the graph short; the
    next process used to embed the whole index when it opened it, inside whatever request came
    first (the soak saw gunicorn's 30 s worker timeout end such requests with a 500)."""
    app = _hybrid_app(app_factory)
    services = get_services(app)
    index_dir = Path(app.config["INDEX_DIR"])
    services.close()
    for meta in index_dir.glob("vectors/*/meta.json"):
        meta.unlink()  # the graph no longer says what it holds: stale, as after such a kill
    with app.test_request_context("/api/v1/search?q=python&retrieval=hybrid"):
        backend = services.backend  # opened by a request
        assert _get(app, "/api/v1/search?q=python")["total"] > 0  # keyword search answers meanwhile
    assert list(index_dir.glob("vectors/*/meta.json")) == []  # nothing was embedded
    assert services.embed_missing_vectors() == backend.count()  # what `_maintain` calls
    assert len(list(index_dir.glob("vectors/*/meta.json"))) == 1
    assert _get(app, "/api/v1/search?q=Programmieren&retrieval=hybrid")["retrieval_used"] == "hybrid"
