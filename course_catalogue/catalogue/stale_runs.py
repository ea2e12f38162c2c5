"""Runs left RUNNING by a harvest that died (worker killed, hard time limit): finding and failing them.

A harvest records its run RUNNING first and finishes it at the end; a process killed in between
leaves the row RUNNING for good. These functions let a periodic reaper close such runs as
FAILED. They only look at the clock: the caller must first make sure no live harvest owns the
run (services/jobs.py checks that the source's lock is free).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.schema import runs
from course_catalogue.catalogue.store import CatalogueStore

INTERRUPTED = "interrupted: the harvest stopped without finishing (worker killed or over its time limit)"


def stale_sources(store: CatalogueStore, started_before: datetime) -> list[str]:
    """Ids of the sources with a RUNNING run started before `started_before` (aware datetime)."""
    query = (
        sa.select(runs.c.source_id)
        .where(runs.c.status == RunStatus.RUNNING.value, runs.c.started_at < started_before)
        .distinct()
        .order_by(runs.c.source_id)
    )
    with store.reading() as conn:
        return list(conn.execute(query).scalars())


def stale_runs(store: CatalogueStore, started_before: datetime, *, source_id: str | None = None) -> list[int]:
    """Ids of the RUNNING runs started before `started_before` (of one source, or all),
    ascending: what `fail_stale_runs` would fail. Changes nothing."""
    where = [runs.c.status == RunStatus.RUNNING.value, runs.c.started_at < started_before]
    if source_id is not None:
        where.append(runs.c.source_id == source_id)
    with store.reading() as conn:
        return list(conn.execute(sa.select(runs.c.id).where(*where).order_by(runs.c.id)).scalars())


def fail_stale_runs(
    store: CatalogueStore, started_before: datetime, *, source_id: str | None = None, error: str = INTERRUPTED
) -> list[int]:
    """Mark RUNNING runs started before `started_before` (of one source, or all) FAILED with
    `error` and finished now; returns their ids, ascending. Their counts are left as they are."""
    where = [runs.c.status == RunStatus.RUNNING.value, runs.c.started_at < started_before]
    if source_id is not None:
        where.append(runs.c.source_id == source_id)
    values = {"status": RunStatus.FAILED.value, "error": error, "finished_at": datetime.now(UTC)}
    stmt = runs.update().where(*where).values(**values).returning(runs.c.id)
    with store.writing() as conn:
        return sorted(conn.execute(stmt).scalars())
