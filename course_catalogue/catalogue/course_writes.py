"""Writing courses, raw payloads and their changes in bulk: the store side of a harvest.

Pure functions of a connection inside the caller's transaction (`catalogue.harvest_apply` and
`CatalogueStore.confirm_withdrawals`). Every change takes a seq from the `changes` table; each
function returns the (first, last) seq range its changes took, None when there were none.
New rows go in with COPY on PostgreSQL and the driver's executemany on SQLite; updates with
SQLAlchemy's executemany.

What the store can hold is decided before any transaction, by `unstorable`: a record holding a
value no backend can store (a NUL character, a lone surrogate) is rejected on its own, on every
backend, so a dry run, SQLite and PostgreSQL agree on which records land and one record never
fails a whole run's transaction.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue import jsontext
from course_catalogue.catalogue.changes import Candidate, CourseStatus
from course_catalogue.catalogue.outbox import enqueue_span
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.schema import UTCDateTime, changes, courses, item_reports, raw_items
from course_catalogue.catalogue.store_rows import CHUNK, chunks

Span = tuple[int, int]
"""First and last seq of a group of changes."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_NUL = b"\\u0000"  # how orjson writes U+0000 (a backslash before it is escaped too)


def unstorable(record: Mapping[str, Any]) -> Issue | None:
    """The ERROR that rejects a record (a `course_to_dict` value) holding text no backend can
    store, else None. A NUL character (U+0000): PostgreSQL's text and JSON types refuse it, and
    its COPY then failed the whole run, good records included. A lone surrogate (a JSON
    `"\\ud800"` escape): not a character, it has no UTF-8 form for any backend. SQLite could keep a
    NUL, but a record must not land or fail depending on the backend or on a dry run.

    Rejected, not repaired: a NUL in course text is the mark of a broken export (a wrong encoding
    declared, a binary field), the record's other values are suspect too, and its stored version
    (if any) stays as it was; the raw payload keeps the published bytes either way. The issue
    names the field and the character's position, never the text around it.

    One orjson serialisation per record (a few microseconds) decides; the record is only walked
    when that finds something."""
    try:
        if _ESCAPED_NUL not in orjson.dumps(record):
            return None
    except orjson.JSONEncodeError:  # a lone surrogate, or a value orjson has no form for
        pass
    found = _first_unstorable(record, "")
    if found is None:
        return None
    path, position, what = found
    top, _, rest = path.partition(".")
    field = rest if top in {"originals", "provenance"} else top  # originals.<target>: the target
    message = (
        f"{path} holds {what} at character {position + 1}, which the catalogue cannot store: the "
        "record was rejected and its stored version, if any, is kept"
    )
    field = field.split(".", 1)[0].split("[", 1)[0]
    return Issue(Severity.ERROR, message, field=field or None, code="unstorable-value")


def _first_unstorable(value: Any, path: str) -> tuple[str, int, str] | None:
    """(path, position, description) of the first NUL or lone surrogate in keys or strings."""
    if isinstance(value, str):
        at = value.find("\x00")
        if at >= 0:
            return path, at, "a NUL character (U+0000)"
        match = _SURROGATE.search(value)
        if match is not None:
            return path, match.start(), f"a lone surrogate (U+{ord(match.group()):04X}, not a character)"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _first_unstorable(key, where) if isinstance(key, str) else None
            found = found or _first_unstorable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _first_unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def insert_courses(
    conn: Connection, added: Sequence[Candidate], source_id: str, run_id: int | None, now: datetime
) -> Span | None:
    """Insert new courses with their raw payloads and an "added" change each."""
    seqs = _log(conn, [c.course_id for c in added], run_id, "added")
    insert_many(conn, courses, [_course_row(c, source_id, seqs, run_id, now) for c in added])
    insert_many(conn, raw_items, [_raw_row(c, now) for c in added])
    return _span(seqs)


def update_courses(
    conn: Connection, updated: Sequence[Candidate], run_id: int | None, now: datetime
) -> Span | None:
    """Replace stored courses (active again if they were withdrawn) and their raw payloads,
    with an "updated" change each."""
    seqs = _log(conn, [c.course_id for c in updated], run_id, "updated")
    conn.execute(_UPDATE_COURSE, [_update_row(c, seqs, run_id, now) for c in updated])
    store_raw(conn, updated, now)
    return _span(seqs)


def merge_spans(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), max(a[1], b[1]))


def withdraw(
    conn: Connection, ids: Sequence[str], run_id: int | None, now: datetime
) -> tuple[int, int] | None:
    """Turn active courses into tombstones (record and raw payload kept); returns the seq range
    their changes took, None when there were none."""
    span: tuple[int, int] | None = None
    for chunk in chunks(ids, CHUNK):
        seqs = _log(conn, chunk, run_id, "withdrawn")
        params = [{"id_": cid, "seq_": seqs[cid], "now_": now, "last_run_id_": run_id} for cid in chunk]
        conn.execute(_WITHDRAW_COURSE, params)
        span = merge_spans(span, _span(seqs))
    return span


_UPDATE_COURSE = (
    courses.update()
    .where(courses.c.id == sa.bindparam("id_"))
    .values(
        status=sa.bindparam("status_"),
        content_hash=sa.bindparam("content_hash_"),
        record=sa.bindparam("record_"),
        provider_key=sa.bindparam("provider_key_"),
        provider_name=sa.bindparam("provider_name_"),
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


def _log(conn: Connection, ids: list[str], run_id: int | None, kind: str) -> dict[str, int]:
    """Append one change per course, each with its index outbox entry (same transaction: see
    catalogue/outbox.py); returns course id -> its new seq."""
    if conn.dialect.name == "postgresql":
        # one statement per chunk: INSERT ... SELECT unnest(array) beats executemany by far
        ids_param = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String()))
        rows = sa.select(sa.func.unnest(ids_param), sa.literal(run_id, sa.Integer()), sa.literal(kind))
        stmt = changes.insert().from_select(["course_id", "run_id", "kind"], rows)
        result = conn.execute(stmt.returning(changes.c.course_id, changes.c.seq), {"ids": ids})
    else:
        stmt = changes.insert().returning(changes.c.course_id, changes.c.seq)
        result = conn.execute(stmt, [{"course_id": cid, "run_id": run_id, "kind": kind} for cid in ids])
    seqs = {cid: seq for cid, seq in result}
    span = _span(seqs)
    if span is not None:
        enqueue_span(conn, *span)
    return seqs


def _span(seqs: Mapping[str, int]) -> tuple[int, int] | None:
    return (min(seqs.values()), max(seqs.values())) if seqs else None


def insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT of new rows: COPY on PostgreSQL (several times faster than psycopg's
    executemany for wide rows), the driver's executemany on SQLite. Either way each value goes
    through its column's own bind processing once, without SQLAlchemy's per-row bookkeeping
    (which cost as much as the insert itself)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, rows)
        return
    # the compiled INSERT lists its columns in table order: give the values in that order too
    names = tuple(column.name for column in table.c if column.name in rows[0])
    sql, processors = _plain_insert(conn.dialect, table, names)
    # Timestamp columns hold the same value (the run's `now`) in every row, and SQLite's
    # DateTime processor formats it anew each time (~5 us a value, 4 per course): format it once.
    processors = [
        functools.lru_cache(maxsize=4)(p) if p is not None and _is_datetime(table.c[n]) else p
        for n, p in zip(names, processors, strict=True)
    ]
    values = [
        tuple(row[n] if p is None else p(row[n]) for n, p in zip(names, processors, strict=True))
        for row in rows
    ]
    conn.exec_driver_sql(sql, values)


@functools.lru_cache(maxsize=16)
def _plain_insert(dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The positional INSERT of `names` into `table` and each column's bind processor (or None)."""
    sql = str(table.insert().compile(dialect=dialect, column_keys=list(names)))
    return sql, [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]


def _is_datetime(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, (sa.DateTime, UTCDateTime))


def _copy(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """COPY rows into a PostgreSQL table; JSON values are serialised here."""
    names = list(rows[0])
    is_json = [isinstance(table.c[name].type, sa.JSON) for name in names]
    quote = conn.dialect.identifier_preparer
    sql = f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    dbapi_connection: Any = conn.connection.driver_connection
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [jsontext.dumps(row[n]) if j else row[n] for n, j in zip(names, is_json, strict=True)]
                )
    except conn.dialect.loaded_dbapi.Error as exc:  # raw driver call: wrap it like SQLAlchemy would
        raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc


_GROWN_TABLES = (courses, raw_items, changes, item_reports)
"""The tables a harvest grows that its own later statements look up by a list or a range."""


def refresh_statistics(conn: Connection) -> None:
    """On PostgreSQL, ANALYZE the tables a harvest grows, inside the caller's transaction (which
    counts its own new rows): the planner's statistics then describe what the transaction sees,
    not the table before it (autovacuum cannot see uncommitted rows). ANALYZE samples a bounded
    number of rows (a second or so at a million courses) and holds a lock only against other
    ANALYZE and VACUUM runs of those tables until the commit. SQLite's planner keeps preferring
    the indexes without statistics: nothing to do there."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"ANALYZE {', '.join(quote.format_table(t) for t in _GROWN_TABLES)}")


def store_raw(conn: Connection, chunk: Sequence[Candidate], now: datetime) -> None:
    """Insert or replace the raw payloads of `chunk` (no change, no seq: the record is the same)."""
    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(raw_items)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[raw_items.c.course_id],
        set_={name: excluded[name] for name in ("media_type", "content", "digest", "stored_at")},
    )
    conn.execute(stmt, [_raw_row(c, now) for c in chunk])


def _course_row(
    candidate: Candidate, source_id: str, seqs: dict[str, int], run_id: int | None, now: datetime
) -> dict[str, Any]:
    cid = candidate.course_id
    return {
        "id": cid,
        "source_id": source_id,
        "provider_ref": candidate.provider_ref,
        "status": CourseStatus.ACTIVE.value,
        "content_hash": candidate.content_hash,
        "record": candidate.stored_value(),
        **candidate.provider_columns(),
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
    cid = candidate.course_id
    columns = candidate.provider_columns()
    return {
        "id_": cid,
        "status_": CourseStatus.ACTIVE.value,
        "content_hash_": candidate.content_hash,
        "record_": candidate.stored_value(),
        "provider_key_": columns["provider_key"],
        "provider_name_": columns["provider_name"],
        "seq_": seqs[cid],
        "updated_at_": now,
        "last_run_id_": run_id,
    }


def _raw_row(candidate: Candidate, now: datetime) -> dict[str, Any]:
    return {
        "course_id": candidate.course_id,
        "media_type": candidate.media_type,
        "content": candidate.raw,
        "digest": raw_digest(candidate.raw),
        "stored_at": now,
    }


def raw_digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()
