"""Persistence of eligibility schemes, manual decisions and each course's eligibility per scheme.

Shares CatalogueStore's engine (like AccountStore). Every refresh of eligibility runs in a
`CatalogueStore.sequencing()` transaction and reads the courses it evaluates inside it, so the
last refresh to commit saw the latest version of each course: sinks delivered late or twice
converge on the same state.

Evaluating a scheme's definition against every course is a job (catalogue/eligibility_jobs.py):
its results are staged (`scheme_staging`) and switch into `course_eligibility` in one
transaction when complete, so readers here always see one whole evaluation. A refresh keeps the
live evaluation of every evaluated scheme current, and also the staged rows of a scheme's job in
progress (so the switch does not bring back a course's state from before a later change).
A scheme created but not yet evaluated has no live rows: refreshes leave it alone.

The scheme's changes feed: a `course_eligibility` row gets a new `seq` from the store's `changes`
sequence (kind "eligibility") whenever its feed-visible state changes: the course became eligible,
changed while eligible (consumers need the new record), or stopped being eligible (rules, a
manual decision or a withdrawal). A course that was never eligible has no seq and never appears.
Replaying `eligibility_changes_since(scheme, 0)` therefore ends with exactly the eligible set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.eligibility import (
    Decision,
    ManualDecision,
    Reason,
    Scheme,
    decide,
    parse_rules,
    rules_to_data,
)
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.outbox import enqueue_span
from course_catalogue.catalogue.schema import (
    changes,
    course_eligibility,
    courses,
    scheme_decisions,
    scheme_jobs,
    scheme_staging,
    schemes,
)
from course_catalogue.catalogue.store import CatalogueStore, stored_courses

BATCH = 500
"""Courses evaluated per transaction: short transactions, so harvests are not held up long."""
KIND = "eligibility"
"""`changes.kind` of the seqs eligibility rows take."""


@dataclass(frozen=True)
class CourseEligibility:
    """A course's standing in one scheme. `since`: when `eligible` last took its value."""

    scheme_id: str
    course_id: str
    eligible: bool
    since: datetime
    reasons: tuple[Reason, ...]
    manual: bool
    seq: int | None
    evaluated_at: datetime


@dataclass(frozen=True)
class EligibilityEntry:
    """One entry of a scheme's changes feed: an upsert of `stored` when `eligible` and the course
    is active, else a tombstone."""

    seq: int
    scheme_id: str
    course_id: str
    eligible: bool
    since: datetime
    reasons: tuple[Reason, ...]
    stored: StoredCourse

    @property
    def upsert(self) -> bool:
        return self.eligible and self.stored.status is CourseStatus.ACTIVE


@dataclass(frozen=True)
class EligibilityChange:
    """A feed-visible change a refresh made (for sinks and webhooks)."""

    scheme_id: str
    course_id: str
    eligible: bool
    seq: int


class EligibilityStore:
    """Schemes, decisions and eligibility of one catalogue database."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    # --- schemes --------------------------------------------------------------------------------

    def get_scheme(self, scheme_id: str) -> Scheme:
        with self._store.reading() as conn:
            row = conn.execute(sa.select(schemes).where(schemes.c.id == scheme_id)).one_or_none()
        if row is None:
            raise NotFound(f"no scheme {scheme_id!r}")
        return _scheme(row)

    def list_schemes(self, owner: str | None = None) -> list[Scheme]:
        """Every scheme (of one owner when given), in id order."""
        query = sa.select(schemes).order_by(schemes.c.id)
        if owner is not None:
            query = query.where(schemes.c.owner == owner)
        with self._store.reading() as conn:
            return [_scheme(row) for row in conn.execute(query)]

    def rename_scheme(self, scheme_id: str, *, name: str, description: str, owner: str | None) -> Scheme:
        """Change what does not affect eligibility (name, description, owner) at once, in the live
        scheme and in the definition of a job in progress; NotFound if absent."""
        with self._store.writing() as conn:
            values = {"name": name, "description": description, "owner": owner, "updated_at": _now()}
            stmt = schemes.update().where(schemes.c.id == scheme_id).values(**values)
            if conn.execute(stmt.returning(schemes.c.id)).first() is None:
                raise NotFound(f"no scheme {scheme_id!r}")
            for job_id, definition, _ in conn.execute(_active_jobs_query([scheme_id])):
                changed = {**definition, "name": name, "description": description, "owner": owner}
                conn.execute(
                    scheme_jobs.update().where(scheme_jobs.c.id == job_id).values(definition=changed)
                )
        return self.get_scheme(scheme_id)

    # --- manual decisions -----------------------------------------------------------------------

    def set_decision(self, decision: ManualDecision) -> CourseEligibility | None:
        """Record (or replace) a manual decision and re-evaluate that course; NotFound for an
        unknown scheme or course. Returns the course's standing, or None while the scheme's first
        evaluation is still running (the decision is applied by it)."""
        self.get_scheme(decision.scheme_id)
        self._store.get_course(decision.course_id)
        values = {
            "eligible": decision.eligible,
            "note": decision.note,
            "decided_by": decision.decided_by,
            "decided_at": decision.decided_at,
        }
        with self._store.writing() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(scheme_decisions).values(
                scheme_id=decision.scheme_id, course_id=decision.course_id, **values
            )
            conn.execute(stmt.on_conflict_do_update(index_elements=["scheme_id", "course_id"], set_=values))
        self.refresh_courses([decision.course_id], scheme_id=decision.scheme_id)
        try:
            return self.get_eligibility(decision.scheme_id, decision.course_id)
        except NotFound:
            return None

    def clear_decision(self, scheme_id: str, course_id: str) -> None:
        """Drop a manual decision (the rules decide again); nothing happens when there is none."""
        with self._store.writing() as conn:
            conn.execute(
                scheme_decisions.delete().where(
                    scheme_decisions.c.scheme_id == scheme_id, scheme_decisions.c.course_id == course_id
                )
            )
        self.refresh_courses([course_id], scheme_id=scheme_id)

    # --- keeping eligibility current ------------------------------------------------------------

    def refresh_courses(
        self, course_ids: Iterable[str], *, scheme_id: str | None = None, enqueue: bool = True
    ) -> list[EligibilityChange]:
        """Re-evaluate the courses for every scheme (or one); returns the feed-visible changes.

        `enqueue`: give the changed courses index outbox entries (catalogue/outbox.py). The index
        delivery itself refreshes with False: it rebuilds those courses' documents right after."""
        ids = list(dict.fromkeys(course_ids))
        made: list[EligibilityChange] = []
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            with self._store.sequencing() as conn:
                wanted = _all_schemes(conn, scheme_id)
                if not wanted:
                    return made
                stored = stored_courses(conn, courses.c.id.in_(chunk))
                made.extend(_refresh(conn, wanted, stored, enqueue=enqueue))
                stage(conn, _active_jobs(conn, [s.id for s in wanted]), stored)
        return made

    # --- reading --------------------------------------------------------------------------------

    def get_eligibility(self, scheme_id: str, course_id: str) -> CourseEligibility:
        query = sa.select(course_eligibility).where(
            course_eligibility.c.scheme_id == scheme_id, course_eligibility.c.course_id == course_id
        )
        with self._store.reading() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"course {course_id!r} has not been evaluated for scheme {scheme_id!r}")
        return _eligibility(row)

    def course_eligibility(self, course_id: str) -> list[CourseEligibility]:
        """The course's standing in every scheme, in scheme id order."""
        query = (
            sa.select(course_eligibility)
            .where(course_eligibility.c.course_id == course_id)
            .order_by(course_eligibility.c.scheme_id)
        )
        with self._store.reading() as conn:
            return [_eligibility(row) for row in conn.execute(query)]

    def scheme_courses(
        self, scheme_id: str, *, eligible: bool | None = None, after: str | None = None, limit: int = 100
    ) -> list[CourseEligibility]:
        """A scheme's evaluated courses in course id order (keyset paging with `after`)."""
        query = (
            sa.select(course_eligibility)
            .where(course_eligibility.c.scheme_id == scheme_id)
            .order_by(course_eligibility.c.course_id)
            .limit(limit)
        )
        if eligible is not None:
            query = query.where(course_eligibility.c.eligible.is_(eligible))
        if after is not None:
            query = query.where(course_eligibility.c.course_id > after)
        with self._store.reading() as conn:
            return [_eligibility(row) for row in conn.execute(query)]

    def counts(self, scheme_id: str) -> tuple[int, int]:
        """(eligible, not eligible): how many evaluated courses the scheme has of each."""
        query = (
            sa.select(course_eligibility.c.eligible, sa.func.count())
            .where(course_eligibility.c.scheme_id == scheme_id)
            .group_by(course_eligibility.c.eligible)
        )
        with self._store.reading() as conn:
            found = {bool(eligible): n for eligible, n in conn.execute(query)}
        return found.get(True, 0), found.get(False, 0)

    def list_decisions(self, scheme_id: str, limit: int = 100) -> list[ManualDecision]:
        """The scheme's manual decisions, newest first."""
        query = (
            sa.select(scheme_decisions)
            .where(scheme_decisions.c.scheme_id == scheme_id)
            .order_by(scheme_decisions.c.decided_at.desc(), scheme_decisions.c.course_id)
            .limit(limit)
        )
        with self._store.reading() as conn:
            return [_decision(row) for row in conn.execute(query)]

    def eligible_course_ids(self, scheme_id: str) -> list[str]:
        """The current eligible set of a scheme, in id order; NotFound for an unknown scheme."""
        self.get_scheme(scheme_id)
        query = (
            sa.select(course_eligibility.c.course_id)
            .where(course_eligibility.c.scheme_id == scheme_id, course_eligibility.c.eligible.is_(True))
            .order_by(course_eligibility.c.course_id)
        )
        with self._store.reading() as conn:
            return list(conn.execute(query).scalars())

    def indexing(self, course_ids: Iterable[str]) -> dict[str, tuple[list[str], int]]:
        """What search documents carry of eligibility: course id -> (ids of the schemes it is
        eligible for, the newest seq of its eligibility rows). Courses without rows are left out.
        The seq makes a document's version (search.sync): every change of a course's eligible set
        takes a new seq, so an index document older than its eligibility is seen as stale."""
        ids = list(dict.fromkeys(course_ids))
        found: dict[str, tuple[list[str], int]] = {}
        query = sa.select(
            course_eligibility.c.course_id,
            course_eligibility.c.scheme_id,
            course_eligibility.c.eligible,
            course_eligibility.c.seq,
        ).order_by(course_eligibility.c.scheme_id)
        with self._store.reading() as conn:
            for start in range(0, len(ids), BATCH):
                chunk = query.where(course_eligibility.c.course_id.in_(ids[start : start + BATCH]))
                for course_id, scheme_id, eligible, seq in conn.execute(chunk):
                    names, newest = found.get(course_id, ([], 0))
                    if eligible:
                        names.append(scheme_id)
                    found[course_id] = (names, max(newest, seq or 0))
        return found

    def eligible_schemes(self, course_ids: Iterable[str]) -> dict[str, list[str]]:
        """Course id -> ids of the schemes it is eligible for (courses with none are left out)."""
        ids = list(dict.fromkeys(course_ids))
        found: dict[str, list[str]] = {}
        with self._store.reading() as conn:
            for start in range(0, len(ids), BATCH):
                query = (
                    sa.select(course_eligibility.c.course_id, course_eligibility.c.scheme_id)
                    .where(
                        course_eligibility.c.course_id.in_(ids[start : start + BATCH]),
                        course_eligibility.c.eligible.is_(True),
                    )
                    .order_by(course_eligibility.c.scheme_id)
                )
                for course_id, scheme_id in conn.execute(query):
                    found.setdefault(course_id, []).append(scheme_id)
        return found

    def eligibility_changes_since(
        self, scheme_id: str, seq: int, limit: int = 1000
    ) -> list[EligibilityEntry]:
        """The scheme's feed entries with a seq above `seq`, ascending (see the module docstring)."""
        query = (
            sa.select(course_eligibility)
            .where(course_eligibility.c.scheme_id == scheme_id, course_eligibility.c.seq > seq)
            .order_by(course_eligibility.c.seq)
            .limit(limit)
        )
        with self._store.reading() as conn:
            rows = conn.execute(query).all()
            stored = {s.id: s for s in stored_courses(conn, courses.c.id.in_([r.course_id for r in rows]))}
        return [
            EligibilityEntry(
                row.seq,
                scheme_id,
                row.course_id,
                row.eligible,
                row.since,
                _reasons(row),
                stored[row.course_id],
            )
            for row in rows
        ]

    def head(self) -> int:
        """The newest committed seq (0 before any change): a cursor at the end of every feed."""
        with self._store.reading() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one())


# --- the refresh (module level: pure functions of a connection) -----------------------------------


def _all_schemes(conn: Connection, scheme_id: str | None) -> list[Scheme]:
    query = sa.select(schemes).order_by(schemes.c.id)
    if scheme_id is not None:
        query = query.where(schemes.c.id == scheme_id)
    return [_scheme(row) for row in conn.execute(query)]


ACTIVE_JOB_STATES = ("queued", "running")
"""`scheme_jobs.status` values of a job still to switch in (catalogue.eligibility_jobs.JobStatus)."""


def _active_jobs_query(scheme_ids: Sequence[str]) -> sa.Select[Any]:
    return sa.select(scheme_jobs.c.id, scheme_jobs.c.definition, scheme_jobs.c.scheme_id).where(
        scheme_jobs.c.scheme_id.in_(list(scheme_ids)), scheme_jobs.c.status.in_(ACTIVE_JOB_STATES)
    )


def _active_jobs(conn: Connection, scheme_ids: Sequence[str]) -> list[tuple[int, Scheme]]:
    """The jobs in progress of the schemes, with the definitions they evaluate."""
    if not scheme_ids:
        return []
    query = _active_jobs_query(scheme_ids)
    return [(job_id, definition_scheme(d, sid)) for job_id, d, sid in conn.execute(query)]


def stage(conn: Connection, jobs: Sequence[tuple[int, Scheme]], stored: Sequence[StoredCourse]) -> int:
    """Evaluate `stored` for each (job id, definition) and write the staged rows (replacing what
    the job staged for them before); returns how many rows were written."""
    if not jobs or not stored:
        return 0
    course_ids = [c.id for c in stored]
    manual = _decisions(conn, sorted({s.id for _, s in jobs}), course_ids)
    now = _now()
    rows = [
        _staged_row(job_id, course, decide(definition, course, manual.get((definition.id, course.id))), now)
        for job_id, definition in jobs
        for course in stored
    ]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(scheme_staging)
    keep = ("eligible", "reasons", "manual", "course_seq", "evaluated_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_id", "course_id"], set_={name: stmt.excluded[name] for name in keep}
    )
    conn.execute(stmt, rows)
    return len(rows)


def _staged_row(job_id: int, course: StoredCourse, decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "course_id": course.id,
        "eligible": decision.eligible,
        "reasons": [r.to_dict() for r in decision.reasons],
        "manual": decision.manual,
        "course_seq": course.seq,
        "evaluated_at": now,
    }


def definition_data(scheme: Scheme) -> dict[str, Any]:
    """What a job evaluates and switches in: the scheme's definition as JSON data."""
    return {
        "name": scheme.name,
        "description": scheme.description,
        "owner": scheme.owner,
        "rules": rules_to_data(scheme.rules),
        "accredited": list(scheme.accredited),
    }


def definition_scheme(data: Any, scheme_id: str) -> Scheme:
    """The scheme `scheme_id` as a job's definition describes it."""
    return Scheme(
        id=scheme_id,
        name=str(data["name"]),
        owner=data.get("owner"),
        rules=parse_rules(data["rules"]),
        accredited=tuple(data.get("accredited") or ()),
        description=str(data.get("description") or ""),
    )


def _refresh(
    conn: Connection, wanted: Sequence[Scheme], stored: Sequence[StoredCourse], *, enqueue: bool = True
) -> list[EligibilityChange]:
    """Evaluate `stored` for the evaluated schemes among `wanted` and write what changed;
    feed-visible changes get seqs (and, with `enqueue`, index outbox entries)."""
    wanted = [s for s in wanted if s.evaluated_at is not None]
    if not stored or not wanted:
        return []
    scheme_ids, course_ids = [s.id for s in wanted], [c.id for c in stored]
    manual = _decisions(conn, scheme_ids, course_ids)
    known = _known(conn, scheme_ids, course_ids)
    now = _now()
    rows: list[dict[str, Any]] = []
    visible: list[dict[str, Any]] = []
    for scheme in wanted:
        for course in stored:
            decision = decide(scheme, course, manual.get((scheme.id, course.id)))
            previous = known.get((scheme.id, course.id))
            row = _row(scheme.id, course, decision, previous, now)
            if row is None:
                continue
            rows.append(row)
            if _feed_visible(decision, course, previous):
                visible.append(row)
    if visible:
        stmt = changes.insert().returning(changes.c.seq, sort_by_parameter_order=True)
        params = [{"course_id": r["course_id"], "run_id": None, "kind": KIND} for r in visible]
        for row, seq in zip(visible, conn.execute(stmt, params).scalars(), strict=True):
            row["seq"] = seq
        if enqueue:
            seqs = [row["seq"] for row in visible]
            enqueue_span(conn, min(seqs), max(seqs))
    _upsert(conn, rows)
    return [EligibilityChange(r["scheme_id"], r["course_id"], r["eligible"], r["seq"]) for r in visible]


def _feed_visible(decision: Decision, course: StoredCourse, previous: sa.Row[Any] | None) -> bool:
    was = previous is not None and previous.eligible
    if decision.eligible != was:
        return True
    return decision.eligible and previous is not None and previous.course_seq != course.seq


def _row(
    scheme_id: str, course: StoredCourse, decision: Decision, previous: sa.Row[Any] | None, now: datetime
) -> dict[str, Any] | None:
    """The row to write, or None when nothing about it changed."""
    reasons = [r.to_dict() for r in decision.reasons]
    if (
        previous is not None
        and previous.eligible == decision.eligible
        and previous.manual == decision.manual
        and previous.course_seq == course.seq
        and list(previous.reasons) == reasons
    ):
        return None
    since = now if previous is None or previous.eligible != decision.eligible else previous.since
    return {
        "scheme_id": scheme_id,
        "course_id": course.id,
        "eligible": decision.eligible,
        "since": since,
        "reasons": reasons,
        "manual": decision.manual,
        "seq": None if previous is None else previous.seq,
        "course_seq": course.seq,
        "evaluated_at": now,
    }


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(course_eligibility)
    keep = ("eligible", "since", "reasons", "manual", "seq", "course_seq", "evaluated_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["scheme_id", "course_id"], set_={name: stmt.excluded[name] for name in keep}
    )
    conn.execute(stmt, rows)


def _known(
    conn: Connection, scheme_ids: list[str], course_ids: list[str]
) -> dict[tuple[str, str], sa.Row[Any]]:
    query = sa.select(course_eligibility).where(
        course_eligibility.c.scheme_id.in_(scheme_ids), course_eligibility.c.course_id.in_(course_ids)
    )
    return {(row.scheme_id, row.course_id): row for row in conn.execute(query)}


def _decisions(
    conn: Connection, scheme_ids: list[str], course_ids: list[str]
) -> dict[tuple[str, str], ManualDecision]:
    query = sa.select(scheme_decisions).where(
        scheme_decisions.c.scheme_id.in_(scheme_ids), scheme_decisions.c.course_id.in_(course_ids)
    )
    return {(row.scheme_id, row.course_id): _decision(row) for row in conn.execute(query)}


def _decision(row: sa.Row[Any]) -> ManualDecision:
    return ManualDecision(
        row.scheme_id, row.course_id, row.eligible, row.note, row.decided_by, row.decided_at
    )


# --- row <-> value conversions --------------------------------------------------------------------


def _scheme(row: sa.Row[Any]) -> Scheme:
    return Scheme(
        id=row.id,
        name=row.name,
        owner=row.owner,
        rules=parse_rules(row.rules),
        accredited=tuple(row.accredited or ()),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        evaluated_at=row.evaluated_at,
    )


def _reasons(row: sa.Row[Any]) -> tuple[Reason, ...]:
    return tuple(Reason(r["rule"], r["message"]) for r in row.reasons or ())


def _eligibility(row: sa.Row[Any]) -> CourseEligibility:
    return CourseEligibility(
        scheme_id=row.scheme_id,
        course_id=row.course_id,
        eligible=row.eligible,
        since=row.since,
        reasons=_reasons(row),
        manual=row.manual,
        seq=row.seq,
        evaluated_at=row.evaluated_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)
