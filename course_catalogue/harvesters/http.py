"""Fetch a feed over HTTP(S): conditional GET, size cap, bounded retries, and a guard against SSRF.

Anyone who may register a source chooses the URL we fetch, so the fetcher must not become a way
into our own network. Two layers:

1. Before every request (the first URL and each redirect hop, followed by hand, at most 5) the
   URL must be http(s) and every address its host resolves to must be public: loopback, private,
   link-local (169.254.169.254 is the cloud metadata service), multicast, reserved, unspecified,
   CGNAT 100.64/10, and IPv6 forms embedding such an IPv4 address (::ffff:a.b.c.d, 6to4, NAT64)
   are refused unless `allow_private` is set. This layer gives clear errors and also covers
   injected test transports.
2. DNS rebinding: a name may resolve to a public address for the check and to 127.0.0.1 a moment
   later for the connection. So the real transport gets a network backend that resolves the host
   itself, checks those addresses and opens the TCP connection to the checked IP literal: what was
   checked is what we connect to. TLS still uses the host name (httpcore passes the URL's host as
   SNI and for certificate verification), so HTTPS works unchanged. httpx has no public hook for a
   network backend, so `GuardedTransport` swaps its httpcore pool; a test pins this down. Proxies
   from the environment are ignored (trust_env=False): a proxy would connect on our behalf unchecked.

Every failure is a `catalogue.errors.FetchError` naming the URL and the reason.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpcore
import httpx

from course_catalogue.catalogue.errors import FetchError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "course-catalogue-harvester/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the IP addresses it resolves to, as strings."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system (socket.getaddrinfo), unique addresses in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address itself plus any IPv4 address an IPv6 one carries (the one actually reached)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    found: list[IPAddress] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [*found, ip]  # the embedded address first: it names the real destination


def blocked_reason(address: str) -> str | None:
    """Why an IP address must not be fetched from ("loopback", "private", ...), or None if public."""
    for ip in _embedded(ipaddress.ip_address(address)):
        for kind in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):
            if getattr(ip, f"is_{kind}"):
                return kind.replace("_", "-")
        if ip in _CGNAT:
            return "shared (CGNAT)"
        if not ip.is_global:
            return "not globally routable"
    return None


class AddressGuard:
    """Resolves a host and refuses it if any of its addresses is not public (unless allowed)."""

    def __init__(self, *, allow_private: bool = False, resolver: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self._resolver = resolver

    def resolve(self, host: str, port: int) -> list[str]:
        """The checked addresses of host; FetchError if it does not resolve or one is refused.

        The error never names the address a host *name* resolved to, nor its kind: whoever
        registers a feed URL (or a webhook) would otherwise learn the internal network's layout
        from our DNS. The log has it, for the operator."""
        host = host.strip("[]")
        try:
            addresses = [str(ipaddress.ip_address(host))]  # a literal needs no lookup
            literal = True
        except ValueError:
            addresses = self._lookup(host, port)
            literal = False
        if not self.allow_private:
            for address in addresses:
                reason = blocked_reason(address)
                if reason is None:
                    continue
                if literal:  # the caller wrote the address: saying what it is reveals nothing
                    what = f"it is a {reason} address"
                else:
                    logger.warning(
                        "refused to fetch from %r: it resolves to %s, a %s address", host, address, reason
                    )
                    what = "it resolves to an address that is not public"
                hint = "set allow_private to harvest from internal hosts"
                raise FetchError(f"refusing to fetch from {host!r}: {what} ({hint})")
        return addresses

    def _lookup(self, host: str, port: int) -> list[str]:
        try:
            addresses = self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"could not resolve host {host!r}: {exc}") from None
        if not addresses:
            raise FetchError(f"could not resolve host {host!r}: no addresses")
        return addresses


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore network backend that connects only to addresses the guard has just checked."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        error: httpcore.ConnectError | None = None
        for address in self._guard.resolve(host, port):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next address, as create_connection would
                error = exc
        assert error is not None  # resolve() returned at least one address
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise FetchError("unix sockets cannot be fetched from")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's HTTP transport with its connection pool rebuilt on a `PinnedBackend`."""

    def __init__(self, guard: AddressGuard) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=PinnedBackend(guard),
            max_connections=10,
            keepalive_expiry=5.0,
        )


@dataclass(frozen=True)
class FetchResult:
    """A fetched feed. "not_modified": the server answered 304 to our validators; content is None."""

    status: Literal["ok", "not_modified"]
    content: bytes | None
    etag: str | None
    last_modified: str | None
    final_url: str
    media_type: str | None = None  # Content-Type without parameters, lower case


class _Retry(Exception):
    """A transient failure worth another attempt; `after` is the server's Retry-After in seconds."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class Fetcher:
    """Downloads feeds. Reusable and not thread-safe; `close()` (or use as a context manager) when done.

    `transport`, `resolver`, `sleep` and `jitter` are injectable for tests; by default the fetcher
    uses a `GuardedTransport`, the system resolver, real sleeps and random jitter.
    """

    def __init__(
        self,
        *,
        max_bytes: int = 200 * 1024 * 1024,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        total_timeout: float = 900.0,
        retries: int = 3,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_retry_after: float = 120.0,
        allow_private: bool = False,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._guard = AddressGuard(allow_private=allow_private, resolver=resolver)
        self._max_bytes = max_bytes
        self._total_timeout = total_timeout
        self._retries = retries
        self._backoff = (backoff_base, backoff_cap)
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._jitter = jitter
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client = httpx.Client(
            transport=transport or GuardedTransport(self._guard),
            timeout=timeout,
            follow_redirects=False,  # by hand, so each hop passes the guard
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET url, sending If-None-Match / If-Modified-Since when given; FetchError on any failure."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self._total_timeout
        self._client.cookies.clear()  # nothing carries over from another feed
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            outcome = self._with_retries(current, headers, deadline)
            if isinstance(outcome, FetchResult):
                if outcome.status == "not_modified":
                    return FetchResult("not_modified", None, etag, last_modified, outcome.final_url)
                return outcome
            current = outcome
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _with_retries(self, url: str, headers: dict[str, str], deadline: float) -> FetchResult | str:
        """One hop, retried on transient failures: the result, or the URL it redirects to."""
        attempt = 0
        while True:
            try:
                return self._attempt(url, headers, deadline)
            except _Retry as retry:
                attempt += 1
                if attempt > self._retries:
                    message = f"{retry.reason}; gave up after {attempt} attempts"
                    raise FetchError(message, transient=True) from None
                delay = self._delay(retry, attempt)
                if time.monotonic() + delay > deadline:
                    raise FetchError(f"{retry.reason}; no time left to retry", transient=True) from None
                logger.warning("fetch %s: %s; retrying in %.1f s", url, retry.reason, delay)
                self._sleep(delay)

    def _delay(self, retry: _Retry, attempt: int) -> float:
        if retry.after is not None:
            if retry.after > self._max_retry_after:
                raise FetchError(
                    f"{retry.reason}; the server asks to retry after {retry.after:.0f} s, "
                    f"longer than the {self._max_retry_after:.0f} s we wait",
                    transient=True,
                ) from None
            return retry.after
        base, cap = self._backoff
        # exponential backoff with jitter in [half, full] so many workers do not retry in step
        return min(cap, base * 2 ** (attempt - 1)) * (0.5 + self._jitter() / 2)

    def _attempt(self, url: str, headers: dict[str, str], deadline: float) -> FetchResult | str:
        target = self._checked_url(url)
        try:
            with self._client.stream("GET", target, headers=headers) as response:
                return self._handle(url, response, deadline)
        except httpx.TimeoutException as exc:
            raise _Retry(f"{url}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry(f"{url}: connection failed ({type(exc).__name__}: {exc})") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None

    def _checked_url(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(f"{url!r} is not a valid URL: {exc}") from None
        if target.scheme not in ("http", "https"):
            raise FetchError(
                f"{url}: only http and https URLs can be fetched, not {target.scheme or 'none'!r}"
            )
        if not target.host:
            raise FetchError(f"{url}: the URL has no host")
        self._guard.resolve(target.host, target.port or (443 if target.scheme == "https" else 80))
        return target

    def _handle(self, url: str, response: httpx.Response, deadline: float) -> FetchResult | str:
        status = response.status_code
        if status == 304:
            return FetchResult("not_modified", None, None, None, str(response.url))
        if status in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise FetchError(f"{url}: HTTP {status} redirect without a Location header")
            return str(response.url.join(location))
        if status == 429 or status >= 500:
            raise _Retry(f"{url}: HTTP {status} {response.reason_phrase}", _retry_after(response))
        if not response.is_success:
            raise FetchError(f"{url}: HTTP {status} {response.reason_phrase}")
        content = self._read_capped(url, response, deadline)
        content_type = response.headers.get("content-type", "")
        return FetchResult(
            "ok",
            content,
            response.headers.get("etag"),
            response.headers.get("last-modified"),
            str(response.url),
            content_type.split(";", 1)[0].strip().lower() or None,
        )

    def _read_capped(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        """The body, refusing more than max_bytes (announced or actual, after decompression)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchError(
                f"{url}: the feed is {int(declared)} bytes, more than the limit of {self._max_bytes} bytes"
            )
        body = io.BytesIO()
        for chunk in response.iter_bytes():
            body.write(chunk)
            if body.tell() > self._max_bytes:
                raise FetchError(f"{url}: the feed is more than the limit of {self._max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"{url}: download took longer than {self._total_timeout:.0f} s")
        return body.getvalue()


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
