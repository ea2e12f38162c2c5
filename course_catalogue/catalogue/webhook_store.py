"""Persistence of webhook subscriptions and their deliveries (shares CatalogueStore's engine).

`enqueue` runs after changes commit: in a `sequencing()` transaction (so no seq-allocating
transaction is in flight and the newest seq is final) it gives each active subscription with
relevant changes past its cursor one delivery covering (cursor, head], then moves the cursor.
`claim_due` hands out due deliveries with a lease (their next attempt moved into the future and
the attempt counted), so two dispatchers never send the same attempt and a worker that dies
mid-send only delays the delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.schema import (
    changes,
    course_eligibility,
    courses,
    webhook_deliveries,
    webhook_subscriptions,
)
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.webhooks import (
    DEFAULT_MAX_ATTEMPTS,
    Delivery,
    DeliveryStatus,
    Subscription,
    backoff,
    new_secret,
    new_subscription_id,
)

LEASE = timedelta(minutes=5)
"""How long a claimed delivery is left alone before another dispatcher may try it again."""
MAX_ERROR = 1000


class WebhookStore:
    """Subscriptions and deliveries of one catalogue database."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    # --- subscriptions --------------------------------------------------------------------------

    def subscribe(self, account_id: str, url: str, scheme_id: str | None = None) -> tuple[Subscription, str]:
        """A new active subscription and its signing secret (returned here only). It is notified
        of changes committed after now."""
        secret = new_secret()
        with self._store.sequencing() as conn:
            subscription = Subscription(
                id=new_subscription_id(),
                account_id=account_id,
                url=url,
                scheme_id=scheme_id,
                active=True,
                cursor=_head(conn),
                created_at=_now(),
            )
            conn.execute(
                webhook_subscriptions.insert().values(
                    id=subscription.id,
                    account_id=account_id,
                    url=url,
                    secret=secret,
                    scheme_id=scheme_id,
                    active=True,
                    cursor=subscription.cursor,
                    created_at=subscription.created_at,
                )
            )
        return subscription, secret

    def get(self, subscription_id: str) -> Subscription:
        query = sa.select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        with self._store.reading() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return _subscription(row)

    def list_subscriptions(self, account_id: str | None = None) -> list[Subscription]:
        query = sa.select(webhook_subscriptions).order_by(webhook_subscriptions.c.created_at)
        if account_id is not None:
            query = query.where(webhook_subscriptions.c.account_id == account_id)
        with self._store.reading() as conn:
            return [_subscription(row) for row in conn.execute(query)]

    def delete(self, subscription_id: str) -> None:
        """Remove the subscription and its deliveries; NotFound if there is none."""
        stmt = webhook_subscriptions.delete().where(webhook_subscriptions.c.id == subscription_id)
        with self._store.writing() as conn:
            if conn.execute(stmt.returning(webhook_subscriptions.c.id)).first() is None:
                raise NotFound(f"no webhook subscription {subscription_id!r}")

    def secret(self, subscription_id: str) -> str:
        query = sa.select(webhook_subscriptions.c.secret).where(webhook_subscriptions.c.id == subscription_id)
        with self._store.reading() as conn:
            found = conn.execute(query).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no webhook subscription {subscription_id!r}")
        return str(found)

    # --- deliveries -----------------------------------------------------------------------------

    def enqueue(self, now: datetime | None = None) -> list[Delivery]:
        """One pending delivery per active subscription whose feed has entries past its cursor,
        due at `now` (default: the current time)."""
        now = now or _now()
        made: list[Delivery] = []
        with self._store.sequencing() as conn:
            head = _head(conn)
            query = sa.select(webhook_subscriptions).where(
                webhook_subscriptions.c.active.is_(True), webhook_subscriptions.c.cursor < head
            )
            for row in conn.execute(query).all():
                if _has_entries(conn, row.scheme_id, row.cursor, head):
                    values = {
                        "subscription_id": row.id,
                        "from_seq": row.cursor,
                        "to_seq": head,
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    stmt = webhook_deliveries.insert().values(**values).returning(webhook_deliveries)
                    made.append(_delivery(conn.execute(stmt).one()))
                conn.execute(
                    webhook_subscriptions.update()
                    .where(webhook_subscriptions.c.id == row.id)
                    .values(cursor=head)
                )
        return made

    def claim_due(self, now: datetime, limit: int = 50, lease: timedelta = LEASE) -> list[Delivery]:
        """Pending deliveries due at `now`, claimed: attempts + 1, next attempt at now + lease."""
        query = (
            sa.select(webhook_deliveries.c.id, webhook_deliveries.c.next_attempt_at)
            .where(
                webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit)
        )
        claimed: list[Delivery] = []
        with self._store.writing() as conn:
            for delivery_id, due_at in conn.execute(query).all():
                stmt = (
                    webhook_deliveries.update()
                    .where(
                        webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.next_attempt_at == due_at
                    )
                    .values(attempts=webhook_deliveries.c.attempts + 1, next_attempt_at=now + lease)
                    .returning(webhook_deliveries)
                )
                row = conn.execute(stmt).one_or_none()
                if row is not None:  # else another dispatcher claimed it first
                    claimed.append(_delivery(row))
        return claimed

    def delivered(self, delivery_id: int, now: datetime) -> None:
        self._finish(
            delivery_id,
            status=DeliveryStatus.DELIVERED.value,
            delivered_at=now,
            next_attempt_at=None,
            last_error=None,
        )

    def attempt_failed(
        self,
        delivery: Delivery,
        error: str,
        now: datetime,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        schedule: Callable[[int], timedelta] = backoff,
    ) -> DeliveryStatus:
        """Record a failed attempt of a claimed delivery: retry later, or FAILED after the last."""
        if delivery.attempts >= max_attempts:
            self._finish(
                delivery.id,
                status=DeliveryStatus.FAILED.value,
                next_attempt_at=None,
                last_error=error[:MAX_ERROR],
            )
            return DeliveryStatus.FAILED
        retry_at = now + schedule(delivery.attempts)
        self._finish(delivery.id, next_attempt_at=retry_at, last_error=error[:MAX_ERROR])
        return DeliveryStatus.PENDING

    def deliveries(self, subscription_id: str, limit: int = 50) -> list[Delivery]:
        """The subscription's deliveries, newest first."""
        query = (
            sa.select(webhook_deliveries)
            .where(webhook_deliveries.c.subscription_id == subscription_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        with self._store.reading() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def _finish(self, delivery_id: int, **values: Any) -> None:
        with self._store.writing() as conn:
            conn.execute(
                webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values)
            )


def _head(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one())


def _has_entries(conn: Connection, scheme_id: str | None, after: int, upto: int) -> bool:
    """Whether the subscription's feed has an entry with a seq in (after, upto]."""
    if scheme_id is None:
        where = [courses.c.seq > after, courses.c.seq <= upto]
        query = sa.select(courses.c.id).where(*where).limit(1)
    else:
        where = [
            course_eligibility.c.scheme_id == scheme_id,
            course_eligibility.c.seq > after,
            course_eligibility.c.seq <= upto,
        ]
        query = sa.select(course_eligibility.c.course_id).where(*where).limit(1)
    return conn.execute(query).first() is not None


def _subscription(row: sa.Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        account_id=row.account_id,
        url=row.url,
        scheme_id=row.scheme_id,
        active=row.active,
        cursor=row.cursor,
        created_at=row.created_at,
    )


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        from_seq=row.from_seq,
        to_seq=row.to_seq,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)
