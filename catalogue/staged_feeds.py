"""Staged feeds: pushed bytes kept between their dry run and the provider's confirmation.

Kept in the catalogue database (not on a local disk) so that whichever web process or host
receives the confirmation can read them. Each expires after a TTL; expired ones, and all but
the newest `MAX_PER_SOURCE` of a source, are deleted whenever a feed is staged.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalogue.errors import NotFound
from catalogue.schema import staged_feeds
from catalogue.sources import Source
from catalogue.store import CatalogueStore

MAX_PER_SOURCE = 5
"""Staged feeds kept per source: a provider re-pushing fixes does not pile up bytes."""


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

    def expired(self, now: datetime | None = None) -> bool:
        return (now or _now()) >= self.expires_at

    def matches(self, source: Source) -> bool:
        """Whether the source still has the format and mapping the dry run used."""
        return source.format == self.format and source.mapping == self.mapping


class StagedFeedStore:
    """Staged feeds of one catalogue database."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    def stage(
        self,
        source: Source,
        account_id: str,
        content: bytes,
        media_type: str,
        *,
        dry_run_id: int | None,
        ttl: timedelta,
    ) -> StagedFeed:
        """Keep `content` for a later confirmation; also purges expired and surplus ones."""
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
        )
        with self._store.writing() as conn:
            _purge(conn, now, source.id)
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

    def purge_expired(self) -> int:
        """Delete every expired staged feed; returns how many."""
        with self._store.writing() as conn:
            return _purge(conn, _now(), None)


_FACTS = [c for c in staged_feeds.c if c.name != "content"]


def _purge(conn: sa.Connection, now: datetime, source_id: str | None) -> int:
    """Delete expired staged feeds, and (for `source_id`) all but its newest MAX_PER_SOURCE - 1,
    making room for one more."""
    deleted = conn.execute(staged_feeds.delete().where(staged_feeds.c.expires_at <= now)).rowcount
    if source_id is not None:
        keep = (
            sa.select(staged_feeds.c.id)
            .where(staged_feeds.c.source_id == source_id)
            .order_by(staged_feeds.c.created_at.desc())
            .limit(MAX_PER_SOURCE - 1)
        )
        kept = list(conn.execute(keep).scalars())
        stmt = staged_feeds.delete().where(
            staged_feeds.c.source_id == source_id, staged_feeds.c.id.not_in(kept)
        )
        deleted += conn.execute(stmt).rowcount
    return int(deleted)


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
    }


def _staged(row: sa.Row[Any]) -> StagedFeed:
    return StagedFeed(**{c.name: getattr(row, c.name) for c in _FACTS})


def _now() -> datetime:
    return datetime.now(UTC)
