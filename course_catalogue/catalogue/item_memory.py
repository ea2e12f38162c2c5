"""What the last successful run made of each feed item, so a re-harvest skips the unchanged ones.

An item's *digest* keys its raw bytes (with its media type and reader-given id) by a *run key*:
a hash of everything else mapping and validation depend on (the mapping spec's file, the
source's parameters and registered provider, its publishing policy, the code's version; see
`harvesters.recall`). Two items with one digest therefore map to the same course with the same
issues, up to their position in the feed (the pointer) and the run's time, which the store's
content hash already leaves out.

For each stored course the `item_fingerprints` table keeps the digest of the item it last came
from, the content hash it had and that item's issues. It is written in the harvest transaction
(`remember`), so it describes the last run that committed, never a run that failed or a dry run.
`recall` finds, for the digests of the items a run is reading, the courses that may carry
forward: only those still ACTIVE with the same content hash (a course withdrawn, remapped or
edited since is mapped again). A carried item reaches the harvest session as a `Carried`
record, which the session counts UNCHANGED after checking the store again in its transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import Candidate, CourseStatus
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.schema import courses, item_fingerprints
from course_catalogue.catalogue.store_rows import CHUNK, chunks

_SAME = 0
"""Stored in place of an issue's record_ref or pointer equal to the record's own (the pointer
changes when the item moves in the feed; the issue must then name the new place)."""


@dataclass(frozen=True, slots=True)
class Carried:
    """An item whose stored course carries forward unchanged: what the harvest session needs of it."""

    course_id: str
    source_id: str
    provider_ref: str
    content_hash: str


class Recalled(NamedTuple):
    """What the last successful run made of an item with the same digest."""

    course_id: str
    provider_ref: str
    content_hash: str
    issues: list[Any]  # `issue_rows` form; `issues_from_rows` rebuilds them for the current place


def issue_rows(issues: Sequence[Issue], ref: str | None, pointer: str | None) -> list[list[Any]]:
    """`issues` of one record in their stored form (compact lists; the record's own ref and
    pointer are not repeated)."""
    return [
        [
            issue.severity.value,
            issue.code,
            issue.message,
            issue.field,
            issue.value,
            _SAME if issue.record_ref == ref else issue.record_ref,
            _SAME if issue.pointer == pointer else issue.pointer,
        ]
        for issue in issues
    ]


def issues_from_rows(rows: Sequence[Any], ref: str, pointer: str | None) -> list[Issue]:
    """The stored issues of a record now found with `ref` at `pointer`."""
    return [
        Issue(
            Severity(severity),
            message,
            field=field,
            record_ref=ref if record_ref == _SAME else record_ref,
            pointer=pointer if at == _SAME else at,
            code=code,
            value=value,
        )
        for severity, code, message, field, value, record_ref, at in rows
    ]


def recall(conn: Connection, source_id: str, digests: Collection[str]) -> dict[str, Recalled]:
    """digest -> what the source's last successful runs made of an item with it, for the
    digests whose course is still active with the content hash it had then."""
    found: dict[str, Recalled] = {}
    f = item_fingerprints
    for chunk in chunks(list(digests), CHUNK):
        query = (
            sa.select(f.c.digest, f.c.course_id, courses.c.provider_ref, f.c.content_hash, f.c.issues)
            .select_from(f.join(courses, courses.c.id == f.c.course_id))
            .where(
                f.c.source_id == source_id,
                f.c.digest.in_(chunk),
                courses.c.status == CourseStatus.ACTIVE.value,
                courses.c.content_hash == f.c.content_hash,
            )
        )
        for digest, course_id, ref, content_hash, issues in conn.execute(query):
            found[digest] = Recalled(course_id, ref, content_hash, issues)
    return found


def remember(conn: Connection, source_id: str, candidates: Sequence[Candidate]) -> None:
    """Insert or replace the fingerprints of stored candidates (those that have one)."""
    rows = [
        {
            "course_id": c.course_id,
            "source_id": source_id,
            "digest": c.digest,
            "content_hash": c.content_hash,
            "issues": c.issues or [],
        }
        for c in candidates
        if c.digest is not None
    ]
    if not rows:
        return
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(item_fingerprints)
    stmt = stmt.on_conflict_do_update(
        index_elements=[item_fingerprints.c.course_id],
        set_={name: stmt.excluded[name] for name in ("source_id", "digest", "content_hash", "issues")},
    )
    conn.execute(stmt, rows)
