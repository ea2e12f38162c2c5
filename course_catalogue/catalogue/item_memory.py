"""What the last successful run made of each feed item, so a re-harvest skips the unchanged ones.

An item's *digest* keys its raw bytes (with its media type and reader-given id) by a *run key*:
a hash of everything else mapping and validation depend on (the mapping spec's file, the
source's parameters and registered provider, its publishing policy, the code's version; see
`services.recall`). Two items with one digest therefore map to the same course with the same
issues, up to their position in the feed (the pointer) and the run's time, which the store's
content hash already leaves out.

For each stored course the `item_fingerprints` table keeps the digest of the item it last came
from, the content hash it had and what mapping that item reported (`item_reports`: its issues and
the source paths it had, shared by the items that reported the same). It is written in the harvest
transaction (`remember`), so it describes the last run that committed, never a run that failed or
a dry run. `Recaller.recall` finds, for the digests of the items a run is reading, the courses
that may carry forward: only those still ACTIVE with the same content hash (a course withdrawn,
remapped or edited since is mapped again). A carried item reaches the harvest session as a
`Carried` record, which the session counts UNCHANGED after checking, in its transaction, the
courses changed since the recall began (`Recaller.watermark`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import Candidate, CourseStatus
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.schema import changes, courses, item_fingerprints, item_reports
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


class ItemReport(NamedTuple):
    """What mapping an item reported, without its place: its issues (`issue_rows` form, with
    each one's (severity, code, field) kind) and the source paths it had values at."""

    issues: tuple[tuple[Any, ...], ...]
    paths: tuple[str, ...]

    @property
    def digest(self) -> str:
        return report_digest(self.issues, self.paths)


class Recalled(NamedTuple):
    """What the last successful run made of an item with the same digest."""

    course_id: str
    provider_ref: str
    content_hash: str
    report: ItemReport


def report_digest(issues: Sequence[Sequence[Any]], paths: Sequence[str]) -> str:
    return hashlib.blake2b(orjson.dumps([issues, paths]), digest_size=16).hexdigest()


def issue_rows(issues: Sequence[Issue], ref: str | None, pointer: str | None) -> tuple[tuple[Any, ...], ...]:
    """`issues` of one record in their stored form (compact; the record's own ref and pointer
    are not repeated)."""
    return tuple(
        (
            issue.severity,  # a StrEnum: stored as its value
            issue.code,
            issue.message,
            issue.field,
            issue.value,
            _SAME if issue.record_ref == ref else issue.record_ref,
            _SAME if issue.pointer == pointer else issue.pointer,
        )
        for issue in issues
    )


def issue_from_row(row: Sequence[Any], ref: str | None, pointer: str | None) -> Issue:
    """A stored issue of a record now found with `ref` at `pointer`."""
    severity, code, message, field, value, record_ref, at = row
    return Issue(
        Severity(severity),
        message,
        field=field,
        record_ref=ref if record_ref == _SAME else record_ref,
        pointer=pointer if at == _SAME else at,
        code=code,
        value=value,
    )


REPORTS = 10_000
"""Decoded item reports a run keeps at once (most recently used)."""


class Recaller:
    """Recalls for one run of one source: the item reports met are decoded once per run."""

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        # The newest change seq before the first recall: the recalled courses are as they were
        # then, unless their seq is past it (`HarvestSession` checks those)
        self.watermark: int | None = None
        # digest -> decoded report, the most recently used REPORTS: a feed whose issues quote
        # each record's values has as many reports as records
        self._reports: OrderedDict[str, ItemReport] = OrderedDict()

    def recall(self, conn: Connection, digests: Collection[str]) -> dict[str, Recalled]:
        """digest -> what the source's last successful runs made of an item with it, for the
        digests whose course is still active with the content hash it had then."""
        if self.watermark is None:  # first, so no change the recall sees can be past it
            self.watermark = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))
            ).scalar_one()
        f = item_fingerprints
        rows: list[tuple[str, str, str, str, str]] = []
        for chunk in chunks(list(digests), CHUNK):
            query = (
                sa.select(f.c.digest, f.c.course_id, courses.c.provider_ref, f.c.content_hash, f.c.report)
                .select_from(f.join(courses, courses.c.id == f.c.course_id))
                .where(
                    f.c.source_id == self.source_id,
                    f.c.digest.in_(chunk),
                    courses.c.status == CourseStatus.ACTIVE.value,
                    courses.c.content_hash == f.c.content_hash,
                )
            )
            rows.extend((d, c, r, h, rep) for d, c, r, h, rep in conn.execute(query))
        reports = self._reports
        wanted = {row[4] for row in rows}
        for digest in wanted & reports.keys():
            reports.move_to_end(digest)
        missing = sorted(wanted - reports.keys())
        found: dict[str, ItemReport] = {digest: reports[digest] for digest in wanted if digest in reports}
        for chunk in chunks(missing, CHUNK):
            query = sa.select(item_reports.c.digest, item_reports.c.issues, item_reports.c.paths).where(
                item_reports.c.digest.in_(chunk)
            )
            for row in conn.execute(query):
                issues: list[list[Any]] = row.issues
                kinds = tuple((Severity(i[0]), *i[1:]) for i in issues)  # Severity: kinds ready for notes
                found[row.digest] = reports[row.digest] = ItemReport(kinds, tuple(row.paths))
        while len(reports) > REPORTS:
            reports.popitem(last=False)
        return {
            digest: Recalled(course_id, ref, content_hash, found[report])
            for digest, course_id, ref, content_hash, report in rows
            if report in found
        }


def remember(conn: Connection, source_id: str, candidates: Sequence[Candidate]) -> None:
    """Insert or replace the fingerprints of stored candidates (those that have one)."""
    rows = []
    reports: dict[str, ItemReport] = {}
    for c in candidates:
        if c.digest is None or c.report is None:
            continue
        digest = c.report.digest
        reports[digest] = c.report
        rows.append(
            {
                "course_id": c.course_id,
                "source_id": source_id,
                "digest": c.digest,
                "content_hash": c.content_hash,
                "report": digest,
            }
        )
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    known = sa.select(item_reports.c.digest).where(item_reports.c.digest.in_(sorted(reports)))
    new = sorted(reports.keys() - set(conn.execute(known).scalars()))
    if new:
        values = [{"digest": d, "issues": reports[d].issues, "paths": reports[d].paths} for d in new]
        conn.execute(insert(item_reports).on_conflict_do_nothing(), values)
    stmt = insert(item_fingerprints)
    stmt = stmt.on_conflict_do_update(
        index_elements=[item_fingerprints.c.course_id],
        set_={name: stmt.excluded[name] for name in ("source_id", "digest", "content_hash", "report")},
    )
    conn.execute(stmt, rows)
