"""Row <-> value conversions and small queries shared by the catalogue store modules.

Pure functions of a connection or a row: `catalogue.store` (the CatalogueStore facade) and
`catalogue.harvest_apply` (a harvest's writes) both build on them, so neither imports the other's
internals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_from_dict
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.model import Provenance
from course_catalogue.catalogue.runs import (
    Coverage,
    Issue,
    IssueKind,
    Outcome,
    RunReport,
    RunStatus,
    Severity,
)
from course_catalogue.catalogue.schema import courses, sources
from course_catalogue.catalogue.sources import Source

CHUNK = 2000
"""Rows per executemany: large enough to amortise round trips, small enough to bound memory."""

_T = TypeVar("_T")

_STORED_COLUMNS = (
    courses.c.record,
    courses.c.status,
    courses.c.content_hash,
    courses.c.seq,
    courses.c.first_seen,
    courses.c.updated_at,
    courses.c.last_run_id,
    courses.c.withdrawn_at,
)


def select_rows(
    conn: Connection, *where: Any, order_by: Any = None, limit: int | None = None
) -> list[tuple[str, StoredCourse]]:
    """(row id, stored course) pairs; pagination keys on the row id, never on record content."""
    query = sa.select(courses.c.id, *_STORED_COLUMNS).where(*where).order_by(order_by).limit(limit)
    return [
        (
            row.id,
            StoredCourse(
                course=course_from_dict(row.record),
                status=CourseStatus(row.status),
                content_hash=row.content_hash,
                seq=row.seq,
                first_seen=row.first_seen,
                updated_at=row.updated_at,
                last_run_id=row.last_run_id,
                withdrawn_at=row.withdrawn_at,
            ),
        )
        for row in conn.execute(query).all()
    ]


class RecordRow(NamedTuple):
    """A course as a bulk reader (the full reindex) reads it: its status, its seq and the JSON
    text of its record (`catalogue.codec.course_to_dict`), without a Course or timestamps.

    The record stays text until the reader decodes it (`json.loads`), one row at a time: a page of
    rows then holds strings only, so the cyclic garbage collector has no containers to track and
    promote (decoding a whole page up front cost ~25 us more per course, mostly in full
    collections over the page's surviving containers).
    """

    id: str
    status: CourseStatus
    seq: int
    record_json: str


def select_provenance_rows(
    conn: Connection, *where: Any, limit: int | None = None
) -> list[tuple[str, Provenance]]:
    """(course id, provenance) in id order: the source and provider reference from their columns,
    run, harvest time and pointer from the record's provenance when it has a readable one (a
    record that does not decode still yields its id and reference: a remap needs no more)."""
    query = sa.select(courses.c.id, courses.c.source_id, courses.c.provider_ref, courses.c.record)
    found = []
    for row in conn.execute(query.where(*where).order_by(courses.c.id).limit(limit)).all():
        stored = row.record.get("provenance") if isinstance(row.record, dict) else None
        run_id = harvested_at = pointer = None
        if isinstance(stored, dict):
            try:
                run_id, pointer = stored.get("run_id"), stored.get("pointer")
                when = stored.get("harvested_at")
                harvested_at = datetime.fromisoformat(when) if isinstance(when, str) and when else None
            except ValueError:  # an unreadable time: the remap keeps none
                harvested_at = None
        provenance = Provenance(row.source_id, row.provider_ref, run_id, harvested_at, pointer)
        found.append((row.id, provenance))
    return found


def select_record_rows(conn: Connection, *where: Any, limit: int | None = None) -> list[RecordRow]:
    """`RecordRow`s in id order. The record is cast to text in SQL, so neither SQLAlchemy's JSON
    type nor the driver decodes it (PostgreSQL renders its JSONB as JSON text, in the key order
    the driver's own decoding would give)."""
    record = sa.cast(courses.c.record, sa.Text)
    query = sa.select(courses.c.id, courses.c.status, courses.c.seq, record)
    statuses = {status.value: status for status in CourseStatus}
    rows = conn.execute(query.where(*where).order_by(courses.c.id).limit(limit)).all()  # one fetchall
    return [RecordRow(row_id, statuses[status], seq, text) for row_id, status, seq, text in rows]


def stored_courses(
    conn: Connection, *where: Any, order_by: Any = None, limit: int | None = None
) -> list[StoredCourse]:
    """Courses matching `where`, read on the caller's connection (for stores of other tables that
    join their rows to courses inside their own transaction)."""
    return [stored for _, stored in select_rows(conn, *where, order_by=order_by, limit=limit)]


def course_filter(source_id: str | None, include_withdrawn: bool) -> list[Any]:
    conditions: list[Any] = []
    if source_id is not None:
        conditions.append(courses.c.source_id == source_id)
    if not include_withdrawn:
        conditions.append(courses.c.status == CourseStatus.ACTIVE.value)
    return conditions


def require_source(conn: Connection, source_id: str) -> None:
    if conn.execute(sa.select(sources.c.id).where(sources.c.id == source_id)).first() is None:
        raise NotFound(f"no source {source_id!r}")


def source_from_row(row: sa.Row[Any]) -> Source:
    return Source(
        id=row.id,
        format=row.format,
        name=row.name,
        url=row.url,
        mapping=row.mapping,
        schedule_minutes=row.schedule_minutes,
        owner=row.owner,
        settings=MappingProxyType(dict(row.settings or {})),
    )


def report_from_row(row: sa.Row[Any], issues: list[Issue]) -> RunReport:
    """The run's report with `issues` (all it kept, or none for a listing): its exact totals
    are the stored ones whatever `issues` holds (runs from before totals were kept: the issues)."""
    report = RunReport(
        source_id=row.source_id,
        run_id=row.id,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=Counter({Outcome(key): n for key, n in (row.counts or {}).items()}),
        issues=issues,
        error=row.error,
        dry_run=row.dry_run,
        coverage=Coverage.from_dict(row.coverage) if row.coverage else None,
    )
    if row.issue_totals is not None:
        totals: Counter[IssueKind] = Counter()
        for severity, code, field, n in row.issue_totals:
            totals[Severity(severity), code, field] += int(n)
        totals.subtract(report.totals())  # what the listed issues already count
        report.dropped = Counter({kind: n for kind, n in totals.items() if n > 0})
    return report


def totals_json(totals: Counter[IssueKind]) -> list[list[Any]]:
    return [[s.value, code, field, n] for (s, code, field), n in sorted(totals.items(), key=_kind_order) if n]


def _kind_order(item: tuple[IssueKind, int]) -> tuple[str, str, str]:
    (severity, code, field), _ = item
    return (severity.value, code, field or "")


def counts_json(counts: Counter[Outcome]) -> dict[str, int]:
    return {Outcome(outcome).value: n for outcome, n in counts.items() if n}


def issue_row(run_id: int, issue: Issue) -> dict[str, Any]:
    return {"run_id": run_id, **issue.to_dict()}


def issue_from_row(row: sa.Row[Any]) -> Issue:
    return Issue(
        severity=Severity(row.severity),
        message=row.message,
        field=row.field,
        record_ref=row.record_ref,
        pointer=row.pointer,
        code=row.code,
        value=row.value,
    )


def now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
