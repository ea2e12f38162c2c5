"""The feed each source's last fully applied harvest read, as a whole, so a byte-identical
re-harvest is recognised before it is parsed (`services.feed_skip` decides the key and what a
recognised run reports).

One `feed_fingerprints` row per source: the run that wrote it, its *key* (the feed's bytes with
everything else that decides the run's outcome, see `services.feed_skip.feed_key`) and the
*state* of the source's courses as that run committed them (`source_state`). It is written in
the run's own harvest transaction (`remember`), after its writes, so it exists only if the run
committed; a run that held withdrawals (or any harvest that commits without a key) removes it
(`forget`) in the same way.

`recognised` then says whether a new run of the same key may carry that run forward: only when
* the key is the same;
* that run is recorded SUCCEEDED (not a dry run: those write nothing; not HELD, FAILED or still
  RUNNING, as a run killed between its commit and its report stays until failed as stale);
* no later run of the source committed anything (a remap, a retirement, a HELD run: SUCCEEDED or
  HELD and not dry), whatever it changed;
* the source's courses are exactly as that run left them: the state digest covers each course's
  id, status, content hash and change seq, so a confirmed withdrawal, a remap, a repair's rehash
  or a hand edit of status or content hash since then all fall back to reading the feed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.schema import courses, feed_fingerprints, runs

_COMMITTED = (RunStatus.SUCCEEDED.value, RunStatus.HELD.value)
"""Statuses of runs that committed changes (a dry run of either status committed nothing)."""


class FeedRecord(NamedTuple):
    """The feed a source's last fully applied harvest read."""

    run_id: int
    key: str
    state: str


def source_state(conn: Connection, source_id: str) -> str:
    """A digest of the source's courses: each one's id, status, content hash and change seq."""
    digest = hashlib.blake2b(digest_size=32)
    query = (
        sa.select(courses.c.id, courses.c.status, courses.c.content_hash, courses.c.seq)
        .where(courses.c.source_id == source_id)
        .order_by(courses.c.id)
    )
    for course_id, status, content_hash, seq in conn.execute(query):
        digest.update(f"{course_id}\x00{status}\x00{content_hash}\x00{seq}\n".encode())
    return digest.hexdigest()


def remember(conn: Connection, source_id: str, run_id: int, key: str, now: datetime) -> None:
    """Record (replace) the source's feed, inside the run's transaction, after its writes."""
    values = {
        "source_id": source_id,
        "run_id": run_id,
        "key": key,
        "state": source_state(conn, source_id),
        "recorded_at": now,
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(feed_fingerprints).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[feed_fingerprints.c.source_id],
        set_={name: stmt.excluded[name] for name in ("run_id", "key", "state", "recorded_at")},
    )
    conn.execute(stmt)


def carried(conn: Connection, source_id: str, from_run: int, to_run: int) -> None:
    """A run repeated run `from_run` without writing anything (`services.feed_skip`): the record
    names it from now on, so it is the source's last applied run (and a later failure of its
    report, a process killed before it, leaves nothing recognised)."""
    conn.execute(
        feed_fingerprints.update()
        .where(feed_fingerprints.c.source_id == source_id, feed_fingerprints.c.run_id == from_run)
        .values(run_id=to_run)
    )


def forget(conn: Connection, source_id: str) -> None:
    """Drop the source's feed record: a run committed that cannot be carried forward."""
    conn.execute(feed_fingerprints.delete().where(feed_fingerprints.c.source_id == source_id))


def recorded(conn: Connection, source_id: str) -> FeedRecord | None:
    row = conn.execute(
        sa.select(feed_fingerprints.c.run_id, feed_fingerprints.c.key, feed_fingerprints.c.state).where(
            feed_fingerprints.c.source_id == source_id
        )
    ).one_or_none()
    return None if row is None else FeedRecord(row.run_id, row.key, row.state)


def recognised(conn: Connection, source_id: str, key: str) -> int | None:
    """The id of the run whose outcome a run of `key` would repeat exactly, or None (see the
    module docstring for the conditions)."""
    record = recorded(conn, source_id)
    if record is None or record.key != key:
        return None
    row = conn.execute(
        sa.select(runs.c.status, runs.c.dry_run).where(runs.c.id == record.run_id)
    ).one_or_none()
    if row is None or row.dry_run or row.status != RunStatus.SUCCEEDED.value:
        return None
    later = conn.execute(
        sa.select(runs.c.id)
        .where(
            runs.c.source_id == source_id,
            runs.c.id > record.run_id,
            runs.c.dry_run.is_(False),
            runs.c.status.in_(_COMMITTED),
        )
        .limit(1)
    ).first()
    if later is not None:
        return None
    if source_state(conn, source_id) != record.state:
        return None
    return record.run_id
