"""Sending webhook deliveries over HTTP, behind the same SSRF guard as feed fetching.

A registry chooses its webhook URL, so a POST to it must not reach into our network any more than
a feed download may: `check_url` applies the harvester's `AddressGuard` when a subscription is
made (clear errors), and every send goes through `GuardedTransport`, which connects only to the
addresses it has just checked (no DNS rebinding). Redirects are not followed: a 3xx is a failure.
`deliver_due` is what the periodic task runs: claim due deliveries, sign, POST, record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from course_catalogue.catalogue.errors import FetchError, NotFound
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.catalogue.webhooks import (
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DeliveryStatus,
    payload,
    signed_headers,
)
from course_catalogue.harvesters.http import (
    USER_AGENT,
    AddressGuard,
    GuardedTransport,
    Resolver,
    system_resolver,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookSettings:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float = 10.0  # connect and read, per attempt
    allow_private: bool = False  # SSRF guard off (receivers on our own network; tests)
    public_url: str | None = None  # the catalogue's base URL, for absolute changes_url links
    # None: the SSRF-guarded network transport; tests may inject an httpx.MockTransport
    transport: httpx.BaseTransport | None = field(default=None, compare=False)


def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> str:
    """The URL if it is http(s) with a host whose addresses are all public (unless allowed);
    FetchError naming the reason otherwise."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"{url!r} is not a valid URL: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise FetchError(f"{url}: a webhook URL must be http(s) with a host")
    guard = AddressGuard(allow_private=allow_private, resolver=resolver)
    guard.resolve(target.host, target.port or (443 if target.scheme == "https" else 80))
    return url


class WebhookSender:
    """POSTs signed bodies; reusable, not thread-safe; `close()` when done."""

    def __init__(self, settings: WebhookSettings, resolver: Resolver = system_resolver) -> None:
        self._guard = AddressGuard(allow_private=settings.allow_private, resolver=resolver)
        self._allow_private = settings.allow_private
        self._resolver = resolver
        self._client = httpx.Client(
            transport=settings.transport or GuardedTransport(self._guard),
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Send once; FetchError for a refused URL, a network failure or a non-2xx answer."""
        check_url(url, allow_private=self._allow_private, resolver=self._resolver)
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}", transient=True) from None
        if not response.is_success:
            raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")


def deliver_due(
    store: CatalogueStore,
    settings: WebhookSettings,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sender: WebhookSender | None = None,
    limit: int = 50,
) -> list[tuple[int, DeliveryStatus]]:
    """Enqueue deliveries for committed changes, then send every due one once; returns
    (delivery id, status after this attempt)."""
    hooks = WebhookStore(store)
    hooks.enqueue(now())
    own = sender is None
    active = sender or WebhookSender(settings)
    try:
        return [_attempt(hooks, active, settings, d, now()) for d in hooks.claim_due(now(), limit)]
    finally:
        if own:
            active.close()


def _attempt(
    hooks: WebhookStore, sender: WebhookSender, settings: WebhookSettings, delivery: Delivery, now: datetime
) -> tuple[int, DeliveryStatus]:
    try:
        subscription = hooks.get(delivery.subscription_id)
    except NotFound:  # unsubscribed meanwhile: its deliveries went with it
        return delivery.id, DeliveryStatus.FAILED
    try:
        body = payload(subscription, delivery, settings.public_url, now)
        headers = signed_headers(hooks.secret(subscription.id), delivery.id, body, int(now.timestamp()))
        sender.post(subscription.url, body, headers)
    except FetchError as exc:
        status = hooks.attempt_failed(delivery, str(exc), now, max_attempts=settings.max_attempts)
        logger.warning("webhook delivery %s attempt %d failed: %s", delivery.id, delivery.attempts, exc)
        return delivery.id, status
    hooks.delivered(delivery.id, now)
    return delivery.id, DeliveryStatus.DELIVERED
