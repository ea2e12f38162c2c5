"""Fixtures for the web layer: apps on a tmp_path instance with a real SQLite store and tantivy index.

`app`/`client`/`runner` are fresh and empty per test (migrated, nothing harvested).
`edx_app`/`edx_client` share one instance per session holding the edX CSV fixture, harvested
through the real pipeline; tests using them must not change it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EDX_CSV = FIXTURES / "csv_edx_courses.csv"


def _clear_env(mp: pytest.MonkeyPatch) -> None:
    # a developer's CATALOGUE_* variables must not leak into the tests' config
    for key in list(os.environ):
        if key.startswith("CATALOGUE_"):
            mp.delenv(key)


def make_app(instance: Path, **config: object) -> Flask:
    # No rate limit unless a test asks for one: the shared edX app serves hundreds of requests.
    # Scheme evaluations run inside the request and no maintenance thread runs, unless a test
    # asks: tests see the state their own requests made (tests/reliability cover the rest).
    unlimited = {"RATELIMIT_ANONYMOUS": "", "RATELIMIT_PAGES": "", "RATELIMIT_OAI": ""}
    # No sentence vectors unless a test asks (SEMANTIC_MODEL): embedding the shared edX app's
    # 2,700 courses would add half a minute to every module that builds it.
    defaults = {
        "TESTING": True,
        **unlimited,
        "SCHEME_JOBS": "inline",
        "BACKGROUND_SECONDS": 0,
        "SEMANTIC_MODEL": "",
    }
    return create_app({**defaults, **config}, instance_path=str(instance))


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build extra apps on a fresh tmp instance with config overrides; closed after the test."""
    made: list[Flask] = []

    def build(**config: object) -> Flask:
        made.append(make_app(tmp_path / f"instance{len(made)}", **config))
        return made[-1]

    yield build
    for app in made:
        get_services(app).close()


@pytest.fixture(autouse=True)
def _no_catalogue_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path / "instance")
    get_services(app).store.migrate()
    yield app
    get_services(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def edx_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with pytest.MonkeyPatch.context() as mp:
        _clear_env(mp)
        app = make_app(tmp_path_factory.mktemp("edx") / "instance")
    services = get_services(app)
    services.store.migrate()
    source = Source(id="edx", format="csv", name="edX course catalogue (2020 scrape)", mapping="edx-csv")
    services.store.save_source(source)
    report = run_harvest(
        services.store,
        source,
        data=EDX_CSV.read_bytes(),
        sinks=services.sinks,
        settings=services.harvest_settings,
    )
    assert report.status is RunStatus.SUCCEEDED, report.error
    yield app
    services.close()


@pytest.fixture
def edx_client(edx_app: Flask) -> FlaskClient:
    return edx_app.test_client()


@contextmanager
def serve_app(app: Flask) -> Iterator[str]:
    """`app` served over HTTP on a free local port (a thread) for the `with` block: yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
