"""Issue 22, class 1: a request body over MAX_UPLOAD_BYTES is a 413 in the error shape whatever its
transfer encoding, under the development server (werkzeug, what `catalogue serve` / `flask run`
use) and under gunicorn; never cut at the limit and processed as if complete.

Both servers serve one instance on loopback: a provider owns a CSV source; pushes of a feed are
sent with `Transfer-Encoding: chunked` (no Content-Length: the server only learns the size by
reading), with a Content-Length, and as a chunked multipart upload. Before the fix werkzeug's
`LimitedStream.readall` returned exactly MAX_UPLOAD_BYTES bytes without an error and the push
went ahead with the truncated feed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.sources import Source
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app
from tests.web.publishing import INSTITUTION, ROWS, edx_csv, first_rows

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 8192
SOURCE = "zed-feed"
CONFIG = {
    "MAX_UPLOAD_BYTES": str(LIMIT),
    "SECRET_KEY": "bodies-test",
    "RATELIMIT_ANONYMOUS": "",
    "RATELIMIT_PAGES": "",
    "RATELIMIT_OAI": "",
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _instance(path: Path) -> str:
    """A migrated instance with provider "zed" owning a CSV source; returns zed's token."""
    app = create_app({"TESTING": True, **CONFIG}, instance_path=str(path))
    services = get_services(app)
    try:
        services.store.migrate()
        accounts = AccountStore(services.store)
        accounts.create_account("zed", "Zed", Role.PROVIDER)
        token = accounts.issue_token("zed", "test").plaintext
        for name in sorted({row[INSTITUTION] for row in ROWS}):  # zed may publish edX's rows
            accounts.grant_organisation("zed", name)
        services.store.save_source(Source(SOURCE, "csv", name="Zed", mapping="edx-csv", owner="zed"))
    finally:
        services.close()
    return token


def _feed(min_bytes: int) -> bytes:
    """A valid edX CSV feed of at least `min_bytes` (whole rows)."""
    rows = first_rows(1)
    feed = edx_csv(rows)
    n = 1
    while len(feed) < min_bytes:
        n += 1
        feed = edx_csv(first_rows(n))
    return feed


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class Server:
    """A served instance: `base` host and port, the provider token, and a way to count runs."""

    def __init__(self, instance: Path, token: str, port: int) -> None:
        self.instance, self.token, self.port = instance, token, port

    def request(
        self, body: bytes, *, chunked: bool, content_type: str = "text/csv", path: str | None = None
    ) -> tuple[int, dict[str, Any] | None]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        try:
            if chunked:
                headers["Transfer-Encoding"] = "chunked"
                conn.request(
                    "POST", path or _push_path(), body=_chunks(body), headers=headers, encode_chunked=True
                )
            else:
                conn.request("POST", path or _push_path(), body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def runs(self) -> int:
        app = create_app({"TESTING": True, **CONFIG}, instance_path=str(self.instance))
        services = get_services(app)
        try:
            return len(services.store.list_runs(SOURCE, limit=100))
        finally:
            services.close()


def _push_path() -> str:
    return f"/api/v1/sources/{SOURCE}/feed"


def _wait(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer in time")


@pytest.fixture(params=["werkzeug", "gunicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    instance = tmp_path / "instance"
    token = _instance(instance)
    port = _port()
    if request.param == "werkzeug":
        app = create_app({**CONFIG}, instance_path=str(instance))
        httpd = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            _wait(port)
            yield Server(instance, token, port)
        finally:
            httpd.shutdown()
            get_services(app).close()
        return
    env = {**os.environ, "CATALOGUE_INSTANCE_PATH": str(instance)}
    env.update({f"CATALOGUE_{name}": value for name, value in CONFIG.items()})
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen([*command, "course_catalogue.web.app:create_app()"], cwd=ROOT, env=env)
    try:
        _wait(port, process)
        yield Server(instance, token, port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _assert_413(status: int, body: dict[str, Any] | None) -> None:
    assert status == 413, (status, body)
    assert body is not None and set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == 413 and error["code"] == "request_entity_too_large", error
    assert str(LIMIT) in error["message"], error


def test_a_chunked_push_over_the_limit_is_413_not_a_truncated_feed(server: Server) -> None:
    feed = _feed(3 * LIMIT)
    assert edx_csv(first_rows(1))[:100] == feed[:100] and len(feed) > LIMIT
    before = server.runs()
    for dry in ("true", "false"):
        status, body = server.request(feed, chunked=True, path=f"{_push_path()}?dry_run={dry}")
        _assert_413(status, body)
    assert server.runs() == before, "nothing was harvested from the cut feed"


def test_a_chunked_push_within_the_limit_is_read_whole(server: Server) -> None:
    feed = _feed(LIMIT // 2)
    assert len(feed) <= LIMIT
    status, body = server.request(feed, chunked=True)
    assert status == 200, body
    assert body is not None and body["staged"]["bytes"] == len(feed), "every byte arrived"


def test_a_body_of_exactly_the_limit_plus_one_byte_is_refused(server: Server) -> None:
    feed = _feed(LIMIT)
    body = feed[: LIMIT + 1] if len(feed) > LIMIT else feed + b"x" * (LIMIT + 1 - len(feed))
    assert len(body) == LIMIT + 1
    _assert_413(*server.request(body, chunked=True))
    _assert_413(*server.request(body, chunked=False))


def test_a_chunked_multipart_upload_over_the_limit_is_413(server: Server) -> None:
    boundary = "bodies-test-boundary"
    feed = _feed(3 * LIMIT)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="feed.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + feed
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, response = server.request(
        body, chunked=True, content_type=f"multipart/form-data; boundary={boundary}"
    )
    _assert_413(status, response)


def test_a_chunked_json_body_over_the_limit_is_413(server: Server) -> None:
    body = json.dumps({"id": "x" * (2 * LIMIT), "format": "csv"}).encode()
    status, response = server.request(
        body, chunked=True, content_type="application/json", path="/api/v1/sources"
    )
    _assert_413(status, response)
