"""The catalogue store: sources, runs, courses, raw payloads and the changes feed (SQLAlchemy Core).

SQLite file by default, PostgreSQL by URL (`catalogue.engine`); tables in `catalogue.schema`,
migrations in catalogue/migrations. Driver errors surface as `StoreError`, unknown ids as
`NotFound`. A harvest's planning lives in `catalogue.harvest_apply` (`harvesting()` runs it in one
transaction), its bulk writes in `catalogue.course_writes`, row conversions in `catalogue.store_rows`.

Ordering of `seq` (the changes-feed cursor): seqs come from the auto-increment key of the
`changes` table, and every transaction that allocates seqs (harvesting, confirm_withdrawals,
migrate) is serialised so that commit order equals seq order; otherwise a reader of
`changes_since(cursor)` could move its cursor past a seq that commits later and miss it for good.
On PostgreSQL two transactions could commit their seqs out of order, so they take a
transaction-scoped advisory lock (`pg_advisory_xact_lock`) first, keyed by the schema: catalogues
that share a database in different schemas (test and benchmark schemas too) have their own seqs
and do not wait for each other; on SQLite writers are serialised anyway. Every SQLite write
transaction starts with BEGIN IMMEDIATE: the harvest plan is then
computed under the write lock, and a deferred BEGIN that reads first would fail with "database is
locked" (not wait) when it tries to upgrade to writing while another writer holds the lock.
A harvest's transaction (`harvesting`) lasts as long as its caller feeds it: the pipeline reads and
maps the whole feed into a spool first (`services.spool`), so other writers wait only for the
writes (on SQLite up to the 30 s busy timeout, then StoreError).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import CourseStatus, HarvestDiff, StoredCourse
from course_catalogue.catalogue.course_writes import insert_many, withdraw
from course_catalogue.catalogue.engine import WRITER, open_engine
from course_catalogue.catalogue.errors import Conflict, NotFound, StoreError
from course_catalogue.catalogue.harvest_apply import GUARD_COUNT, GUARD_SHARE, HarvestSession
from course_catalogue.catalogue.model import Provenance
from course_catalogue.catalogue.runs import Issue, Outcome, RunReport, RunStatus
from course_catalogue.catalogue.schema import courses, raw_items, run_issues, runs, sources
from course_catalogue.catalogue.sources import FetchState, Source
from course_catalogue.catalogue.store_rows import (
    CHUNK,
    RecordRow,
    chunks,
    counts_json,
    course_filter,
    issue_from_row,
    issue_row,
    report_from_row,
    require_source,
    select_provenance_rows,
    select_record_rows,
    select_rows,
    source_from_row,
    stored_courses,
    totals_json,
)
from course_catalogue.catalogue.store_rows import now as _now

__all__ = [
    "CHUNK",
    "GUARD_COUNT",
    "GUARD_SHARE",
    "CatalogueStore",
    "RecordRow",
    "open_engine",
    "stored_courses",
]

# The seq lock: a two-int advisory key, this class and a hash of the schema name (one key per
# catalogue; the two-int key space is apart from the one-bigint keys of services.locks)
_SEQ_LOCK_CLASS = 0x63617461  # "cata"
_ERROR_CHARS = 300  # of a driver's first message line in a StoreError

logger = logging.getLogger(__name__)


def printable(text: str | None) -> str | None:
    """`text` with NUL characters and lone surrogates written as escapes (`\\x00`, `\\ud800`):
    report text no backend refuses. Any other text is returned as it is."""
    if text is None or (text.isascii() and "\x00" not in text):
        return text
    text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def printable_json(value: Any) -> Any:
    """`value` (JSON data: the coverage report quotes published values and column names) with
    `printable` applied to every string and key."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k) if isinstance(k, str) else k: printable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_json(v) for v in value]
    return value


def _printable_issue(issue: Issue) -> Issue:
    texts = (issue.message, issue.field, issue.record_ref, issue.pointer, issue.code, issue.value)
    for text in texts:
        if text is not None and not (text.isascii() and "\x00" not in text):
            break
    else:
        return issue  # the common case, without a copy of any text
    cleaned = [printable(t) for t in texts]
    if all(a is b for a, b in zip(texts, cleaned, strict=True)):
        return issue
    message, field, record_ref, pointer, code, value = cleaned
    return replace(
        issue,
        message=message or "",
        field=field,
        record_ref=record_ref,
        pointer=pointer,
        code=code or "invalid",
        value=value,
    )


Row = TypeVar("Row", bound=tuple[Any, ...])  # a row whose first item is its course id


class CatalogueStore:
    """The catalogue database. Thread-safe (one engine, pooled connections); call `close()` at exit."""

    def __init__(self, url: str) -> None:
        self._engine = open_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe to race)."""
        config = Config()
        config.set_main_option("script_location", "course_catalogue.catalogue:migrations")
        with self._guard(), self._write(serialise=True) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    # --- hooks for stores of other tables in the same database (accounts, staged feeds) ------

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads; driver errors surface as StoreError."""
        with self._guard(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on exit; driver errors
        surface as StoreError. It allocates no seqs, so it takes no seq lock."""
        with self._guard(), self._write() as conn:
            yield conn

    @contextmanager
    def sequencing(self) -> Iterator[Connection]:
        """A write transaction that may allocate seqs (rows of `changes`): serialised with every
        other such transaction (see the module docstring), so commit order stays seq order."""
        with self._guard(), self._write(serialise=True) as conn:
            yield conn

    # --- source registry ------------------------------------------------------------------

    def save_source(self, source: Source, *, new: bool = False) -> None:
        """Insert or update a source; its fetch state and created_at are kept on update.

        `new`: insert only, in one statement, so two registrations of one id cannot both win:
        Conflict when the id is taken."""
        now = _now()
        values = {
            "format": source.format,
            "name": source.name,
            "url": source.url,
            "mapping": source.mapping,
            "schedule_minutes": source.schedule_minutes,
            "owner": source.owner,
            "settings": dict(source.settings),
            "updated_at": now,
        }
        stmt = self._insert(sources).values(id=source.id, created_at=now, **values)
        if new:
            with self._guard(), self._write() as conn:
                # RETURNING, not rowcount: a skipped insert did not report 0 rows on PostgreSQL
                skipped = stmt.on_conflict_do_nothing(index_elements=[sources.c.id]).returning(sources.c.id)
                inserted = conn.execute(skipped).first() is not None
            if not inserted:
                raise Conflict(f"source {source.id!r} already exists")
            return
        with self._guard(), self._write() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[sources.c.id], set_=values))

    def get_source(self, source_id: str) -> Source:
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).one_or_none()
        if row is None:
            raise NotFound(f"no source {source_id!r}")
        return source_from_row(row)

    def list_sources(self) -> list[Source]:
        with self._guard(), self._engine.connect() as conn:
            return [source_from_row(row) for row in conn.execute(sa.select(sources).order_by(sources.c.id))]

    def get_fetch_state(self, source_id: str) -> FetchState:
        query = sa.select(sources.c.etag, sources.c.last_modified).where(sources.c.id == source_id)
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"no source {source_id!r}")
        return FetchState(etag=row.etag, last_modified=row.last_modified)

    def set_fetch_state(self, source_id: str, state: FetchState) -> None:
        stmt = (
            sources.update()
            .where(sources.c.id == source_id)
            .values(etag=state.etag, last_modified=state.last_modified)
        )
        with self._guard(), self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"no source {source_id!r}")

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, source_id: str, *, dry_run: bool = False, trigger: str = "cli") -> RunReport:
        """Record a new RUNNING run of a registered source (NotFound otherwise)."""
        now = _now()
        stmt = runs.insert().values(
            source_id=source_id,
            status=RunStatus.RUNNING.value,
            dry_run=dry_run,
            trigger=trigger,
            started_at=now,
            counts={},
            held_withdrawals=[],
        )
        with self._guard(), self._write() as conn:
            require_source(conn, source_id)
            run_id = conn.execute(stmt.returning(runs.c.id)).scalar_one()
        return RunReport(source_id=source_id, run_id=run_id, started_at=now, dry_run=dry_run)

    def finish_run(self, report: RunReport) -> None:
        """Persist status, counts, issues (replacing any saved before), the exact issue totals,
        the coverage report, error and finished_at (set to now when the report has none). Held
        withdrawals are left as they are. Report text quotes what feeds publish: a NUL or a lone
        surrogate in it is saved escaped (`\\x00`, `\\ud800`), so a report can always be saved, on
        every backend."""
        run_id = _run_id(report)
        if report.finished_at is None:
            report.finished_at = _now()
        stmt = (
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                status=report.status.value,
                counts=counts_json(report.counts),
                error=printable(report.error),
                finished_at=report.finished_at,
                issue_totals=printable_json(totals_json(report.totals())),
                coverage=printable_json(report.coverage.to_dict()) if report.coverage is not None else None,
            )
        )
        with self._guard(), self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"no run {run_id}")
            conn.execute(run_issues.delete().where(run_issues.c.run_id == run_id))
            for chunk in chunks(report.issues, CHUNK):  # (in order: their ids keep the report's order)
                insert_many(conn, run_issues, [issue_row(run_id, _printable_issue(i)) for i in chunk])

    def get_run(self, run_id: int) -> RunReport:
        issues_query = sa.select(run_issues).where(run_issues.c.run_id == run_id).order_by(run_issues.c.id)
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one_or_none()
            if row is None:
                raise NotFound(f"no run {run_id}")
            issues = [issue_from_row(r) for r in conn.execute(issues_query)]
        return report_from_row(row, issues)

    def list_runs(
        self, source_id: str | None = None, limit: int = 20, *, include_dry_runs: bool = True
    ) -> list[RunReport]:
        """Newest first; issues are omitted (use get_run), their totals are not."""
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if source_id is not None:
            query = query.where(runs.c.source_id == source_id)
        if not include_dry_runs:
            query = query.where(runs.c.dry_run.is_(False))
        with self._guard(), self._engine.connect() as conn:
            return [report_from_row(row, []) for row in conn.execute(query)]

    # --- harvest ----------------------------------------------------------------------------

    @contextmanager
    def harvesting(
        self, report: RunReport, *, dry_run: bool = False, keep: int = 0, recalled_after: int | None = None
    ) -> Iterator[HarvestSession]:
        """ONE transaction for one run of `report.source_id`, yielding the session that takes the
        run's records in batches (see `catalogue.harvest_apply`); call its `finish()` before the
        block ends. Commits when the block ends normally and rolls back on any exception in it,
        so the catalogue is exactly as before a run that fails. Counts and a HELD status go into
        `report` only after the commit.

        A dry run (the argument or `report.dry_run`) reads in one snapshot and writes nothing.
        A real run holds the seq lock (PostgreSQL) / the write lock (SQLite) for the whole block:
        other writers of the catalogue wait for it, up to SQLite's busy timeout, so callers should
        have their records ready before they enter it: a serial run spools them first; a run with
        mapping workers (`services.workers`) opens the block when the workers start and writes each
        settled batch while later ones are mapped, trading a longer-held lock for wall time.
        `keep`: how many added and updated candidates the session keeps for a preview.
        `recalled_after`: the change seq the run's recall started after (`Recaller.watermark`),
        so recalled courses are checked against what changed since only (see `HarvestSession`).
        Raises NotFound for an unknown source (unless dry), StoreError when the database fails.
        """
        dry = dry_run or report.dry_run
        with self._guard(), self._snapshot() if dry else self._write(serialise=True) as conn:
            if not dry:  # a dry run of a source not registered yet plans against nothing
                require_source(conn, report.source_id)
            session = HarvestSession(
                conn, report, write=not dry, now=_now(), keep=keep, recalled_after=recalled_after
            )
            yield session
            diff = session.diff  # unfinished: RuntimeError, so nothing half-decided commits
        _count(report, diff)
        if diff.held_withdrawals:
            report.status = RunStatus.HELD

    def iter_changed(self, diff: HarvestDiff, batch_size: int = 1000) -> Iterator[list[StoredCourse]]:
        """The courses a committed diff changed, in seq order and in batches: `diff.changed` when
        it holds them, else read back by the diff's seq range in short transactions. A course
        changed again since then is left out: its later change has its own delivery."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if diff.changed:
            yield from chunks(diff.changed, batch_size)
            return
        if diff.seqs is None:
            return
        after, last = diff.seqs[0] - 1, diff.seqs[1]
        while True:
            with self._guard(), self._engine.connect() as conn:
                where = (courses.c.seq > after, courses.c.seq <= last)
                batch = stored_courses(conn, *where, order_by=courses.c.seq, limit=batch_size)
            if batch:
                yield batch
            if len(batch) < batch_size:
                return
            after = batch[-1].seq

    def confirm_withdrawals(self, run_id: int) -> HarvestDiff:
        """Withdraw the run's held courses that are still active (and were not seen by a later
        run), clear them from the run, count them and mark a HELD run SUCCEEDED."""
        with self._guard(), self._write(serialise=True) as conn:
            query = sa.select(runs.c.status, runs.c.counts, runs.c.held_withdrawals).where(
                runs.c.id == run_id
            )
            row = conn.execute(query).one_or_none()
            if row is None:
                raise NotFound(f"no run {run_id}")
            active: list[str] = []
            for chunk in chunks(list(row.held_withdrawals), CHUNK):
                still = sa.select(courses.c.id).where(
                    courses.c.id.in_(chunk), courses.c.status == CourseStatus.ACTIVE.value
                )
                active.extend(conn.execute(still).scalars())
            span = withdraw(conn, active, run_id, _now())
            changed = [] if span is None else _changed_in(conn, span)
            counts = Counter(row.counts)
            counts[Outcome.WITHDRAWN.value] += len(active)
            status = RunStatus.SUCCEEDED.value if row.status == RunStatus.HELD.value else row.status
            update: dict[str, Any] = {"status": status, "counts": dict(counts), "held_withdrawals": []}
            conn.execute(runs.update().where(runs.c.id == run_id).values(**update))
        return HarvestDiff(withdrawn=active, changed=changed)

    # --- courses ----------------------------------------------------------------------------

    def get_course(self, course_id: str) -> StoredCourse:
        """The course, active or withdrawn; NotFound when the id was never stored."""
        with self._guard(), self._engine.connect() as conn:
            found = stored_courses(conn, courses.c.id == course_id)
        if not found:
            raise NotFound(f"no course {course_id!r}")
        return found[0]

    def courses_from(self, course_ids: Collection[str], source_ids: Collection[str]) -> set[str]:
        """Those of `course_ids` that were harvested from one of `source_ids` (one query; empty
        when either is empty). What a result page asks to label its synthetic sample courses."""
        if not course_ids or not source_ids:
            return set()
        query = sa.select(courses.c.id).where(
            courses.c.id.in_(list(course_ids)), courses.c.source_id.in_(list(source_ids))
        )
        with self._guard(), self._engine.connect() as conn:
            return {str(row[0]) for row in conn.execute(query)}

    def iter_courses(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterator[StoredCourse]:
        """Courses in id order, read in batches of short transactions (keyset pagination), so a
        long iteration never holds a database snapshot open."""
        for batch in self._keyset_pages(
            source_id, include_withdrawn, batch_size, partial(select_rows, order_by=courses.c.id)
        ):
            yield from (stored for _, stored in batch)

    def iter_records(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterator[RecordRow]:
        """What `iter_courses` yields, as `RecordRow`s (id, status, seq, record JSON text): the
        lean read of a full reindex, which needs neither Course objects nor timestamps. Same
        order, filters and keyset pagination in short transactions as `iter_courses`."""
        for batch in self._keyset_pages(source_id, include_withdrawn, batch_size, select_record_rows):
            yield from batch

    def iter_provenance(self, *, source_id: str, batch_size: int = 1000) -> Iterator[tuple[str, Provenance]]:
        """(course id, provenance) of the source's active courses, in id order and short reads;
        also for a course whose stored record does not decode (see `select_provenance_rows`)."""
        for batch in self._keyset_pages(source_id, False, batch_size, select_provenance_rows):
            yield from batch

    def _keyset_pages(
        self,
        source_id: str | None,
        include_withdrawn: bool,
        batch_size: int,
        select: Callable[..., list[Row]],
    ) -> Iterator[list[Row]]:
        """Pages of `select(conn, *conditions, limit=batch_size)` in id order, each read in its
        own short transaction after the last id of the one before (every row's first item is its
        course id)."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        conditions = course_filter(source_id, include_withdrawn)
        after: str | None = None
        while True:
            page = conditions if after is None else [*conditions, courses.c.id > after]
            with self._guard(), self._engine.connect() as conn:
                batch = select(conn, *page, limit=batch_size)
            yield batch
            if len(batch) < batch_size:
                return
            after = str(batch[-1][0])

    def count_courses(self, *, source_id: str | None = None, include_withdrawn: bool = False) -> int:
        query = sa.select(sa.func.count()).select_from(courses)
        query = query.where(*course_filter(source_id, include_withdrawn))
        with self._guard(), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def get_raw(self, course_id: str) -> tuple[bytes, str] | None:
        """The raw payload stored with the course, as (content, media_type); None if there is none."""
        query = sa.select(raw_items.c.content, raw_items.c.media_type).where(
            raw_items.c.course_id == course_id
        )
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else (bytes(row.content), row.media_type)

    def changes_since(self, seq: int, limit: int = 1000) -> list[StoredCourse]:
        """Courses whose latest change has a seq above `seq`, ascending; feed the last seq back in."""
        with self._guard(), self._engine.connect() as conn:
            return stored_courses(conn, courses.c.seq > seq, order_by=courses.c.seq, limit=limit)

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn driver errors into StoreError. Its message (which run reports show, publicly for
        public runs) is the driver's first line: never the SQL, nor PostgreSQL's DETAIL and
        CONTEXT lines, which quote the values of the failing row (a COPY quoted a whole record).
        The whole message goes to the log."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            text = str(cause).strip()
            logger.warning("store error: %s: %s", type(cause).__name__, text)
            first = text.splitlines()[0][:_ERROR_CHARS] if text else ""
            raise StoreError(f"{type(cause).__name__}: {first}".strip()) from exc

    @contextmanager
    def _write(self, *, serialise: bool = False) -> Iterator[Connection]:
        """A write transaction, committed on exit, rolled back on any exception. On SQLite it holds
        the database write lock throughout; `serialise` also takes the seq lock on PostgreSQL."""
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITER: True})
            with conn.begin():
                if serialise and self._postgres:
                    catalogue = sa.func.hashtext(sa.func.current_schema())
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SEQ_LOCK_CLASS, catalogue)))
                yield conn

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot however many statements it runs (a SQLite
        read transaction does; PostgreSQL needs REPEATABLE READ), rolled back on exit."""
        with self._engine.connect() as conn:
            if self._postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        """INSERT that supports on_conflict_do_update (same API on both dialects)."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)


def _changed_in(conn: Connection, span: tuple[int, int]) -> list[StoredCourse]:
    where = (courses.c.seq >= span[0], courses.c.seq <= span[1])
    return stored_courses(conn, *where, order_by=courses.c.seq)


def _run_id(report: RunReport) -> int:
    if report.run_id is None:
        raise ValueError("the report has no run_id: create runs with CatalogueStore.start_run")
    return report.run_id


def _count(report: RunReport, diff: HarvestDiff) -> None:
    for outcome, ids in (
        (Outcome.ADDED, diff.added),
        (Outcome.UPDATED, diff.updated),
        (Outcome.UNCHANGED, diff.unchanged),
        (Outcome.WITHDRAWN, diff.withdrawn),
    ):
        if ids:
            report.count(outcome, len(ids))
