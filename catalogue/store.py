"""The catalogue store: sources, runs, courses, raw payloads and the changes feed (SQLAlchemy Core).

SQLite file by default, PostgreSQL by URL; tables in `catalogue.schema`, migrations in
catalogue/migrations. Driver errors surface as `StoreError`, unknown ids as `NotFound`.

Ordering of `seq` (the changes-feed cursor): seqs come from the auto-increment key of the
`changes` table, and every transaction that allocates seqs (apply_harvest, confirm_withdrawals,
migrate) is serialised so that commit order equals seq order; otherwise a reader of
`changes_since(cursor)` could move its cursor past a seq that commits later and miss it for good.
On PostgreSQL two transactions could commit their seqs out of order, so they take a
transaction-scoped advisory lock (`pg_advisory_xact_lock`) first; on SQLite writers are serialised
anyway. Every SQLite write transaction starts with BEGIN IMMEDIATE: the harvest plan is then
computed under the write lock, and a deferred BEGIN that reads first would fail with "database is
locked" (not wait) when it tries to upgrade to writing while another writer holds the lock.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from catalogue.changes import Candidate, CourseStatus, HarvestDiff, StoredCourse
from catalogue.codec import course_from_dict, course_to_dict
from catalogue.errors import ConfigurationError, NotFound, StoreError
from catalogue.runs import Issue, Outcome, RunReport, RunStatus, Severity
from catalogue.schema import changes, courses, raw_items, run_issues, runs, sources
from catalogue.sources import FetchState, Source

CHUNK = 2000
"""Rows per executemany: large enough to amortise round trips, small enough to bound memory."""
GUARD_MIN_ACTIVE = 10
"""The mass-withdrawal guard only applies to sources with at least this many active courses."""

_SEQ_LOCK = 0x63617461_6C6F67  # advisory lock key ("catalog") that orders seq-allocating commits
_WRITER = "catalogue_writer"  # execution option: the SQLite "begin" hook emits BEGIN IMMEDIATE
_T = TypeVar("_T")


def open_engine(url: str) -> Engine:
    """An engine for a catalogue URL: sqlite (parent directory created, WAL, foreign keys,
    busy timeout) or postgresql. Raises ConfigurationError for any other or a malformed URL."""
    try:
        parsed = sa.make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        if backend == "postgresql":
            return sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigurationError(f"bad database URL {url!r}: {exc}") from exc
    raise ConfigurationError(
        f"unsupported database {backend!r}: use a sqlite:/// or postgresql+psycopg:// URL"
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        # one shared connection, or every checkout would see a different empty database
        engine = sa.create_engine(url, poolclass=sa.pool.StaticPool)
    else:
        Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The stdlib driver's own transaction handling defers BEGIN to the first DML statement,
        # which would run our reads outside the transaction; we emit BEGIN in _on_begin instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the harvest writer
                cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync per checkpoint
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITER, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class _Known(NamedTuple):
    """What apply_harvest needs to know about a stored course of the source."""

    id: str
    content_hash: str
    active: bool
    digest: str | None  # of the stored raw payload


class _Plan(NamedTuple):
    added: list[Candidate]
    updated: list[Candidate]
    unchanged: list[str]
    stale_raw: list[Candidate]  # content unchanged, raw payload changed: refresh the payload only
    withdrawn: list[str]
    held: list[str]


class CatalogueStore:
    """The catalogue database. Thread-safe (one engine, pooled connections); call `close()` at exit."""

    def __init__(self, url: str) -> None:
        self._engine = open_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe to race)."""
        config = Config()
        config.set_main_option("script_location", "catalogue:migrations")
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

    def save_source(self, source: Source) -> None:
        """Insert or update a source; its fetch state and created_at are kept on update."""
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
        with self._guard(), self._write() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[sources.c.id], set_=values))

    def get_source(self, source_id: str) -> Source:
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).one_or_none()
        if row is None:
            raise NotFound(f"no source {source_id!r}")
        return _source(row)

    def list_sources(self) -> list[Source]:
        with self._guard(), self._engine.connect() as conn:
            return [_source(row) for row in conn.execute(sa.select(sources).order_by(sources.c.id))]

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
            _require_source(conn, source_id)
            run_id = conn.execute(stmt.returning(runs.c.id)).scalar_one()
        return RunReport(source_id=source_id, run_id=run_id, started_at=now, dry_run=dry_run)

    def finish_run(self, report: RunReport) -> None:
        """Persist status, counts, issues (replacing any saved before), error and finished_at
        (set to now when the report has none). Held withdrawals are left as they are."""
        run_id = _run_id(report)
        if report.finished_at is None:
            report.finished_at = _now()
        stmt = (
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                status=report.status.value,
                counts=_counts_json(report.counts),
                error=report.error,
                finished_at=report.finished_at,
            )
        )
        with self._guard(), self._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFound(f"no run {run_id}")
            conn.execute(run_issues.delete().where(run_issues.c.run_id == run_id))
            for chunk in _chunks(report.issues, CHUNK):
                conn.execute(run_issues.insert(), [_issue_row(run_id, issue) for issue in chunk])

    def get_run(self, run_id: int) -> RunReport:
        issues_query = sa.select(run_issues).where(run_issues.c.run_id == run_id).order_by(run_issues.c.id)
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one_or_none()
            if row is None:
                raise NotFound(f"no run {run_id}")
            issues = [_issue(r) for r in conn.execute(issues_query)]
        return _report(row, issues)

    def list_runs(self, source_id: str | None = None, limit: int = 20) -> list[RunReport]:
        """Newest first; issues are omitted (use get_run)."""
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if source_id is not None:
            query = query.where(runs.c.source_id == source_id)
        with self._guard(), self._engine.connect() as conn:
            return [_report(row, []) for row in conn.execute(query)]

    # --- harvest ----------------------------------------------------------------------------

    def apply_harvest(
        self,
        report: RunReport,
        candidates: Sequence[Candidate],
        *,
        seen_refs: Collection[str],
        complete: bool,
        dry_run: bool = False,
        max_withdraw_share: float | None = 0.5,
    ) -> HarvestDiff:
        """Apply one run's valid records to its source in ONE transaction (see CONTRACTS.md).

        A dry run (the argument or `report.dry_run`) computes the same diff and writes nothing.
        If the same provider_ref is offered twice, the last candidate wins. Raises ValueError
        for a candidate of another source, NotFound for an unknown source, StoreError when the
        database fails (then nothing changed). Counts and a HELD status go into `report` only
        once the transaction has committed. Applying a run also updates the held withdrawals of
        earlier runs of the source: a complete run supersedes them, any run drops those it saw.
        """
        source_id, run_id = report.source_id, report.run_id
        if dry_run or report.dry_run:
            with self._guard(), self._engine.connect() as conn:
                _require_source(conn, source_id)
                plan = _plan(
                    source_id, candidates, _known(conn, source_id), seen_refs, complete, max_withdraw_share
                )
            changed: list[StoredCourse] = []
        else:
            with self._guard(), self._write(serialise=True) as conn:
                _require_source(conn, source_id)
                known = _known(conn, source_id)
                plan = _plan(source_id, candidates, known, seen_refs, complete, max_withdraw_share)
                changed = _write_plan(conn, plan, source_id, run_id, _now())
                _supersede_held(conn, source_id, run_id, known, seen_refs, complete)
                if plan.held and run_id is not None:
                    held = {"status": RunStatus.HELD.value, "held_withdrawals": plan.held}
                    conn.execute(runs.update().where(runs.c.id == run_id).values(**held))
        diff = HarvestDiff(
            added=[c.course.id for c in plan.added],
            updated=[c.course.id for c in plan.updated],
            unchanged=plan.unchanged,
            withdrawn=plan.withdrawn,
            held_withdrawals=plan.held,
            changed=sorted(changed, key=lambda stored: stored.seq),
        )
        _count(report, diff)
        if plan.held:
            report.status = RunStatus.HELD
        return diff

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
            for chunk in _chunks(list(row.held_withdrawals), CHUNK):
                still = sa.select(courses.c.id).where(
                    courses.c.id.in_(chunk), courses.c.status == CourseStatus.ACTIVE.value
                )
                active.extend(conn.execute(still).scalars())
            changed = _withdraw(conn, active, run_id, _now())
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
            found = _select_stored(conn, courses.c.id == course_id)
        if not found:
            raise NotFound(f"no course {course_id!r}")
        return found[0]

    def iter_courses(
        self, *, source_id: str | None = None, include_withdrawn: bool = False, batch_size: int = 1000
    ) -> Iterator[StoredCourse]:
        """Courses in id order, read in batches of short transactions (keyset pagination), so a
        long iteration never holds a database snapshot open."""
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        conditions = _course_filter(source_id, include_withdrawn)
        after: str | None = None
        while True:
            page = conditions if after is None else [*conditions, courses.c.id > after]
            with self._guard(), self._engine.connect() as conn:
                batch = _select_rows(conn, *page, order_by=courses.c.id, limit=batch_size)
            yield from (stored for _, stored in batch)
            if len(batch) < batch_size:
                return
            after = batch[-1][0]

    def count_courses(self, *, source_id: str | None = None, include_withdrawn: bool = False) -> int:
        query = sa.select(sa.func.count()).select_from(courses)
        query = query.where(*_course_filter(source_id, include_withdrawn))
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
            return _select_stored(conn, courses.c.seq > seq, order_by=courses.c.seq, limit=limit)

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn driver errors into StoreError (the message is the driver's, without the SQL)."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"{type(cause).__name__}: {cause}".strip()) from exc

    @contextmanager
    def _write(self, *, serialise: bool = False) -> Iterator[Connection]:
        """A write transaction, committed on exit, rolled back on any exception. On SQLite it holds
        the database write lock throughout; `serialise` also takes the seq lock on PostgreSQL."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITER: True})
            with conn.begin():
                if serialise and self._postgres:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SEQ_LOCK)))
                yield conn

    def _insert(self, table: sa.Table) -> Any:
        """INSERT that supports on_conflict_do_update (same API on both dialects)."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)


# --- harvest planning and writing (module level: pure functions of a connection) --------------


def _known(conn: Connection, source_id: str) -> dict[str, _Known]:
    """provider_ref -> what we hold, for every course of the source, in one query."""
    query = (
        sa.select(
            courses.c.provider_ref, courses.c.id, courses.c.content_hash, courses.c.status, raw_items.c.digest
        )
        .select_from(courses.outerjoin(raw_items))
        .where(courses.c.source_id == source_id)
        .execution_options(yield_per=20_000)
    )
    active = CourseStatus.ACTIVE.value
    return {
        ref: _Known(cid, chash, status == active, digest)
        for ref, cid, chash, status, digest in conn.execute(query)
    }


def _plan(
    source_id: str,
    candidates: Sequence[Candidate],
    known: dict[str, _Known],
    seen_refs: Collection[str],
    complete: bool,
    max_withdraw_share: float | None,
) -> _Plan:
    """Decide every outcome before writing anything (a dry run stops here)."""
    latest: dict[str, Candidate] = {}
    for candidate in candidates:
        provenance = candidate.course.provenance
        if provenance.source_id != source_id:
            raise ValueError(
                f"candidate {candidate.course.id} belongs to {provenance.source_id!r}, not {source_id!r}"
            )
        latest[provenance.provider_ref] = candidate
    plan = _Plan([], [], [], [], [], [])
    for ref, candidate in latest.items():
        row = known.get(ref)
        if row is None:
            plan.added.append(candidate)
        elif row.active and row.content_hash == candidate.content_hash:
            plan.unchanged.append(row.id)
            if row.digest != _digest(candidate.raw):
                plan.stale_raw.append(candidate)
        else:
            plan.updated.append(candidate)
    if complete:
        seen = seen_refs if isinstance(seen_refs, Set) else set(seen_refs)
        absent = [
            row.id for ref, row in known.items() if row.active and ref not in seen and ref not in latest
        ]
        n_active = sum(1 for row in known.values() if row.active)
        limit = (
            None
            if max_withdraw_share is None or n_active < GUARD_MIN_ACTIVE
            else max_withdraw_share * n_active
        )
        if limit is not None and len(absent) > limit:
            plan.held.extend(absent)
        else:
            plan.withdrawn.extend(absent)
    return plan


def _write_plan(
    conn: Connection, plan: _Plan, source_id: str, run_id: int | None, now: datetime
) -> list[StoredCourse]:
    """Write a plan with executemany in chunks; returns the changed courses with their seqs."""
    changed: list[StoredCourse] = []
    active = CourseStatus.ACTIVE
    for chunk in _chunks(plan.added, CHUNK):
        seqs = _log(conn, [c.course.id for c in chunk], run_id, "added")
        _insert_many(conn, courses, [_course_row(c, source_id, seqs, run_id, now) for c in chunk])
        _insert_many(conn, raw_items, [_raw_row(c, now) for c in chunk])
        changed.extend(
            StoredCourse(c.course, active, c.content_hash, seqs[c.course.id], now, now, run_id) for c in chunk
        )
    for chunk in _chunks(plan.updated, CHUNK):
        ids = [c.course.id for c in chunk]
        seqs = _log(conn, ids, run_id, "updated")
        conn.execute(_UPDATE_COURSE, [_update_row(c, seqs, run_id, now) for c in chunk])
        _store_raw(conn, chunk, now)
        first_seen = _first_seen(conn, ids)
        changed.extend(
            StoredCourse(
                c.course, active, c.content_hash, seqs[c.course.id], first_seen[c.course.id], now, run_id
            )
            for c in chunk
        )
    for chunk in _chunks(plan.stale_raw, CHUNK):
        _store_raw(conn, chunk, now)
    changed.extend(_withdraw(conn, plan.withdrawn, run_id, now))
    return changed


_UPDATE_COURSE = (
    courses.update()
    .where(courses.c.id == sa.bindparam("id_"))
    .values(
        status=sa.bindparam("status_"),
        content_hash=sa.bindparam("content_hash_"),
        record=sa.bindparam("record_"),
        seq=sa.bindparam("seq_"),
        updated_at=sa.bindparam("updated_at_"),
        last_run_id=sa.bindparam("last_run_id_"),
        withdrawn_at=None,
    )
)

_WITHDRAW_COURSE = (
    courses.update()
    .where(courses.c.id == sa.bindparam("id_"))
    .values(
        status=CourseStatus.WITHDRAWN.value,
        seq=sa.bindparam("seq_"),
        updated_at=sa.bindparam("now_", type_=courses.c.updated_at.type),
        withdrawn_at=sa.bindparam("now_", type_=courses.c.withdrawn_at.type),
        last_run_id=sa.bindparam("last_run_id_"),
    )
)


def _withdraw(conn: Connection, ids: list[str], run_id: int | None, now: datetime) -> list[StoredCourse]:
    """Turn active courses into tombstones (record and raw payload kept); returns them."""
    changed: list[StoredCourse] = []
    for chunk in _chunks(ids, CHUNK):
        seqs = _log(conn, chunk, run_id, "withdrawn")
        params = [{"id_": cid, "seq_": seqs[cid], "now_": now, "last_run_id_": run_id} for cid in chunk]
        conn.execute(_WITHDRAW_COURSE, params)
        changed.extend(_select_stored(conn, courses.c.id.in_(chunk)))
    return changed


def _log(conn: Connection, ids: list[str], run_id: int | None, kind: str) -> dict[str, int]:
    """Append one change per course; returns course id -> its new seq."""
    if conn.dialect.name == "postgresql":
        # one statement per chunk: INSERT ... SELECT unnest(array) beats executemany by far
        ids_param = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String()))
        rows = sa.select(sa.func.unnest(ids_param), sa.literal(run_id, sa.Integer()), sa.literal(kind))
        stmt = changes.insert().from_select(["course_id", "run_id", "kind"], rows)
        result = conn.execute(stmt.returning(changes.c.course_id, changes.c.seq), {"ids": ids})
    else:
        stmt = changes.insert().returning(changes.c.course_id, changes.c.seq)
        result = conn.execute(stmt, [{"course_id": cid, "run_id": run_id, "kind": kind} for cid in ids])
    return {cid: seq for cid, seq in result}


def _insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT of new rows: executemany on SQLite, COPY on PostgreSQL (several times faster
    than psycopg's executemany for wide rows). JSON values are serialised here for COPY."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    names = list(rows[0])
    is_json = [isinstance(table.c[name].type, sa.JSON) for name in names]
    quote = conn.dialect.identifier_preparer
    sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    dbapi_connection: Any = conn.connection.driver_connection
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [json.dumps(row[n]) if j else row[n] for n, j in zip(names, is_json, strict=True)]
                )
    except conn.dialect.loaded_dbapi.Error as exc:  # raw driver call: wrap it like SQLAlchemy would
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _store_raw(conn: Connection, chunk: list[Candidate], now: datetime) -> None:
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(raw_items)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[raw_items.c.course_id],
        set_={name: excluded[name] for name in ("media_type", "content", "digest", "stored_at")},
    )
    conn.execute(stmt, [_raw_row(c, now) for c in chunk])


def _first_seen(conn: Connection, ids: list[str]) -> dict[str, datetime]:
    query = sa.select(courses.c.id, courses.c.first_seen).where(courses.c.id.in_(ids))
    return {cid: first_seen for cid, first_seen in conn.execute(query)}


def _supersede_held(
    conn: Connection,
    source_id: str,
    run_id: int | None,
    known: dict[str, _Known],
    seen_refs: Collection[str],
    complete: bool,
) -> None:
    """Keep earlier runs' held withdrawals "still absent": a complete run re-decided every
    withdrawal of the source, so it clears them; any run removes the courses it saw."""
    query = sa.select(runs.c.id, runs.c.held_withdrawals).where(
        runs.c.source_id == source_id, runs.c.status == RunStatus.HELD.value
    )
    if run_id is not None:
        query = query.where(runs.c.id != run_id)
    held_runs = [(rid, held) for rid, held in conn.execute(query) if held]
    if not held_runs:
        return
    seen_ids: set[str] = set()
    if not complete:
        held_ids = {cid for _, held in held_runs for cid in held}
        seen_ids = {row.id for ref, row in known.items() if row.id in held_ids and ref in seen_refs}
    for rid, held in held_runs:
        keep = [] if complete else [cid for cid in held if cid not in seen_ids]
        if keep != held:
            conn.execute(runs.update().where(runs.c.id == rid).values(held_withdrawals=keep))


# --- row <-> value conversions ----------------------------------------------------------------

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


def _select_stored(
    conn: Connection, *where: Any, order_by: Any = None, limit: int | None = None
) -> list[StoredCourse]:
    return [stored for _, stored in _select_rows(conn, *where, order_by=order_by, limit=limit)]


def stored_courses(
    conn: Connection, *where: Any, order_by: Any = None, limit: int | None = None
) -> list[StoredCourse]:
    """Courses matching `where`, read on the caller's connection (for stores of other tables that
    join their rows to courses inside their own transaction)."""
    return _select_stored(conn, *where, order_by=order_by, limit=limit)


def _select_rows(
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


def _course_filter(source_id: str | None, include_withdrawn: bool) -> list[Any]:
    conditions: list[Any] = []
    if source_id is not None:
        conditions.append(courses.c.source_id == source_id)
    if not include_withdrawn:
        conditions.append(courses.c.status == CourseStatus.ACTIVE.value)
    return conditions


def _course_row(
    candidate: Candidate, source_id: str, seqs: dict[str, int], run_id: int | None, now: datetime
) -> dict[str, Any]:
    cid = candidate.course.id
    return {
        "id": cid,
        "source_id": source_id,
        "provider_ref": candidate.course.provenance.provider_ref,
        "status": CourseStatus.ACTIVE.value,
        "content_hash": candidate.content_hash,
        "record": _record(candidate),
        "seq": seqs[cid],
        "first_seen": now,
        "updated_at": now,
        "last_run_id": run_id,
        "withdrawn_at": None,
    }


def _update_row(
    candidate: Candidate, seqs: dict[str, int], run_id: int | None, now: datetime
) -> dict[str, Any]:
    """Parameters of _UPDATE_COURSE (bind names differ from column names, as SQLAlchemy requires)."""
    cid = candidate.course.id
    return {
        "id_": cid,
        "status_": CourseStatus.ACTIVE.value,
        "content_hash_": candidate.content_hash,
        "record_": _record(candidate),
        "seq_": seqs[cid],
        "updated_at_": now,
        "last_run_id_": run_id,
    }


def _record(candidate: Candidate) -> Mapping[str, Any]:
    return candidate.record if candidate.record is not None else course_to_dict(candidate.course)


def _raw_row(candidate: Candidate, now: datetime) -> dict[str, Any]:
    return {
        "course_id": candidate.course.id,
        "media_type": candidate.media_type,
        "content": candidate.raw,
        "digest": _digest(candidate.raw),
        "stored_at": now,
    }


def _digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _source(row: sa.Row[Any]) -> Source:
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


def _require_source(conn: Connection, source_id: str) -> None:
    if conn.execute(sa.select(sources.c.id).where(sources.c.id == source_id)).first() is None:
        raise NotFound(f"no source {source_id!r}")


def _run_id(report: RunReport) -> int:
    if report.run_id is None:
        raise ValueError("the report has no run_id: create runs with CatalogueStore.start_run")
    return report.run_id


def _report(row: sa.Row[Any], issues: list[Issue]) -> RunReport:
    return RunReport(
        source_id=row.source_id,
        run_id=row.id,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=Counter({Outcome(key): n for key, n in (row.counts or {}).items()}),
        issues=issues,
        error=row.error,
        dry_run=row.dry_run,
    )


def _counts_json(counts: Counter[Outcome]) -> dict[str, int]:
    return {Outcome(outcome).value: n for outcome, n in counts.items() if n}


def _count(report: RunReport, diff: HarvestDiff) -> None:
    for outcome, ids in (
        (Outcome.ADDED, diff.added),
        (Outcome.UPDATED, diff.updated),
        (Outcome.UNCHANGED, diff.unchanged),
        (Outcome.WITHDRAWN, diff.withdrawn),
    ):
        if ids:
            report.count(outcome, len(ids))


def _issue_row(run_id: int, issue: Issue) -> dict[str, Any]:
    return {"run_id": run_id, **issue.to_dict()}


def _issue(row: sa.Row[Any]) -> Issue:
    return Issue(
        severity=Severity(row.severity),
        message=row.message,
        field=row.field,
        record_ref=row.record_ref,
        pointer=row.pointer,
        code=row.code,
        value=row.value,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
