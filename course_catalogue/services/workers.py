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
only items go out (bytes, media type, pointer, guid) and compact results come back (`Returned`:
the record as its JSON text, issues as tuples of strings; unpickling the record's nested dicts and
the `Issue` dataclasses took most of the harvesting process's time per record). Where a
process cannot fork workers (a daemonic process, such as a prefork Celery worker, or a platform
without fork), `MappingPool.start` returns None and the run stays serial. A worker that dies
(killed, out of memory) fails the run with `WorkerLost`: the pool notices (a
`concurrent.futures` pool breaks), where a `multiprocessing.Pool` would wait for ever.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING

from course_catalogue.catalogue.jsontext import dumps_bytes, loads
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.mappings.coverage import CoverageTracker, RecordProbe
from course_catalogue.mappings.items import RawItem
from course_catalogue.services.errors import WorkerLost
from course_catalogue.services.intake import Processed

if TYPE_CHECKING:
    from course_catalogue.services.intake import MappingWork

logger = logging.getLogger(__name__)

Shipped = tuple[bytes, str, str | None, str | None]
"""An item as sent to a worker: content, media type, pointer, guid (`parsed` stays behind)."""

IssueRow = tuple[str, str, str | None, str | None, str | None, str, str | None]
"""An `Issue` as sent back: severity, message, field, record_ref, pointer, code, value."""

Returned = tuple[
    str | None, list[IssueRow], bytes | None, str, IssueRow | None, str | None, RecordProbe | None
]
"""A `Processed` as sent back: ref, issues, the record as JSON text (the store's own form:
`catalogue.jsontext`), content hash, refused, fault, probe."""


def _row(issue: Issue) -> IssueRow:
    return (
        issue.severity.value,
        issue.message,
        issue.field,
        issue.record_ref,
        issue.pointer,
        issue.code,
        issue.value,
    )


def _issue(row: IssueRow) -> Issue:
    return Issue(Severity(row[0]), row[1], row[2], row[3], row[4], row[5], row[6])


def _compact(p: Processed) -> Returned:
    record = None if p.record is None else dumps_bytes(p.record)
    refused = None if p.refused is None else _row(p.refused)
    return (p.ref, [_row(i) for i in p.issues], record, p.content_hash, refused, p.fault, p.probe)


def _expand(r: Returned) -> Processed:
    ref, issues, record, content_hash, refused, fault, probe = r
    return Processed(
        ref,
        [_issue(row) for row in issues],
        None if record is None else loads(record),
        content_hash,
        None if refused is None else _issue(refused),
        fault,
        probe,
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
    out = []
    for content, media_type, pointer, guid in items:
        probe = RecordProbe(_TRACKER, settled) if _TRACKER is not None else None
        out.append(_compact(_WORK.process(RawItem(content, media_type, pointer, guid), _WHEN, probe)))
    return out


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


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

    def submit(self, items: list[RawItem], settled: frozenset[str]) -> Batch:
        """Process `items` in a worker; `settled`: the run's settled coverage paths now."""
        shipped = [(i.content, i.media_type, i.pointer, i.guid) for i in items]
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
