"""Webhooks to registries: subscriptions, deliveries, the payload, its HMAC signature and the retry schedule.

A delivery tells a subscriber that its changes feed moved: the payload names the cursor range
and the URL to read (`GET /api/v1/changes?since=<from_cursor>[&scheme=<id>]`); the changes
themselves always come from the feed, so a lost or repeated webhook never loses or duplicates
data ("thin webhook, fat feed").

Signing: the body is sent with

    X-Catalogue-Timestamp: <unix seconds>
    X-Catalogue-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the secret>

The timestamp is inside the signed string, so a captured request cannot be replayed later with
a fresh timestamp; receivers reject timestamps older than a few minutes (`verify`). The secret is
stored in plaintext (an HMAC key cannot be kept as a hash) and shown once, at subscription.

Retries: a failed attempt (network error, timeout, any non-2xx answer) is tried again after
`backoff(attempts)` (30 s, 1 min, 2 min ... capped at 6 h); after `max_attempts` the delivery is
FAILED for good, with its last error kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

SIGNATURE_HEADER = "X-Catalogue-Signature"
TIMESTAMP_HEADER = "X-Catalogue-Timestamp"
DELIVERY_HEADER = "X-Catalogue-Delivery"
CHANGES_PATH = "/api/v1/changes"
DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
REPLAY_TOLERANCE = 300
"""Seconds a receiver should accept between our timestamp and its clock."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after max_attempts


@dataclass(frozen=True)
class Subscription:
    """A registry's webhook. `scheme_id` None: every course change; else that scheme's feed.
    `cursor`: the newest seq already covered by an enqueued delivery."""

    id: str
    account_id: str
    url: str
    scheme_id: str | None
    active: bool
    cursor: int
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One notification of the cursor range (from_seq, to_seq] to one subscription."""

    id: int
    subscription_id: str
    from_seq: int
    to_seq: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def new_secret() -> str:
    """A signing secret: 32 random bytes, URL-safe."""
    return "whsec_" + secrets.token_urlsafe(32)


def new_subscription_id() -> str:
    return secrets.token_hex(8)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: float, tolerance: int = REPLAY_TOLERANCE
) -> bool:
    """What a receiver does: the timestamp is recent and the signature matches (constant time)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def backoff(attempts: int, *, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based): base, 2 base, 4 base ... cap."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def changes_url(subscription: Subscription, from_seq: int, base_url: str | None) -> str:
    """Where the subscriber reads the changes: absolute when the catalogue's public URL is known."""
    query = f"?since={from_seq}" + (f"&scheme={subscription.scheme_id}" if subscription.scheme_id else "")
    return (base_url or "").rstrip("/") + CHANGES_PATH + query


def payload(subscription: Subscription, delivery: Delivery, base_url: str | None, sent_at: datetime) -> bytes:
    """The JSON body of a delivery (compact UTF-8; the exact bytes are what is signed)."""
    body: dict[str, Any] = {
        "event": "changes",
        "subscription": subscription.id,
        "delivery": delivery.id,
        "scheme": subscription.scheme_id,
        "from_cursor": str(delivery.from_seq),
        "to_cursor": str(delivery.to_seq),
        "changes_url": changes_url(subscription, delivery.from_seq, base_url),
        "sent_at": sent_at.isoformat(),
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def signed_headers(secret: str, delivery_id: int, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery_id),
    }
