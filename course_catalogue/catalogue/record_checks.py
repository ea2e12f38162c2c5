"""Stored records that disagree with themselves: finding them, and marking them for a remap.

A course row holds its record (`codec.course_to_dict`) and the content hash of that record
(`codec.record_hash`). Every write goes through the harvest path, which computes both together,
so they only disagree when something else wrote the row: a restored or hand-edited database, a
migration gone wrong, a record written by a codec that has since changed. Such a row is a
problem twice: the record may not decode into a course (every reader of it fails), and the next
harvest compares the feed against a hash that does not describe what is stored, so it may call
the item unchanged and leave the wrong record in place.

`rehash` makes each given row's hash describe its stored record (a record that cannot be hashed
gets `UNREADABLE`, which no candidate's hash equals). A remap of the source (services.pipeline)
then sees the difference between the stored record and what the mapping makes of the stored raw
payload, and rewrites the record through the normal path: a change in the feed of changes, the
index updated by the outbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.codec import course_from_dict, record_hash
from course_catalogue.catalogue.schema import courses
from course_catalogue.catalogue.store import CatalogueStore

BATCH = 1000
UNREADABLE = "unreadable"
"""The hash `rehash` gives a record it cannot hash: never a real SHA-256 hex digest."""


def _rows(store: CatalogueStore, source_id: str) -> Iterator[Any]:
    """(id, content_hash, record) of the source's active courses in id order, in short reads."""
    after = ""
    while True:
        query = (
            sa.select(courses.c.id, courses.c.content_hash, courses.c.record)
            .where(
                courses.c.source_id == source_id,
                courses.c.status == CourseStatus.ACTIVE.value,
                courses.c.id > after,
            )
            .order_by(courses.c.id)
            .limit(BATCH)
        )
        with store.reading() as conn:
            page = list(conn.execute(query))
        yield from page
        if len(page) < BATCH:
            return
        after = page[-1].id


def stored_hash(record: Any) -> str:
    """The content hash of a stored record, or UNREADABLE when it is not a course's record."""
    try:
        course_from_dict(record)
        return record_hash(record)
    except Exception:  # any shape the codec cannot read: that is what is being looked for
        return UNREADABLE


class Inconsistent(NamedTuple):
    """A course whose stored record disagrees with its hash; `unreadable`: the record does not
    even decode into a course (nothing can read it: not the site, not the index)."""

    course_id: str
    unreadable: bool


def inconsistent_records(store: CatalogueStore, source_id: str) -> list[Inconsistent]:
    """The source's active courses whose stored record does not decode into a course, or whose
    stored content hash is not the hash of the stored record; in id order."""
    found = []
    for row in _rows(store, source_id):
        computed = stored_hash(row.record)
        if computed == UNREADABLE or computed != row.content_hash:  # unreadable: whatever its hash
            found.append(Inconsistent(row.id, computed == UNREADABLE))
    return found


def rehash(store: CatalogueStore, course_ids: Sequence[str]) -> int:
    """Set each course's content hash to the hash of its stored record (UNREADABLE when it has
    none), in one transaction; returns the rows changed. The record itself is not touched."""
    changed = 0
    with store.writing() as conn:
        for start in range(0, len(course_ids), BATCH):
            chunk = list(course_ids[start : start + BATCH])
            found = conn.execute(sa.select(courses.c.id, courses.c.record).where(courses.c.id.in_(chunk)))
            for course_id, record in list(found):
                result = conn.execute(
                    courses.update().where(courses.c.id == course_id).values(content_hash=stored_hash(record))
                )
                changed += result.rowcount
    return changed
