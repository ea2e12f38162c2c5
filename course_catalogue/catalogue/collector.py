"""Cyclic garbage collection paced by a bulk job (a harvest, a reindex) instead of by allocations.

Why: CPython's collector runs whenever allocations outnumber deallocations by a threshold, and
runs a *full* collection each time the heap has grown by a quarter. A bulk job allocates
millions of objects and keeps many of them (a batch of records, the spool's first 10,000), so the
automatic collector scanned the same live objects over and over: measured at 10k CSV records,
~1,800 young and 11 full collections took a quarter of the harvest's CPU.

`paced_collection(every)` turns the automatic collector off for the job and yields a `Pacer`;
the job calls `pacer.tick(n)` as it handles records, and every `every` records the young
generations (0 and 1) are collected. Their survivors move to the oldest generation, which is not
scanned again during the job. Cyclic garbage is still freed within `every` records (unless a
cycle reaches into the oldest generation, which the next automatic full collection after the job
frees), so memory stays bounded by the batch, not the feed.

The collector's state is process-wide: nested and concurrent jobs (threads) are counted, and
automatic collection resumes, if it was on, when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_was_enabled = False


class Pacer:
    """Collects the young generations every `every` ticks (records handled)."""

    __slots__ = ("_every", "_since")

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self._every = every
        self._since = 0

    def tick(self, records: int = 1) -> None:
        self._since += records
        if self._since >= self._every:
            self._since = 0
            gc.collect(1)


@contextmanager
def paced_collection(every: int) -> Iterator[Pacer]:
    """Automatic cyclic collection off while the block runs; the yielded `Pacer` collects the
    young generations every `every` records it is told about. Restores the collector's previous
    state when the last concurrent block ends, also on error."""
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield Pacer(every)
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
