"""The feed fetcher: conditional GET, size cap, retries, redirects and the SSRF guard (no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from course_catalogue.catalogue.errors import FetchError
from course_catalogue.harvesters.http import (
    AddressGuard,
    Fetcher,
    GuardedTransport,
    PinnedBackend,
    blocked_reason,
    system_resolver,
)

PUBLIC = "93.184.216.34"
FEED = "https://feeds.example.org/courses.csv"
BODY = b"id,title\n1,Python\n"

Handler = Callable[[httpx.Request], httpx.Response]


def resolver(table: dict[str, list[str]] | None = None) -> Callable[[str, int], list[str]]:
    """A fake DNS: known names from the table, every other name resolves to a public address."""
    table = table or {}
    return lambda host, port: table.get(host, [PUBLIC])


class Recorder:
    """A MockTransport handler that serves scripted responses and remembers the requests."""

    def __init__(self, *responses: httpx.Response | Exception | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(step, Exception):
            raise step
        return step(request) if callable(step) else step


def fetcher(handler: Handler, *, sleeps: list[float] | None = None, **kwargs: object) -> Fetcher:
    sleeps = sleeps if sleeps is not None else []
    options: dict[str, object] = {
        "transport": httpx.MockTransport(handler),
        "resolver": resolver(),
        "sleep": sleeps.append,
        "jitter": lambda: 1.0,
    }
    options.update(kwargs)
    return Fetcher(**options)  # type: ignore[arg-type]


def ok(body: bytes = BODY, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, content=body, headers=headers)


def test_ok_returns_body_validators_and_media_type() -> None:
    handler = Recorder(
        ok(
            headers={
                "ETag": '"v1"',
                "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT",
                "Content-Type": "text/csv; charset=utf-8",
            }
        )
    )
    result = fetcher(handler).fetch(FEED)
    assert result.status == "ok" and result.content == BODY
    assert (result.etag, result.last_modified) == ('"v1"', "Wed, 01 May 2024 10:00:00 GMT")
    assert result.final_url == FEED and result.media_type == "text/csv"
    request = handler.requests[0]
    assert "if-none-match" not in request.headers and "if-modified-since" not in request.headers
    assert request.headers["user-agent"].startswith("course-catalogue")


def test_304_when_validators_match() -> None:
    handler = Recorder(httpx.Response(304))
    result = fetcher(handler).fetch(FEED, etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT")
    assert result.status == "not_modified" and result.content is None
    assert (result.etag, result.last_modified) == ('"v1"', "Wed, 01 May 2024 10:00:00 GMT")
    (request,) = handler.requests
    assert request.headers["if-none-match"] == '"v1"'
    assert request.headers["if-modified-since"] == "Wed, 01 May 2024 10:00:00 GMT"


def test_size_cap_by_content_length_reads_nothing() -> None:
    def never() -> Iterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    response = httpx.Response(200, headers={"Content-Length": "5000"}, content=never())
    with pytest.raises(FetchError, match=r"courses.csv: the feed is 5000 bytes, more than the limit of 1000"):
        fetcher(Recorder(response), max_bytes=1000).fetch(FEED)


def test_size_cap_while_streaming_without_content_length() -> None:
    chunks_sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for i in range(1000):
            chunks_sent.append(i)
            yield b"x" * 400

    with pytest.raises(FetchError, match="more than the limit of 1000 bytes"):
        fetcher(Recorder(httpx.Response(200, content=endless())), max_bytes=1000).fetch(FEED)
    assert len(chunks_sent) < 10  # stopped reading at the cap


def test_retries_503_with_backoff_then_succeeds() -> None:
    sleeps: list[float] = []
    handler = Recorder(httpx.Response(503), httpx.Response(502), ok())
    result = fetcher(handler, sleeps=sleeps, backoff_base=1.0, jitter=lambda: 0.0).fetch(FEED)
    assert result.content == BODY and len(handler.requests) == 3
    assert sleeps == [0.5, 1.0]  # exponential, jitter in [half, full]


def test_backoff_is_capped() -> None:
    sleeps: list[float] = []
    handler = Recorder(*[httpx.Response(500)] * 5, ok())
    fetcher(handler, sleeps=sleeps, retries=5, backoff_base=1.0, backoff_cap=3.0).fetch(FEED)
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_gives_up_after_the_retries() -> None:
    handler = Recorder(httpx.Response(503))
    with pytest.raises(
        FetchError, match=r"courses.csv: HTTP 503 Service Unavailable; gave up after 3 attempts"
    ):
        fetcher(handler, retries=2).fetch(FEED)
    assert len(handler.requests) == 3


def test_retry_after_seconds_is_honoured() -> None:
    sleeps: list[float] = []
    handler = Recorder(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    assert fetcher(handler, sleeps=sleeps).fetch(FEED).content == BODY
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    sleeps: list[float] = []
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    handler = Recorder(httpx.Response(503, headers={"Retry-After": when}), ok())
    fetcher(handler, sleeps=sleeps).fetch(FEED)
    assert len(sleeps) == 1 and 20 < sleeps[0] <= 30


def test_retry_after_beyond_the_bound_fails_at_once() -> None:
    handler = Recorder(httpx.Response(503, headers={"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry after 3600 s, longer than the 120 s we wait"):
        fetcher(handler, max_retry_after=120).fetch(FEED)
    assert len(handler.requests) == 1


def test_client_errors_are_not_retried() -> None:
    handler = Recorder(httpx.Response(404))
    with pytest.raises(FetchError, match=r"^https://feeds.example.org/courses.csv: HTTP 404 Not Found$"):
        fetcher(handler).fetch(FEED)
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
    ],
)
def test_timeouts_are_retried_then_fail(error: Exception) -> None:
    handler = Recorder(error)
    with pytest.raises(FetchError, match=r"courses.csv: timed out \(\w+Timeout\); gave up after 2 attempts"):
        fetcher(handler, retries=1).fetch(FEED)
    assert len(handler.requests) == 2


def test_connection_errors_are_retried() -> None:
    handler = Recorder(httpx.ConnectError("connection refused"), ok())
    assert fetcher(handler).fetch(FEED).content == BODY


def test_redirects_are_followed_with_validators() -> None:
    handler = Recorder(
        httpx.Response(301, headers={"Location": "https://cdn.example.net/feeds/courses.csv"}),
        httpx.Response(302, headers={"Location": "/v2/courses.csv"}),
        ok(),
    )
    result = fetcher(handler).fetch(FEED, etag='"v1"')
    assert result.final_url == "https://cdn.example.net/v2/courses.csv"
    assert [str(r.url) for r in handler.requests][1:] == [
        "https://cdn.example.net/feeds/courses.csv",
        "https://cdn.example.net/v2/courses.csv",
    ]
    assert all(r.headers["if-none-match"] == '"v1"' for r in handler.requests)


def test_too_many_redirects() -> None:
    handler = Recorder(httpx.Response(302, headers={"Location": FEED}))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher(handler).fetch(FEED)
    assert len(handler.requests) == 6


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://internal.example/feed.csv", "file:///etc/passwd"],
)
def test_redirect_to_a_refused_target_is_refused(location: str) -> None:
    handler = Recorder(httpx.Response(302, headers={"Location": location}), ok())
    guard = resolver({"internal.example": ["10.1.2.3"]})
    with pytest.raises(FetchError, match=r"refusing to fetch|only http and https"):
        fetcher(handler, resolver=guard).fetch(FEED)
    assert len(handler.requests) == 1  # the second hop was never requested


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/feed.csv", "loopback"),
        ("http://localhost:8080/feed.csv", "loopback"),
        ("http://[::1]/feed.csv", "loopback"),
        ("http://10.0.0.7/feed.csv", "private"),
        ("http://192.168.1.1/feed.csv", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.64.0.1/feed.csv", "CGNAT"),
        ("http://[::ffff:127.0.0.1]/feed.csv", "loopback"),
        ("http://0.0.0.0/feed.csv", "unspecified"),
        ("http://224.0.0.1/feed.csv", "multicast"),
        ("http://2130706433/feed.csv", "loopback"),  # 127.0.0.1 as one decimal number
    ],
)
def test_internal_addresses_are_refused(url: str, kind: str) -> None:
    handler = Recorder(ok())
    # an address literal is named with its kind; a host name never with its address (class 16)
    refused = (
        f"refusing to fetch from .*: it (is a .*{kind}.* address|resolves to an address that is not public)"
    )
    with pytest.raises(FetchError, match=refused):
        fetcher(handler, resolver=system_resolver).fetch(url)
    assert handler.requests == []


def test_a_name_with_any_internal_address_is_refused() -> None:
    guard = resolver({"mixed.example": [PUBLIC, "10.0.0.1"]})
    with pytest.raises(FetchError, match=r"resolves to an address that is not public") as refused:
        fetcher(Recorder(ok()), resolver=guard).fetch("https://mixed.example/feed.csv")
    assert "10.0.0.1" not in str(refused.value)


def test_allow_private_permits_internal_hosts() -> None:
    guard = resolver({"intranet.example": ["10.0.0.5"]})
    result = fetcher(Recorder(ok()), resolver=guard, allow_private=True).fetch(
        "http://intranet.example/f.csv"
    )
    assert result.content == BODY


def test_unresolvable_host() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchError, match=r"could not resolve host 'nowhere\.example'"):
        fetcher(Recorder(ok()), resolver=nxdomain).fetch("https://nowhere.example/f.csv")


@pytest.mark.parametrize(
    "url", ["ftp://feeds.example.org/f.csv", "file:///etc/passwd", "gopher://x/1", "f.csv"]
)
def test_only_http_and_https(url: str) -> None:
    handler = Recorder(ok())
    with pytest.raises(FetchError, match=r"only http and https|not a valid URL"):
        fetcher(handler).fetch(url)
    assert handler.requests == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2a00:1450:4001:80b::200e", None),
        ("127.0.0.2", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("172.16.5.4", "private"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("240.0.0.1", "reserved"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:8.8.8.8", None),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 wrapping 169.254.169.254
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(address) == reason


def test_guarded_transport_connects_through_the_pinned_backend() -> None:
    transport = GuardedTransport(AddressGuard())
    # httpx has no public hook for the network backend; if an upgrade moves `_pool`, fail here.
    assert isinstance(transport._pool._network_backend, PinnedBackend)


def test_dns_rebinding_is_defeated() -> None:
    """The name is public when checked, loopback when connecting: the connection is refused."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    with (
        Fetcher(resolver=lambda host, port: next(answers), retries=0) as real,
        pytest.raises(FetchError, match=r"resolves to an address that is not public"),
    ):
        real.fetch("http://rebind.example/feed.csv")


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server on 127.0.0.1 that serves BODY and records the Host headers it saw."""
    hosts: list[str] = []

    class Serve(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_real_transport_connects_to_the_checked_address(local_server: tuple[int, list[str]]) -> None:
    port, hosts = local_server
    # "feeds.test" exists only in our resolver: reaching the server proves the connection used the
    # address the guard checked, and the Host header proves the URL's name was kept.
    pinned = resolver({"feeds.test": ["127.0.0.1"]})
    with Fetcher(resolver=pinned, allow_private=True, retries=0) as real:
        result = real.fetch(f"http://feeds.test:{port}/courses.csv")
    assert result.content == BODY and result.media_type == "text/csv"
    assert hosts == [f"feeds.test:{port}"]


def test_real_transport_refuses_loopback_by_default(local_server: tuple[int, list[str]]) -> None:
    port, hosts = local_server
    with Fetcher(retries=0) as real, pytest.raises(FetchError, match="loopback"):
        real.fetch(f"http://127.0.0.1:{port}/courses.csv")
    assert hosts == []
