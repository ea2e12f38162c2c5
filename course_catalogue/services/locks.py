"""One harvest per source at a time: a lock per source id that dies with the process holding it.

Two deployments, two mechanisms, one interface (`SourceLocks.hold`):

* SQLite (embedded, one machine): an OS file lock, `fcntl.flock` on `<lock_dir>/<source>.lock`.
  flock locks belong to an open file description, so two threads of one process exclude each
  other as well as two processes; the kernel drops the lock when the holder exits or is killed.
  The file is never deleted (deleting a lock file lets a third party lock a new inode while the
  old one is still held); it holds the holder's pid, for the "already running" message.
* PostgreSQL (workers on several machines): a session-level advisory lock,
  `pg_try_advisory_lock(key)`, on a dedicated connection kept open (in autocommit, so never
  "idle in transaction") for the run's duration. The server drops it when that connection ends,
  so a killed worker frees its sources at once. The key is a 64-bit hash of the schema and the
  source id: catalogues sharing a database in different schemas do not block each other, and the
  one-bigint key space is apart from the store's own seq lock (a hash collision with it is as
  unlikely as any 64-bit collision).

Neither lock blocks: a second attempt raises `AlreadyRunning` at once, so a scheduler skips
rather than queues behind a long harvest.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from course_catalogue.catalogue.errors import ConfigurationError, Conflict

_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # Source ids; also safe as file names


class AlreadyRunning(Conflict):
    """Another harvest of the source holds its lock; nothing was done (HTTP 409 in the API)."""

    def __init__(self, source_id: str, holder: str | None = None) -> None:
        detail = f" ({holder})" if holder else ""
        super().__init__(f"a harvest of source {source_id!r} is already running{detail}")
        self.source_id = source_id


class SourceLocks(Protocol):
    """Per-source exclusive locks; implementations are thread-safe."""

    def hold(self, source_id: str) -> AbstractContextManager[None]:
        """Hold the source's lock for the `with` block; AlreadyRunning at once if it is taken."""
        ...

    def close(self) -> None:
        """Release what the locks keep open between holds (idempotent)."""
        ...


def open_locks(
    database_url: str, lock_dir: str | Path, *, namespace: str = "catalogue-harvest"
) -> SourceLocks:
    """The locks that fit the catalogue database: advisory locks on PostgreSQL, else file locks
    under `lock_dir` (created on first use). Locks of other kinds than harvests (the index
    outbox's) use their own `namespace` (PostgreSQL) and `lock_dir` (files), so their names can
    never collide with a source id."""
    try:
        backend = sa.make_url(database_url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"bad database URL {database_url!r}: {exc}") from exc
    if backend == "postgresql":
        return AdvisoryLocks(database_url, namespace=namespace)
    return FileLocks(lock_dir)


def _check(source_id: str) -> None:
    if not _SAFE_ID.match(source_id):
        raise ValueError(f"not a source id: {source_id!r}")


class FileLocks:
    """flock-based locks in one directory (one machine: the SQLite deployment)."""

    def __init__(self, lock_dir: str | Path) -> None:
        self.lock_dir = Path(lock_dir)

    @contextmanager
    def hold(self, source_id: str) -> Iterator[None]:
        """Hold the source's lock for the `with` block; AlreadyRunning if another holder has it."""
        _check(source_id)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        path = self.lock_dir / f"{source_id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning(source_id, _holder(fd)) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing to release: every lock is closed when its `with` block ends."""


def _holder(fd: int) -> str | None:
    pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f"process {pid}" if pid.isdigit() else None


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, one dedicated connection per held lock."""

    def __init__(self, database_url: str, *, namespace: str = "catalogue-harvest") -> None:
        # NullPool: a released lock's connection is closed, never parked in a pool where a
        # missed unlock would keep the source locked for as long as the pool lives.
        self._engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        self._namespace = namespace

    @contextmanager
    def hold(self, source_id: str) -> Iterator[None]:
        """Hold the source's lock for the `with` block; AlreadyRunning if another session has it."""
        _check(source_id)
        with self._engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            key = lock_key(f"{schema}:{source_id}", self._namespace)
            if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one():
                raise AlreadyRunning(source_id, _pg_holder(conn, key))
            try:
                yield
            finally:
                # Closing the connection would release it too; unlocking first says so explicitly
                # and keeps a pooled connection (should anyone add a pool) from holding it.
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))

    def close(self) -> None:
        self._engine.dispose()


def lock_key(name: str, namespace: str = "catalogue-harvest") -> int:
    """A signed 64-bit advisory lock key for a name (stable across processes and versions)."""
    digest = hashlib.blake2b(f"{namespace}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _pg_holder(conn: sa.Connection, key: int) -> str | None:
    """Which backend process holds the advisory lock `key`, for the message (best effort)."""
    # pg_locks shows a one-bigint key as its high and low 32 bits in classid and objid
    query = sa.text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
    )
    params = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}
    pid = conn.execute(query, params).scalar()
    return f"database session {pid}" if pid is not None else None
