"""The refs one harvest run has seen, with each one's first occurrence, in bounded memory.

A run remembers every provider_ref of its feed until its end: a repeated ref is reported against
its first occurrence (`Intake._repeat`), and the refs not seen are the withdrawals
(`HarvestSession.finish`). In a dict that is ~250 bytes per record (the ref, a digest and the
first pointer, and the dict's slot): 250 MB for a million-record feed, the largest part of a
harvest's memory that grew with the feed. Like `services.spool`, the first `in_memory` refs stay
in a dict; past that they go, a dict's worth at a time, to a temporary SQLite file of our own
(deleted when closed), looked up by its primary key (a few microseconds per new ref, ~0.3% of
a record's harvest), so memory stays bounded whatever the feed's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Set

IN_MEMORY = 100_000
"""Refs a run keeps in memory before it moves them to its file (~25 MB)."""


class SeenRefs(Set[str]):
    """provider_ref -> the packed first occurrence its run noted (`first`); a read-only set of
    the refs for the end of the run (membership, length, iteration). Used by one thread at a
    time (the harvesting thread, then the store's writer at the run's end); `close` deletes
    the file."""

    def __init__(self, in_memory: int | None = None) -> None:
        in_memory = IN_MEMORY if in_memory is None else in_memory
        if in_memory < 1:
            raise ValueError("in_memory must be at least 1")
        self._in_memory = in_memory
        self._memory: dict[str, bytes] = {}
        self._db: sqlite3.Connection | None = None
        self._on_disk = 0

    def first(self, ref: str, occurrence: bytes) -> bytes | None:
        """The first occurrence noted for `ref`; None when there is none, and `occurrence` is
        noted as it."""
        found = self._memory.get(ref)
        if found is not None:
            return found
        if self._db is not None:
            row = self._db.execute("SELECT first FROM seen WHERE ref = ?", (ref,)).fetchone()
            if row is not None:
                return bytes(row[0])
        if len(self._memory) >= self._in_memory:
            self._spill()
        self._memory[ref] = occurrence
        return None

    def __contains__(self, ref: object) -> bool:
        if ref in self._memory:
            return True
        if self._db is None or not isinstance(ref, str):
            return False
        return self._db.execute("SELECT 1 FROM seen WHERE ref = ?", (ref,)).fetchone() is not None

    def __len__(self) -> int:
        return len(self._memory) + self._on_disk

    def __iter__(self) -> Iterator[str]:
        yield from list(self._memory)
        if self._db is not None:
            for (ref,) in self._db.execute("SELECT ref FROM seen"):
                yield ref

    def close(self) -> None:
        """Delete the file (the set is empty afterwards)."""
        self._memory.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        self._on_disk = 0

    def _spill(self) -> None:
        if self._db is None:
            # "": a private temporary file, deleted when closed. Written by one thread at a time,
            # but not always the one that opened it (see the class), hence check_same_thread.
            self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to roll back
            self._db.execute("CREATE TABLE seen (ref TEXT PRIMARY KEY, first BLOB) WITHOUT ROWID")
        with self._db:  # one transaction per spill
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO seen VALUES (?, ?)", self._memory.items())
        self._on_disk += len(self._memory)
        self._memory.clear()
