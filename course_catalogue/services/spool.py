"""A run's valid records on disk while its feed is read, so the store transaction is short.

The harvest pipeline maps a whole feed before it opens the store transaction: a long feed then
holds the database's write lock (SQLite) or the seq lock (PostgreSQL) only for the writes, not
for the minutes its parsing and mapping take, and other writers (another source's harvest, the
dashboard) are not kept waiting past SQLite's busy timeout. The exception is a large feed mapped
by worker processes (`services.workers`): its transaction opens when the workers start, so the
store's writes overlap the mapping (the spool then holds only the batches settled before;
`services.pipeline._Output` says what that costs and which guarantees stay).

Like `tempfile.SpooledTemporaryFile`, the first `in_memory` records stay in memory as they are;
later batches go to an anonymous temporary file, pickled (the file is ours, written and read by
this process only) in their stored dict form, and come back as `Candidate`s built from that
record (`Candidate.from_record`: the course is rebuilt by the codec, the store's own decoding,
only if something asks for it). Memory is so bounded by `in_memory` records whatever the feed's
size, and a typical feed pays nothing for the disk round trip (~30 us per record).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import IO

from course_catalogue.catalogue.changes import Candidate
from course_catalogue.catalogue.item_memory import Carried

Spooled = Candidate | Carried

IN_MEMORY = 10_000
"""Records a spool keeps in memory before it writes to disk (~13 KB each for a CSV record)."""


class Spool:
    """Batches of candidates written in order and read back in the same order, once or more."""

    def __init__(self, in_memory: int | None = None) -> None:
        self._in_memory = IN_MEMORY if in_memory is None else in_memory
        self._memory: list[list[Spooled]] = []
        self._file: IO[bytes] | None = None
        self._batches = 0  # on disk
        self.records = 0

    def offer(self, candidates: Sequence[Spooled]) -> None:
        """Append one batch (the `Intake.flush` target)."""
        self.records += len(candidates)
        if self._file is None and self.records <= self._in_memory:
            self._memory.append(list(candidates))
            return
        if self._file is None:
            # Closed by close() / the with-block: the spool lives across the whole run.
            self._file = tempfile.TemporaryFile(prefix="catalogue-harvest-")  # noqa: SIM115
        rows = [
            c
            if isinstance(c, Carried)
            else (dict(c.stored_record()), c.content_hash, c.raw, c.media_type, c.digest, c.report)
            for c in candidates
        ]
        pickle.dump(rows, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._batches += 1

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def batches(self) -> Iterator[list[Spooled]]:
        """Every batch, in the order offered (the in-memory ones came first)."""
        yield from self._memory
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        for _ in range(self._batches):
            rows = pickle.load(self._file)  # our own file, see the module docstring
            yield [row if isinstance(row, Carried) else Candidate.from_record(*row) for row in rows]

    def close(self) -> None:
        self._memory = []
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
