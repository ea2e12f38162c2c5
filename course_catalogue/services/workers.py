"""Mapping and validation of a large feed in worker processes, so a harvest uses every core.

The harvesting process reads the feed, recalls unchanged items and accounts every item in feed
order (`services.intake.Intake.settle`); the item-level work (`MappingWork.process`: map, fill,
validate, serialise, hash) of the items that need it runs in a pool of forked processes, a
batch per task, a few batches in flight. Results come back per batch in submission order and
are settled in feed order, so a run's outcome, report and stored courses are those of a serial
run (the pipeline tests compare them). While the workers map, the harvesting process writes the
batches already settled into the run's transaction (`services.pipeline`), so the store's writes
overlap the mapping instead of following it.

Workers are forked when the pool starts; they inherit the run's compiled spec, registration and
policy through the pool's initializer (fork passes its arguments without pickling them), so
only items go out (bytes, media type, pointer, guid) and results come back in the forms the
store keeps (`Returned`): the record as the store's JSON text with the few values the store reads
from it (`catalogue.changes.EncodedRecord`), written as it is; the issues located, as the rows an
item report stores (`catalogue.item_memory.issue_rows`), from which the harvesting process builds
only the issues the run's report keeps (most are only counted). Decoding each record, building
every issue and encoding the record again for the store were most of the harvesting process's
time per record mapped elsewhere (with the cyclic collector's work on those objects). Where a
process cannot fork workers (a daemonic process, such as a prefork Celery worker, or a platform
without fork), `MappingPool.start` returns None and the run stays serial. A worker that dies
(killed, out of memory) fails the run with `WorkerLost`: the pool notices (a
`concurrent.futures` pool breaks), where a `multiprocessing.Pool` would wait for ever.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING, Any

from course_catalogue.catalogue.changes import EncodedRecord
from course_catalogue.catalogue.runs import Issue
from course_catalogue.mappings.coverage import CoverageTracker, RecordProbe
from course_catalogue.mappings.items import RawItem
from course_catalogue.services.errors import WorkerLost
from course_catalogue.services.intake import Processed, located_rows

if TYPE_CHECKING:
    from course_catalogue.harvesters.base import Gathered
    from course_catalogue.services.intake import MappingWork

logger = logging.getLogger(__name__)

Shipped = RawItem | Callable[[], RawItem]
"""An item as sent to a worker: built (its `parsed` stays behind), or a deferred item's portable
build (`harvesters.base.Gathered.deferred`), which the worker runs."""

Returned = tuple[
    str | None,
    tuple[tuple[Any, ...], ...],
    EncodedRecord | None,
    str,
    Issue | None,
    str | None,
    RecordProbe | None,
    bytes | None,
]
"""A `Processed` as sent back: ref, issues as located rows, the record encoded (None when
rejected or refused), content hash, refused, fault, probe, and the item's content when the
worker built it."""


def _compact(p: Processed, item: RawItem, built: bool) -> Returned:
    """In a worker: `p` in the forms the store keeps (see the module docstring)."""
    encoded = None if p.record is None or p.refused is not None else EncodedRecord.of(p.record)
    rows = located_rows(p.issues, p.ref, item.pointer)
    content = item.content if built else None
    return (p.ref, rows, encoded, p.content_hash, p.refused, p.fault, p.probe, content)


def _expand(r: Returned) -> Processed:
    ref, rows, encoded, content_hash, refused, fault, probe, built = r
    return Processed(
        ref, [], None, content_hash, refused, fault, probe, encoded=encoded, rows=rows, built=built
    )


# A worker's run: set in each worker by `_inherit`, never in the harvesting process.
_WORK: MappingWork | None = None
_TRACKER: CoverageTracker | None = None
_WHEN: datetime | None = None


def _inherit(work: MappingWork, tracker: CoverageTracker | None, when: datetime) -> None:
    """The pool's initializer, in each forked worker."""
    global _WORK, _TRACKER, _WHEN
    _WORK, _TRACKER, _WHEN = work, tracker, when


def _process(items: list[Shipped], settled: frozenset[str]) -> list[Returned]:
    """In a worker: process a batch of items with the run's work (`settled`: the coverage paths
    the run had settled when it sent them, see `RecordProbe`)."""
    assert _WORK is not None and _WHEN is not None, "set by the pool's initializer"
    # The young generations, as the harvesting process's `paced_collection` does (the worker was
    # forked with automatic collection off): cyclic garbage goes once per batch.
    gc.collect(1)
    out = []
    for shipped in items:
        built = not isinstance(shipped, RawItem)
        item = shipped if isinstance(shipped, RawItem) else shipped()
        probe = RecordProbe(_TRACKER, settled) if _TRACKER is not None else None
        out.append(_compact(_WORK.process(item, _WHEN, probe), item, built))
    return out


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _shipped(gathered: Gathered) -> Shipped:
    made = gathered.made
    if isinstance(made, RawItem):
        return RawItem(made.content, made.media_type, made.pointer, made.guid)  # without `parsed`
    recipe = made.recipe()
    if recipe is not None:
        return recipe
    item = made.item()
    return RawItem(item.content, item.media_type, item.pointer, item.guid)


class Batch:
    """A batch of items in a worker's hands: `results()` waits for them."""

    def __init__(self, future: Future[list[Returned]]) -> None:
        self._future = future

    def results(self) -> list[Processed]:
        """The batch's results in item order; WorkerLost if a worker died meanwhile."""
        try:
            returned = self._future.result()
        except BrokenProcessPool as exc:
            raise WorkerLost(
                "a mapping worker process died (killed, or out of memory) before it returned its "
                "records; nothing was changed"
            ) from exc
        return [_expand(r) for r in returned]


class MappingPool:
    """Worker processes running one run's `MappingWork`. Use `start`, then `submit` batches and
    `close` (or the with-block)."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self._executor = executor

    @classmethod
    def start(
        cls, work: MappingWork, tracker: CoverageTracker | None, when: datetime, processes: int
    ) -> MappingPool | None:
        """A pool of `processes` forked workers, or None where this process cannot fork them."""
        if processes < 2 or multiprocessing.current_process().daemon:
            return None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform
            return None
        try:
            executor = ProcessPoolExecutor(
                processes, mp_context=context, initializer=_inherit, initargs=(work, tracker, when)
            )
        except (OSError, AssertionError) as exc:  # out of processes; a daemonic parent
            logger.warning("mapping workers could not start (%s): the run maps in one process", exc)
            return None
        try:
            # The workers fork at the first task: one now, so they fork before the run starts
            # threads of its own (the pipeline's writer), whose locks a fork would copy held.
            executor.submit(int).result()
        except (OSError, BrokenProcessPool) as exc:
            executor.shutdown(wait=False, cancel_futures=True)
            logger.warning("mapping workers could not start (%s): the run maps in one process", exc)
            return None
        return cls(executor)

    def submit(self, items: list[Gathered], settled: frozenset[str]) -> Batch:
        """Process `items` in a worker (built there when their build is portable); `settled`:
        the run's settled coverage paths now."""
        shipped = [_shipped(gathered) for gathered in items]
        try:
            return Batch(self._executor.submit(_process, shipped, settled))
        except BrokenProcessPool as exc:
            raise WorkerLost("a mapping worker process died; nothing was changed") from exc

    def close(self) -> None:
        # results were all collected, or the run failed: nothing to wait for
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> MappingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
