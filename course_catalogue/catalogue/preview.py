"""The record-level view of a harvest diff: which records would be added, updated, withdrawn.

`HarvestDiff` lists course ids; a provider needs its own refs, titles and, for updates, which
fields changed. `preview()` builds that from the diff, the run's candidates (the new versions)
and the store (the current versions), listing at most `limit` records per kind (the totals are
always exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from course_catalogue.catalogue.changes import Candidate, CourseStatus, HarvestDiff, StoredCourse
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.model import Course, first_text
from course_catalogue.catalogue.store import CatalogueStore

LIMIT = 500
"""Records listed per kind; enough to review, small enough for a response."""
_NOT_CONTENT = frozenset({"id", "provenance"})  # where/when it was read, not what it says


@dataclass(frozen=True)
class RecordChange:
    course_id: str
    provider_ref: str
    title: str
    # updates only: top-level Course fields that differ ("status" first when a withdrawn record returns)
    changed_fields: tuple[str, ...] = ()
    # updates only: (field, value before, value after) of each changed content field, as
    # `course_to_dict` gives them, for a before/after view (not in `to_dict`: the API lists names)
    changed_values: tuple[tuple[str, Any, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.course_id, "provider_ref": self.provider_ref, "title": self.title}
        if self.changed_fields:
            data["changed_fields"] = list(self.changed_fields)
        return data


@dataclass(frozen=True)
class DiffPreview:
    added: list[RecordChange] = field(default_factory=list)
    updated: list[RecordChange] = field(default_factory=list)
    withdrawn: list[RecordChange] = field(default_factory=list)
    held_withdrawals: list[RecordChange] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # kind -> exact count
    limit: int = LIMIT

    def to_dict(self) -> dict[str, Any]:
        kinds = ("added", "updated", "withdrawn", "held_withdrawals")
        return {
            "totals": dict(self.totals),
            "listed_per_kind": self.limit,
            **{kind: [c.to_dict() for c in getattr(self, kind)] for kind in kinds},
        }


def changed_fields(old: Course, new: Course) -> tuple[str, ...]:
    """Names of the top-level fields whose values differ (provenance and id ignored), sorted."""
    return tuple(name for name, _, _ in changed_values(old, new))


def changed_values(old: Course, new: Course) -> tuple[tuple[str, Any, Any], ...]:
    """(name, old value, new value) of each top-level field that differs, by name; values as
    `course_to_dict` gives them (provenance and id ignored)."""
    before, after = course_to_dict(old), course_to_dict(new)
    names = (set(before) | set(after)) - _NOT_CONTENT
    return tuple(
        (name, before.get(name), after.get(name))
        for name in sorted(names)
        if before.get(name) != after.get(name)
    )


def preview(
    store: CatalogueStore,
    diff: HarvestDiff,
    candidates: Sequence[Candidate],
    *,
    compare: bool = True,
    limit: int = LIMIT,
) -> DiffPreview:
    """The diff per record: new versions from `candidates`, current ones from the store.

    `candidates` need only hold the first `limit` added and updated records (what a streamed
    harvest keeps); an added or updated id without its candidate is counted but not listed.

    `compare`: list the changed fields of updates, reading the current versions from the store;
    only meaningful before the diff is applied (a dry run), since afterwards the store already
    holds the new versions.
    """
    by_id = {c.course.id: c.course for c in candidates}  # the last candidate wins, as in the store
    result = DiffPreview(
        totals={
            "added": len(diff.added),
            "updated": len(diff.updated),
            "unchanged": len(diff.unchanged),
            "withdrawn": len(diff.withdrawn),
            "held_withdrawals": len(diff.held_withdrawals),
        },
        limit=limit,
    )
    result.added.extend(_change(by_id[cid]) for cid in diff.added[:limit] if cid in by_id)
    for cid in diff.updated[:limit]:
        new = by_id.get(cid)
        if new is None:
            continue
        old = _current(store, cid) if compare else None
        values = changed_values(old.course, new) if old else ()
        fields = tuple(name for name, _, _ in values)
        if old is not None and old.status is not CourseStatus.ACTIVE:
            fields = ("status", *fields)  # a withdrawn record is back in the feed
        result.updated.append(_change(new, fields, values))
    for kind in ("withdrawn", "held_withdrawals"):
        target: list[RecordChange] = getattr(result, kind)
        for cid in getattr(diff, kind)[:limit]:
            old = _current(store, cid)
            if old is not None:
                target.append(_change(old.course))
    return result


def _current(store: CatalogueStore, course_id: str) -> StoredCourse | None:
    try:
        return store.get_course(course_id)
    except NotFound:  # removed between the plan and this read: nothing to compare with
        return None


def _change(
    course: Course, fields: tuple[str, ...] = (), values: tuple[tuple[str, Any, Any], ...] = ()
) -> RecordChange:
    return RecordChange(course.id, course.provenance.provider_ref, first_text(course.title), fields, values)
