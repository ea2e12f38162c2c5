"""The API through the search cache: a harvest is visible to the very next request."""

from __future__ import annotations

from flask import Flask

from course_catalogue.catalogue.sources import Source
from course_catalogue.search.fresh import FreshResults
from course_catalogue.search.result_cache import CachedBackend
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from course_catalogue.web.api import CACHE_HEADER
from tests.web.conftest import EDX_CSV


def _harvest(app: Flask, rows: int) -> None:
    services = get_services(app)
    lines = EDX_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    source = Source(id="edx", format="csv", name="edX", mapping="edx-csv")
    services.store.save_source(source)
    data = "".join(lines[: rows + 1]).encode()
    run_harvest(services.store, source, data=data, sinks=services.sinks, settings=services.harvest_settings)


def test_searches_are_cached_until_a_harvest_commits(app: Flask) -> None:
    client = app.test_client()
    backend = get_services(app).backend
    assert isinstance(backend, FreshResults) and isinstance(backend.backend, CachedBackend)
    _harvest(app, 5)
    first = client.get("/api/v1/search")
    assert first.headers[CACHE_HEADER] == "miss" and first.json is not None
    again = client.get("/api/v1/search")
    assert again.headers[CACHE_HEADER] == "hit" and again.json == first.json
    assert client.get("/api/v1/suggest?q=in").headers[CACHE_HEADER] == "miss"
    assert client.get("/api/v1/suggest?q=in").headers[CACHE_HEADER] == "hit"

    _harvest(app, 12)  # the same source, more rows: committed to the store and the index
    after = client.get("/api/v1/search")
    assert after.headers[CACHE_HEADER] == "miss"
    assert after.json is not None and after.json["total"] > first.json["total"]


def test_the_cache_can_be_switched_off(app_factory: object) -> None:
    app = app_factory(SEARCH_CACHE_SIZE=0)  # type: ignore[operator]
    get_services(app).store.migrate()
    client = app.test_client()
    backend = get_services(app).backend
    assert isinstance(backend, FreshResults) and not isinstance(backend.backend, CachedBackend)
    for _ in range(2):
        assert CACHE_HEADER not in client.get("/api/v1/search").headers
