"""Evaluating an eligibility scheme against every course, as a job: staged, switched, resumable.

Creating a scheme or changing its rules means deciding every course again (354k courses took
minutes). Done inside an HTTP request that was slow, not atomic (a kill left half the courses
decided by the new rules) and held other writers up. A job instead:

* is submitted (`SchemeJobs.submit`: one short transaction; the API answers 202 with its URL) and
  run by a Celery worker, a web process's background thread, or inline (`run`: CLI and tests);
* evaluates the courses in id order, `BATCH` at a time, each batch in its own short transaction
  (`evaluate_batch`) that writes staged rows (`scheme_staging`) and the job's progress and
  resume point; between batches other writers go ahead;
* is invisible to readers until it is complete: then ONE transaction (`switch`) merges the staged
  rows into `course_eligibility` with set-based statements, gives every course whose feed-visible
  state changed a new seq (the scheme's changes feed) and an index outbox entry (the search
  index follows: catalogue/outbox.py), and makes the new definition the scheme's;
* resumes after a crash: a claim records its runner and a heartbeat (every batch); a job whose
  heartbeat is older than `stale_after` (or queued that long) can be claimed by anyone
  (`claimable`, `resume`), and continues after its resume point with its staged rows kept.

Courses that change while a job runs are kept right by the refresh that follows every course
change (`EligibilityStore.refresh_courses` also re-stages the rows of jobs in progress). A new
submission for the same scheme supersedes the job in progress (it stops at its next batch).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.eligibility import Scheme, rules_to_data
from course_catalogue.catalogue.eligibility_store import KIND, definition_data, definition_scheme, stage
from course_catalogue.catalogue.errors import Conflict, NotFound, StoreError
from course_catalogue.catalogue.outbox import enqueue_span
from course_catalogue.catalogue.schema import (
    UTCDateTime,
    changes,
    course_eligibility,
    courses,
    scheme_jobs,
    scheme_staging,
    schemes,
)
from course_catalogue.catalogue.store import CatalogueStore, stored_courses

logger = logging.getLogger(__name__)

BATCH = 500
"""Courses evaluated per transaction (a few hundred ms): other writers wait at most that long."""
STALE_AFTER = timedelta(seconds=120)
"""A running job whose heartbeat is older than this (or a queued job nobody took for this long)
is presumed abandoned and may be claimed by another runner."""
CLEANUP_BATCH = 5000


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a later submission for the scheme replaced it before it switched in


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True)
class SchemeJob:
    """One evaluation of a scheme definition. `definition`: name, description, owner, rules and
    accredited list as data (what becomes the scheme's when the job switches in)."""

    id: int
    scheme_id: str
    kind: str  # create | update
    status: JobStatus
    definition: dict[str, Any]
    requested_by: str | None
    total: int
    done: int
    resume_after: str | None
    attempts: int
    runner: str | None
    heartbeat_at: datetime | None
    changed: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class JobRun:
    """What one `run` did: whether it held the job, how many courses and batches it evaluated
    (a resumed run counts only its own), and the job as it left it."""

    job: SchemeJob
    claimed: bool
    evaluated: int = 0
    batches: int = 0


class SchemeJobs:
    """Scheme evaluation jobs of one catalogue database."""

    def __init__(self, store: CatalogueStore, *, stale_after: timedelta = STALE_AFTER) -> None:
        self._store = store
        self._stale_after = stale_after

    # --- submitting and reading ------------------------------------------------------------------

    def submit(self, scheme: Scheme, *, create: bool, requested_by: str | None = None) -> SchemeJob:
        """Queue the evaluation of `scheme`'s definition. `create`: insert the scheme (Conflict if
        its id is taken; it has no evaluation until the job switches in); else the scheme must
        exist (NotFound) and keeps its current definition and evaluation until then. A job of the
        scheme still in progress is superseded."""
        now = _now()
        definition = definition_data(scheme)
        with self._store.writing() as conn:
            if create:
                row = {
                    "id": scheme.id,
                    "created_at": now,
                    "updated_at": now,
                    "evaluated_at": None,
                    **definition,
                }
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                stmt = insert(schemes).values(**row).on_conflict_do_nothing()
                if conn.execute(stmt.returning(schemes.c.id)).first() is None:
                    raise Conflict(f"scheme {scheme.id!r} already exists")
            elif conn.execute(sa.select(schemes.c.id).where(schemes.c.id == scheme.id)).first() is None:
                raise NotFound(f"no scheme {scheme.id!r}")
            conn.execute(
                scheme_jobs.update()
                .where(scheme_jobs.c.scheme_id == scheme.id, scheme_jobs.c.status.in_(list(ACTIVE)))
                .values(status=JobStatus.SUPERSEDED.value, finished_at=now)
            )
            values = {
                "scheme_id": scheme.id,
                "kind": "create" if create else "update",
                "status": JobStatus.QUEUED.value,
                "definition": definition,
                "requested_by": requested_by,
                "total": 0,
                "done": 0,
                "attempts": 0,
                "created_at": now,
            }
            job_id = conn.execute(
                scheme_jobs.insert().values(**values).returning(scheme_jobs.c.id)
            ).scalar_one()
        return self.get(job_id)

    def get(self, job_id: int) -> SchemeJob:
        with self._store.reading() as conn:
            row = conn.execute(sa.select(scheme_jobs).where(scheme_jobs.c.id == job_id)).one_or_none()
        if row is None:
            raise NotFound(f"no scheme job {job_id}")
        return _job(row)

    def history(self, scheme_id: str, limit: int = 20) -> list[SchemeJob]:
        """The scheme's jobs, newest first."""
        query = (
            sa.select(scheme_jobs)
            .where(scheme_jobs.c.scheme_id == scheme_id)
            .order_by(scheme_jobs.c.id.desc())
            .limit(limit)
        )
        with self._store.reading() as conn:
            return [_job(row) for row in conn.execute(query)]

    def active(self, scheme_id: str) -> SchemeJob | None:
        """The scheme's job still to switch in, if any (there is at most one)."""
        return next((job for job in self.history(scheme_id, limit=1) if job.active), None)

    def claimable(self, now: datetime | None = None) -> list[int]:
        """Ids of the jobs nobody is running: queued for longer than `stale_after`, or running
        with a heartbeat older than that (their runner died)."""
        cutoff = (now or _now()) - self._stale_after
        query = (
            sa.select(scheme_jobs.c.id)
            .where(
                sa.or_(
                    sa.and_(
                        scheme_jobs.c.status == JobStatus.QUEUED.value, scheme_jobs.c.created_at < cutoff
                    ),
                    sa.and_(
                        scheme_jobs.c.status == JobStatus.RUNNING.value,
                        sa.or_(scheme_jobs.c.heartbeat_at.is_(None), scheme_jobs.c.heartbeat_at < cutoff),
                    ),
                )
            )
            .order_by(scheme_jobs.c.id)
        )
        with self._store.reading() as conn:
            return list(conn.execute(query).scalars())

    # --- running ---------------------------------------------------------------------------------

    def run(
        self,
        job_id: int,
        *,
        runner: str | None = None,
        batch: int = BATCH,
        on_batch: Callable[[SchemeJob], None] | None = None,
    ) -> JobRun:
        """Claim the job and run it to the end: batches, the switch, the staged rows' cleanup.

        Returns without doing anything (`claimed` False) when the job is finished or another live
        runner holds it; stops early when it is superseded or taken over meanwhile. A database
        error leaves the job RUNNING (a later runner resumes it once its heartbeat is stale); any
        other error marks it FAILED (the scheme keeps its current evaluation) and propagates.
        NotFound for an unknown job."""
        me = runner or runner_id()
        if self.claim(job_id, me) is None:
            return JobRun(self.get(job_id), claimed=False)
        evaluated = batches = 0
        try:
            while True:
                step = evaluate_batch(self._store, job_id, me, batch)
                if step is None:
                    return JobRun(self.get(job_id), True, evaluated, batches)  # superseded or taken over
                if step:
                    evaluated, batches = evaluated + step, batches + 1
                    if on_batch is not None:
                        on_batch(self.get(job_id))
                    continue
                switched = switch(self._store, job_id, me)
                if switched is None:
                    return JobRun(self.get(job_id), True, evaluated, batches)
                if switched:
                    break
                # courses were added after the last batch: evaluate them, then switch again
        except StoreError:
            raise
        except Exception as exc:
            self._fail(job_id, me, exc)
            raise
        self.cleanup()
        job = self.get(job_id)
        logger.info(
            "scheme %s: job %s switched in (%d courses, %d changed)",
            job.scheme_id,
            job.id,
            job.total,
            job.changed or 0,
        )
        return JobRun(job, True, evaluated, batches)

    def resume(self, *, runner: str | None = None) -> list[JobRun]:
        """Run every claimable job (see `claimable`) in turn; then clean up leftover staging."""
        done = [self.run(job_id, runner=runner) for job_id in self.claimable()]
        self.cleanup()
        return done

    def cleanup(self) -> int:
        """Delete the staged rows of finished jobs, in short transactions; returns how many."""
        finished = (
            sa.select(scheme_jobs.c.id)
            .where(scheme_jobs.c.status.not_in([s.value for s in ACTIVE]))
            .where(sa.exists().where(scheme_staging.c.job_id == scheme_jobs.c.id))
        )
        with self._store.reading() as conn:
            job_ids = list(conn.execute(finished).scalars())
        removed = 0
        for job_id in job_ids:
            while True:
                page = (
                    sa.select(scheme_staging.c.course_id)
                    .where(scheme_staging.c.job_id == job_id)
                    .order_by(scheme_staging.c.course_id)
                    .limit(CLEANUP_BATCH)
                )
                with self._store.writing() as conn:
                    stmt = scheme_staging.delete().where(
                        scheme_staging.c.job_id == job_id,
                        scheme_staging.c.course_id.in_(page.scalar_subquery()),
                    )
                    count = int(conn.execute(stmt).rowcount or 0)
                removed += count
                if count < CLEANUP_BATCH:
                    break
        return removed

    def claim(self, job_id: int, runner: str) -> SchemeJob | None:
        """Make `runner` the job's holder (RUNNING, a fresh heartbeat, one more attempt), unless
        it is finished or another runner with a fresh heartbeat holds it (then None). Returns the
        job as it was before. `run` claims; a caller that evaluates batch by batch itself
        (`evaluate_batch`, `switch`) claims first."""
        now = _now()
        with self._store.writing() as conn:
            row = _locked(conn, job_id)
            if row is None:
                raise NotFound(f"no scheme job {job_id}")
            job = _job(row)
            if not job.active:
                return None
            alive = job.heartbeat_at is not None and job.heartbeat_at >= now - self._stale_after
            if job.status is JobStatus.RUNNING and job.runner != runner and alive:
                return None
            values: dict[str, Any] = {
                "status": JobStatus.RUNNING.value,
                "runner": runner,
                "heartbeat_at": now,
                "attempts": job.attempts + 1,
            }
            if job.started_at is None:
                values["started_at"] = now
                values["total"] = conn.execute(sa.select(sa.func.count()).select_from(courses)).scalar_one()
            conn.execute(scheme_jobs.update().where(scheme_jobs.c.id == job_id).values(**values))
        if job.attempts:
            logger.warning(
                "scheme %s: job %s resumed after %s courses by %s", job.scheme_id, job_id, job.done, runner
            )
        return job

    def _fail(self, job_id: int, runner: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        logger.error("scheme job %s failed: %s", job_id, message)
        with self._store.writing() as conn:
            conn.execute(
                scheme_jobs.update()
                .where(scheme_jobs.c.id == job_id, scheme_jobs.c.runner == runner)
                .where(scheme_jobs.c.status == JobStatus.RUNNING.value)
                .values(status=JobStatus.FAILED.value, error=message, finished_at=_now())
            )


def evaluate_batch(store: CatalogueStore, job_id: int, runner: str, size: int = BATCH) -> int | None:
    """Evaluate the next `size` courses after the job's resume point and stage them, in one
    transaction that also moves the resume point and progress; returns how many (0: none left),
    or None when `runner` no longer holds the job (superseded, failed, or taken over)."""
    with store.sequencing() as conn:  # reads the courses under the seq lock: the latest versions
        row = _locked(conn, job_id)
        if row is None or row.status != JobStatus.RUNNING.value or row.runner != runner:
            return None
        where = [] if row.resume_after is None else [courses.c.id > row.resume_after]
        batch = stored_courses(conn, *where, order_by=courses.c.id, limit=size)
        if batch:
            stage(conn, [(job_id, definition_scheme(row.definition, row.scheme_id))], batch)
        last = batch[-1].id if batch else row.resume_after
        done = row.done + len(batch)
        # `total` was the course count at the claim; courses added since then past the resume
        # point are evaluated too, so the total grows with them (no count per batch: that was
        # quadratic in the catalogue's size).
        conn.execute(
            scheme_jobs.update()
            .where(scheme_jobs.c.id == job_id)
            .values(done=done, total=max(row.total, done), resume_after=last, heartbeat_at=_now())
        )
        return len(batch)


def switch(store: CatalogueStore, job_id: int, runner: str) -> bool | None:
    """Make a completely staged job the scheme's evaluation, in ONE transaction (readers see the
    old evaluation or the new one). Returns True when switched, False when courses were added
    after the job's last batch (evaluate them first), None when `runner` lost the job.

    Set-based: the courses whose feed-visible state changes (eligible flipped, or changed while
    eligible) get new `changes` seqs and index outbox entries; every staged row that differs
    from the live one replaces it; the job's definition becomes the scheme's."""
    now = _now()
    with store.sequencing() as conn:
        row = _locked(conn, job_id)
        if row is None or row.status != JobStatus.RUNNING.value or row.runner != runner:
            return None
        beyond = sa.select(courses.c.id).limit(1)
        if row.resume_after is not None:
            beyond = beyond.where(courses.c.id > row.resume_after)
        if conn.execute(beyond).first() is not None:
            return False
        changed = _merge(conn, job_id, row.scheme_id, now)
        definition = definition_scheme(row.definition, row.scheme_id)
        conn.execute(
            schemes.update()
            .where(schemes.c.id == row.scheme_id)
            .values(
                name=definition.name,
                description=definition.description,
                owner=definition.owner,
                rules=rules_to_data(definition.rules),
                accredited=list(definition.accredited),
                updated_at=now,
                evaluated_at=now,
            )
        )
        conn.execute(
            scheme_jobs.update()
            .where(scheme_jobs.c.id == job_id)
            .values(status=JobStatus.SUCCEEDED.value, changed=changed, finished_at=now, heartbeat_at=now)
        )
    return True


def _merge(conn: Connection, job_id: int, scheme_id: str, now: datetime) -> int:
    """Merge the job's staged rows into the live ones (see `switch`); returns how many courses'
    feed-visible state changed."""
    staged, live = scheme_staging, course_eligibility
    joined = staged.outerjoin(
        live, sa.and_(live.c.scheme_id == scheme_id, live.c.course_id == staged.c.course_id)
    )
    was_eligible = sa.func.coalesce(live.c.eligible, sa.false())
    visible = sa.or_(
        staged.c.eligible != was_eligible,
        sa.and_(staged.c.eligible, live.c.course_id.is_not(None), live.c.course_seq != staged.c.course_seq),
    )
    head = conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one()
    flips = (
        sa.select(staged.c.course_id, sa.literal(None, sa.Integer()), sa.literal(KIND))
        .select_from(joined)
        .where(staged.c.job_id == job_id, visible)
        .order_by(staged.c.course_id)
    )
    conn.execute(changes.insert().from_select(["course_id", "run_id", "kind"], flips))
    first, last, changed = conn.execute(
        sa.select(sa.func.min(changes.c.seq), sa.func.max(changes.c.seq), sa.func.count()).where(
            changes.c.seq > head
        )
    ).one()
    if changed:
        conn.execute(
            staged.update()
            .where(staged.c.job_id == job_id, staged.c.course_id == changes.c.course_id, changes.c.seq > head)
            .values(seq=changes.c.seq)
        )
        enqueue_span(conn, first, last)
    since = sa.case(
        (
            sa.or_(live.c.course_id.is_(None), live.c.eligible != staged.c.eligible),
            sa.literal(now, UTCDateTime()),
        ),
        else_=live.c.since,
    )
    differs = sa.or_(
        live.c.course_id.is_(None),
        staged.c.seq.is_not(None),
        live.c.eligible != staged.c.eligible,
        live.c.manual != staged.c.manual,
        live.c.course_seq != staged.c.course_seq,
        sa.cast(live.c.reasons, sa.Text()) != sa.cast(staged.c.reasons, sa.Text()),
    )
    rows = (
        sa.select(
            sa.literal(scheme_id, sa.String()),
            staged.c.course_id,
            staged.c.eligible,
            since,
            staged.c.reasons,
            staged.c.manual,
            sa.func.coalesce(staged.c.seq, live.c.seq),
            staged.c.course_seq,
            staged.c.evaluated_at,
        )
        .select_from(joined)
        .where(staged.c.job_id == job_id, differs)
    )
    names = [
        "scheme_id",
        "course_id",
        "eligible",
        "since",
        "reasons",
        "manual",
        "seq",
        "course_seq",
        "evaluated_at",
    ]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(live).from_select(names, rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scheme_id", "course_id"], set_={name: stmt.excluded[name] for name in names[2:]}
    )
    conn.execute(stmt)
    return int(changed)


def _locked(conn: Connection, job_id: int) -> sa.Row[Any] | None:
    """The job's row, locked for the transaction (FOR UPDATE on PostgreSQL; SQLite's write
    transaction holds the database lock anyway)."""
    query = sa.select(scheme_jobs).where(scheme_jobs.c.id == job_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def _job(row: sa.Row[Any]) -> SchemeJob:
    return SchemeJob(
        id=row.id,
        scheme_id=row.scheme_id,
        kind=row.kind,
        status=JobStatus(row.status),
        definition=dict(row.definition),
        requested_by=row.requested_by,
        total=row.total,
        done=row.done,
        resume_after=row.resume_after,
        attempts=row.attempts,
        runner=row.runner,
        heartbeat_at=row.heartbeat_at,
        changed=row.changed,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def runner_id() -> str:
    """Who runs a job, for the record and the claim: host, process and a per-run nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)
