"""What the store holds about a course beyond the record, and how committed changes flow out.

`StoredCourse` is a course as the store knows it: the record plus its lifecycle (active or a
withdrawn tombstone), content hash and `seq`, the position of its last change in commit order
(the changes-feed cursor). After a transaction commits, the store hands the changed
`StoredCourse`s to `ChangeSink`s (the search index, later webhooks) so derived data follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from catalogue.codec import course_to_dict
from catalogue.model import Course


class CourseStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # tombstone: gone from its feed, kept so consumers see the deletion


@dataclass(frozen=True)
class StoredCourse:
    course: Course
    status: CourseStatus
    content_hash: str
    seq: int
    first_seen: datetime
    updated_at: datetime  # last change of content or status
    last_run_id: int | None = None
    withdrawn_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.course.id


@dataclass(frozen=True)
class HarvestDiff:
    """What applying one harvest did (or, in a dry run, would do). Lists hold course ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    held_withdrawals: list[str] = field(default_factory=list)  # guard tripped: not applied
    # For sinks; empty in a dry run. A streamed harvest (CatalogueStore.harvesting) leaves it empty
    # and sets `seqs` instead: CatalogueStore.iter_changed reads the changed courses back in batches.
    changed: list[StoredCourse] = field(default_factory=list)
    seqs: tuple[int, int] | None = None  # first and last seq of the committed changes; None if none


class ChangeSink(Protocol):
    """Receives courses whose content or status changed, after their transaction committed.

    A sink must be idempotent: the same change may be delivered again after a crash or a
    repair, and delivering it twice must leave the same state.
    """

    def apply(self, changed: Sequence[StoredCourse]) -> None: ...


@dataclass(frozen=True)
class Candidate:
    """A valid record of the current run, ready for the store, with the raw payload it came from.

    `raw` and `media_type` are kept so a changed mapping can be replayed without re-downloading.
    `record`, when given, is `course_to_dict(course)` already computed (the pipeline needs it for
    the hash), so the store does not serialise the course a second time.
    """

    course: Course
    content_hash: str
    raw: bytes
    media_type: str
    record: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def stored_record(self) -> Mapping[str, Any]:
        """The course as the store keeps it: `record` when given, else computed now."""
        return self.record if self.record is not None else course_to_dict(self.course)
