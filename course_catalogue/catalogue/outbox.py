"""The index outbox: every committed change the search index has not received yet.

Why: the index is updated after the store commits, by another system; a process that dies in
between used to leave search stale for good (a re-harvest then finds every record "unchanged").
Now each change that allocates a seq (`changes` row: a course added, updated or withdrawn, an
eligibility flip) also writes an entry here IN THE SAME TRANSACTION (`enqueue_span`), so a
committed change always has either its entry or its index update. Delivery
(`search.sync.drain_outbox`) reads pending entries after the commit, updates the index from what
the store holds then, and deletes the entries it covered (`Outbox.done`). Whoever runs next
delivers what a dead process left: every harvest after its commit, each web process when it
starts and periodically, the worker's beat, `catalogue repair`.

Entries are keyed by the change's seq; `course_id` says which document to rebuild and `kind`
whether its eligibility must be re-evaluated first (a course change) and whether it is a
withdrawal (delivered first, see `search.sync`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.schema import changes, courses, index_outbox
from course_catalogue.catalogue.store_rows import RecordRow, select_record_rows

if TYPE_CHECKING:  # the store's writers import enqueue_span from here
    from course_catalogue.catalogue.store import CatalogueStore

WITHDRAWN = "withdrawn"
ELIGIBILITY = "eligibility"
"""`changes.kind` of an eligibility flip: the course itself did not change."""


def enqueue_span(conn: Connection, first: int, last: int) -> None:
    """Add an entry for every `changes` row with a seq in [first, last], inside the caller's
    transaction (which allocated those seqs: seq-allocating transactions are serialised, so no
    other transaction's rows fall in the range). One INSERT ... SELECT, whatever the count."""
    now = sa.literal(_now(), index_outbox.c.created_at.type)
    rows = sa.select(changes.c.seq, changes.c.course_id, changes.c.kind, now)
    rows = rows.where(changes.c.seq >= first, changes.c.seq <= last)
    conn.execute(index_outbox.insert().from_select(["seq", "course_id", "kind", "created_at"], rows))


@dataclass(frozen=True)
class Pending:
    """A course with undelivered entries at or below a head seq."""

    course_id: str
    refresh: bool  # some entry is a change of the course itself: re-evaluate its eligibility first


@dataclass(frozen=True)
class OutboxStats:
    entries: int
    courses: int
    oldest: datetime | None  # when the oldest pending entry was written


class Outbox:
    """Reading and retiring pending entries (the store side of `search.sync.drain_outbox`)."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    def head(self) -> int | None:
        """The newest pending seq; None when nothing is pending."""
        with self._store.reading() as conn:
            found = conn.execute(sa.select(sa.func.max(index_outbox.c.seq))).scalar()
        return None if found is None else int(found)

    def pending(self, head: int, *, withdrawals: bool, after: str | None, limit: int) -> list[Pending]:
        """Courses with entries at or below `head`, in course id order after `after`: those with a
        withdrawal among them (`withdrawals`), or the others."""
        is_withdrawal = sa.case((index_outbox.c.kind == WITHDRAWN, 1), else_=0)
        is_course_change = sa.case((index_outbox.c.kind == ELIGIBILITY, 0), else_=1)
        query = (
            sa.select(index_outbox.c.course_id, sa.func.max(is_course_change))
            .where(index_outbox.c.seq <= head)
            .group_by(index_outbox.c.course_id)
            .having((sa.func.max(is_withdrawal) == 1) if withdrawals else (sa.func.max(is_withdrawal) == 0))
            .order_by(index_outbox.c.course_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(index_outbox.c.course_id > after)
        with self._store.reading() as conn:
            return [Pending(course_id, bool(refresh)) for course_id, refresh in conn.execute(query)]

    def records(self, ids: Sequence[str]) -> list[RecordRow]:
        """The stored courses among `ids` as `RecordRow`s (id order): what a document is built
        from without decoding a Course (search.sync)."""
        if not ids:
            return []
        with self._store.reading() as conn:
            return select_record_rows(conn, courses.c.id.in_(list(ids)))

    def done(self, head: int) -> int:
        """Retire every entry at or below `head` (all delivered); returns how many.

        Entries committed after the delivery read its courses have higher seqs (commit order is
        seq order), so they stay pending: nothing newer than what was delivered is retired."""
        with self._store.writing() as conn:
            result = conn.execute(index_outbox.delete().where(index_outbox.c.seq <= head))
        return int(result.rowcount or 0)

    def stats(self) -> OutboxStats:
        query = sa.select(
            sa.func.count(),
            sa.func.count(sa.distinct(index_outbox.c.course_id)),
            sa.func.min(index_outbox.c.created_at),
        )
        with self._store.reading() as conn:
            entries, ids, oldest = conn.execute(query).one()
        return OutboxStats(int(entries), int(ids), oldest)

    def withdrawn_among(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the store holds as withdrawn (one indexed read): how search drops hits
        the index still shows while their withdrawal is on its way (see search.sync.FreshResults)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        query = sa.select(courses.c.id).where(courses.c.id.in_(wanted), courses.c.status == WITHDRAWN)
        with self._store.reading() as conn:
            return set(conn.execute(query).scalars())


def _now() -> datetime:
    return datetime.now(UTC)
