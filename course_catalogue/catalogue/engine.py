"""Opening a catalogue database: SQLite (file or memory) or PostgreSQL, with the store's settings.

SQLite connections run in WAL mode with foreign keys and a busy timeout, and the stdlib driver's
own transaction handling is off: BEGIN is emitted by a "begin" hook, as BEGIN IMMEDIATE on
connections that carry the `WRITER` execution option (see `catalogue.store` for why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from course_catalogue.catalogue import jsontext
from course_catalogue.catalogue.errors import ConfigurationError

_JSON_CODEC: dict[str, Any] = {"json_serializer": jsontext.dumps, "json_deserializer": jsontext.loads}
# JSON columns (every record, written once per harvested course) through orjson: see jsontext.

WRITER = "catalogue_writer"
"""Execution option of a write connection: the SQLite "begin" hook then emits BEGIN IMMEDIATE."""


def open_engine(url: str) -> Engine:
    """An engine for a catalogue URL: sqlite (parent directory created, WAL, foreign keys,
    busy timeout) or postgresql. Raises ConfigurationError for any other or a malformed URL."""
    try:
        parsed = sa.make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        if backend == "postgresql":
            return sa.create_engine(parsed, pool_pre_ping=True, **_JSON_CODEC)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigurationError(f"bad database URL {url!r}: {exc}") from exc
    raise ConfigurationError(
        f"unsupported database {backend!r}: use a sqlite:/// or postgresql+psycopg:// URL"
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        # one shared connection, or every checkout would see a different empty database
        engine = sa.create_engine(url, poolclass=sa.pool.StaticPool, **_JSON_CODEC)
    else:
        Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **_JSON_CODEC)

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
        immediate = connection.get_execution_options().get(WRITER, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
