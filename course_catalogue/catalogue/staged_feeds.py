"""Staged feeds: pushed bytes kept between their dry run and the provider's confirmation.

Kept in the catalogue database (not on a local disk) so that whichever web process or host
receives the confirmation can read them. Each expires after a TTL; expired ones are deleted
whenever a feed is staged.

What one source and one account may keep is bounded by a `StagedQuota` (issue 22: without it one
provider could stage gigabytes). Per source, the oldest staged feeds are deleted to make room
for a new one (count and bytes), so a provider re-pushing fixes never gets stuck. Per account
nothing is deleted behind the provider's back: a feed that does not fit is refused with
`QuotaExceeded` (confirm a staged feed, or wait until one expires). `check_room` answers the same
question before a dry run is spent on a feed that could not be staged; `stage` decides again in
the transaction that stores it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from course_catalogue.catalogue.errors import NotFound, QuotaExceeded
from course_catalogue.catalogue.schema import staged_feeds
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore

MAX_PER_SOURCE = 5
"""Default of `StagedQuota.feeds_per_source`: a provider re-pushing fixes does not pile up bytes."""


@dataclass(frozen=True)
class StagedQuota:
    """Staged feeds a source and an account may hold. `feeds_per_source` is at least 1; every
    other limit is off when 0. The names of the settings that fill it are in the messages."""

    feeds_per_source: int = MAX_PER_SOURCE
    bytes_per_source: int = 0
    feeds_per_account: int = 0
    bytes_per_account: int = 0


@dataclass(frozen=True)
class StagedFeed:
    """A staged feed's facts (its bytes are read separately: they may be large)."""

    id: str
    source_id: str
    account_id: str
    media_type: str
    sha256: str
    size: int
    format: str
    mapping: str | None
    dry_run_id: int | None
    created_at: datetime
    expires_at: datetime
    filename: str | None = None
    """The uploaded file's name (its last path part, at most 255 characters); None for a feed
    pushed as a raw request body."""

    def expired(self, now: datetime | None = None) -> bool:
        return (now or _now()) >= self.expires_at

    def matches(self, source: Source) -> bool:
        """Whether the source still has the format and mapping the dry run used."""
        return source.format == self.format and source.mapping == self.mapping


class StagedFeedStore:
    """Staged feeds of one catalogue database."""

    def __init__(self, store: CatalogueStore, quota: StagedQuota | None = None) -> None:
        self._store = store
        self.quota = quota or StagedQuota()

    def check_room(self, source: Source, account_id: str, size: int) -> None:
        """QuotaExceeded if a feed of `size` bytes pushed by `account_id` to `source` could not
        be staged now (see the module docstring); changes nothing."""
        with self._store.reading() as conn:
            _room(conn, self.quota, _now(), source.id, account_id, size)

    def stage(
        self,
        source: Source,
        account_id: str,
        content: bytes,
        media_type: str,
        *,
        dry_run_id: int | None,
        ttl: timedelta,
        filename: str | None = None,
    ) -> StagedFeed:
        """Keep `content` for a later confirmation; also deletes expired staged feeds and the
        oldest of the source beyond its quota. QuotaExceeded when it does not fit."""
        now = _now()
        staged = StagedFeed(
            id=secrets.token_hex(12),
            source_id=source.id,
            account_id=account_id,
            media_type=media_type,
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            format=source.format,
            mapping=source.mapping,
            dry_run_id=dry_run_id,
            created_at=now,
            expires_at=now + ttl,
            filename=file_name(filename),
        )
        with self._store.writing() as conn:
            dropped = _room(conn, self.quota, now, source.id, account_id, staged.size)
            conn.execute(staged_feeds.delete().where(staged_feeds.c.expires_at <= now))
            if dropped:
                conn.execute(staged_feeds.delete().where(staged_feeds.c.id.in_(dropped)))
            conn.execute(staged_feeds.insert().values(content=content, **_row(staged)))
        return staged

    def get(self, staged_id: str) -> StagedFeed:
        """The staged feed, expired or not; NotFound when unknown (or already confirmed)."""
        with self._store.reading() as conn:
            row = conn.execute(sa.select(*_FACTS).where(staged_feeds.c.id == staged_id)).one_or_none()
        if row is None:
            raise NotFound(f"no staged feed {staged_id!r}: it was confirmed, replaced or has expired")
        return _staged(row)

    def content(self, staged_id: str) -> bytes:
        query = sa.select(staged_feeds.c.content).where(staged_feeds.c.id == staged_id)
        with self._store.reading() as conn:
            content = conn.execute(query).scalar_one_or_none()
        if content is None:
            raise NotFound(f"no staged feed {staged_id!r}")
        return bytes(content)

    def list_for_source(self, source_id: str) -> list[StagedFeed]:
        """Unexpired staged feeds of a source, newest first."""
        query = (
            sa.select(*_FACTS)
            .where(staged_feeds.c.source_id == source_id, staged_feeds.c.expires_at > _now())
            .order_by(staged_feeds.c.created_at.desc())
        )
        with self._store.reading() as conn:
            return [_staged(row) for row in conn.execute(query)]

    def delete(self, staged_id: str) -> bool:
        """Delete it; True if it existed (a confirmation consumes its staged feed)."""
        with self._store.writing() as conn:
            return bool(conn.execute(staged_feeds.delete().where(staged_feeds.c.id == staged_id)).rowcount)


_FACTS = [c for c in staged_feeds.c if c.name != "content"]


def _room(
    conn: sa.Connection, quota: StagedQuota, now: datetime, source_id: str, account_id: str, size: int
) -> list[str]:
    """The ids of the source's staged feeds to delete so that one more of `size` bytes fits its
    per-source quota (oldest first); QuotaExceeded when it cannot fit the source's bytes or,
    with those deleted, the account's quota."""
    live = staged_feeds.c.expires_at > now
    if quota.bytes_per_source and size > quota.bytes_per_source:
        raise QuotaExceeded(
            f"A feed of {size} bytes is more than a source may keep staged (the STAGED_BYTES_PER_SOURCE "
            f"quota is {quota.bytes_per_source} bytes).",
            setting="STAGED_BYTES_PER_SOURCE",
            limit=quota.bytes_per_source,
            used=size,
        )
    query = (
        sa.select(staged_feeds.c.id, staged_feeds.c.size)
        .where(staged_feeds.c.source_id == source_id, live)
        .order_by(staged_feeds.c.created_at.desc(), staged_feeds.c.id.desc())
    )
    kept_count, kept_bytes, dropped = 0, size, []
    for row in conn.execute(query):
        fits_bytes = not quota.bytes_per_source or kept_bytes + row.size <= quota.bytes_per_source
        if kept_count < max(1, quota.feeds_per_source) - 1 and fits_bytes:
            kept_count, kept_bytes = kept_count + 1, kept_bytes + row.size
        else:
            dropped.append(row.id)
    if quota.feeds_per_account or quota.bytes_per_account:
        mine = sa.select(staged_feeds.c.size, staged_feeds.c.expires_at).where(
            staged_feeds.c.account_id == account_id, live, staged_feeds.c.id.not_in(dropped)
        )
        held = list(conn.execute(mine))
        first_expiry = min((row.expires_at for row in held), default=None)
        _check_account(quota, len(held), sum(row.size for row in held), size, first_expiry)
    return dropped


def _check_account(
    quota: StagedQuota, count: int, used: int, size: int, first_expiry: datetime | None
) -> None:
    free = (
        "Confirm or replace one of them"
        + (f", or wait until the first expires at {first_expiry.isoformat()}" if first_expiry else "")
        + "."
    )
    if quota.feeds_per_account and count + 1 > quota.feeds_per_account:
        raise QuotaExceeded(
            f"Your account has {count} staged feeds awaiting confirmation, the most the "
            f"STAGED_FEEDS_PER_ACCOUNT quota allows. {free}",
            setting="STAGED_FEEDS_PER_ACCOUNT",
            limit=quota.feeds_per_account,
            used=count,
        )
    if quota.bytes_per_account and used + size > quota.bytes_per_account:
        raise QuotaExceeded(
            f"Your account has {used} bytes of staged feeds; {size} more would exceed the "
            f"STAGED_BYTES_PER_ACCOUNT quota of {quota.bytes_per_account} bytes. {free}",
            setting="STAGED_BYTES_PER_ACCOUNT",
            limit=quota.bytes_per_account,
            used=used,
        )


def _row(staged: StagedFeed) -> dict[str, Any]:
    return {
        "id": staged.id,
        "source_id": staged.source_id,
        "account_id": staged.account_id,
        "media_type": staged.media_type,
        "sha256": staged.sha256,
        "size": staged.size,
        "format": staged.format,
        "mapping": staged.mapping,
        "dry_run_id": staged.dry_run_id,
        "created_at": staged.created_at,
        "expires_at": staged.expires_at,
        "filename": staged.filename,
    }


MAX_FILENAME = 255


def file_name(name: str | None) -> str | None:
    """What is kept of an uploaded file's name: its last path part (some browsers send a whole
    Windows path), without control characters, at most MAX_FILENAME characters; None if empty."""
    if not name:
        return None
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in last if c.isprintable()).strip()
    return clean[:MAX_FILENAME] or None


def _staged(row: sa.Row[Any]) -> StagedFeed:
    return StagedFeed(**{c.name: getattr(row, c.name) for c in _FACTS})


def _now() -> datetime:
    return datetime.now(UTC)
