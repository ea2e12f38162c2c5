"""Mapping and validation of a large feed in worker processes, so a harvest uses every core.

The harvesting process reads the feed, recalls unchanged items and accounts every item in feed
order (`services.intake.Intake.settle`); the item-level work (`MappingWork.process`: map, fill,
validate, serialise, hash) of the items that need it runs in a pool of forked processes, a
batch per task, a few batches in flight. Results come back per batch in submission order and
are settled in feed order, so a run's outcome, report and stored courses are those of a serial
run (the pipeline tests compare them).

Workers are forked when the pool starts, so they inherit the run's compiled spec, registration
and policy without pickling them; only items go out (bytes, media type, pointer, guid) and
`Processed` results come back. Where a process cannot fork workers (a daemonic process, such as
a prefork Celery worker, or a platform without fork), `MappingPool.start` returns None and the
run stays serial.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from datetime import datetime
from multiprocessing.pool import AsyncResult, Pool
from typing import TYPE_CHECKING

from course_catalogue.mappings.coverage import CoverageTracker, RecordProbe
from course_catalogue.mappings.items import RawItem

if TYPE_CHECKING:
    from course_catalogue.services.intake import MappingWork, Processed

logger = logging.getLogger(__name__)

Shipped = tuple[bytes, str, str | None, str | None]
"""An item as sent to a worker: content, media type, pointer, guid (`parsed` stays behind)."""

# What a forked worker inherits: set by MappingPool.start just before it forks.
_WORK: MappingWork | None = None
_TRACKER: CoverageTracker | None = None
_WHEN: datetime | None = None


def _process(items: list[Shipped], settled: frozenset[str]) -> list[Processed]:
    """In a worker: process a batch of items with the run's work (`settled`: the coverage paths
    the run had settled when it sent them, see `RecordProbe`)."""
    assert _WORK is not None and _WHEN is not None, "the pool forks after MappingPool.start set them"
    out = []
    for content, media_type, pointer, guid in items:
        probe = RecordProbe(_TRACKER, settled) if _TRACKER is not None else None
        out.append(_WORK.process(RawItem(content, media_type, pointer, guid), _WHEN, probe))
    return out


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


class MappingPool:
    """Worker processes running one run's `MappingWork`. Use `start`, then `submit` batches and
    `close` (or the with-block)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    def start(
        cls, work: MappingWork, tracker: CoverageTracker | None, when: datetime, processes: int
    ) -> MappingPool | None:
        """A pool of `processes` forked workers, or None where this process cannot fork them."""
        global _WORK, _TRACKER, _WHEN
        if processes < 2 or multiprocessing.current_process().daemon:
            return None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform
            return None
        _WORK, _TRACKER, _WHEN = work, tracker, when
        try:
            pool = context.Pool(processes)
        except (OSError, AssertionError) as exc:  # out of processes; a daemonic parent
            logger.warning("mapping workers could not start (%s): the run maps in one process", exc)
            return None
        finally:
            _WORK = _TRACKER = _WHEN = None  # the forked workers have their copies
        return cls(pool)

    def submit(self, items: list[RawItem], settled: frozenset[str]) -> AsyncResult[list[Processed]]:
        """Process `items` in a worker; `settled`: the run's settled coverage paths now."""
        shipped = [(i.content, i.media_type, i.pointer, i.guid) for i in items]
        return self._pool.apply_async(_process, (shipped, settled))

    def close(self) -> None:
        self._pool.terminate()  # results were all collected, or the run failed: nothing to wait for
        self._pool.join()

    def __enter__(self) -> MappingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
