"""Which courses an OAI-PMH request returns: items, their datestamps, sets and stable paging.

An item is a course, active or withdrawn: withdrawn tombstones stay items forever with the
"deleted" status (deletedRecord = persistent). Its datestamp is the course's `updated_at`, the time
of its last change of content or status. Lists run in `seq` order (the store's commit order) and
resume after the seq of the last item delivered, so a harvest that spans catalogue changes misses
nothing: a course that changes behind the cursor gets a new seq and is delivered again.

Sets: `provider:<key>` (key = the search `provider` facet value, so a set and a search filter
agree) and `scheme:<id>` for eligibility schemes when a `SchemeDirectory` is given. Colons make a
hierarchy, so `provider` and `scheme` are sets too: the union of their subsets. In a scheme set a
course that stopped being eligible is "deleted" (in that set), dated when its eligibility changed.

Every list is answered from an index, never by reading the catalogue to find a set's members:
a provider set is the range of the `(provider_key, seq)` index of `courses` for its key (the
store keeps each course's key, catalogue.provider_keys), a scheme set the `(scheme_id, seq)` range
of its eligibility changes, and ListSets groups that index. A request reads what it sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.model import Course, first_text
from course_catalogue.catalogue.oai.protocol import Window
from course_catalogue.catalogue.provider_keys import index_key, slug
from course_catalogue.catalogue.schema import courses
from course_catalogue.catalogue.store import CatalogueStore, stored_courses

PROVIDER = "provider"
SCHEME = "scheme"


@dataclass(frozen=True)
class OaiItem:
    """One course as OAI-PMH sees it. `seq` is the list cursor position it was read at."""

    course: Course
    seq: int
    datestamp: datetime
    deleted: bool
    sets: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.course.id


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class SchemeEntry:
    """A change of one course's eligibility for one scheme (see /tmp/brief/ELIGIBILITY.md)."""

    seq: int
    eligible: bool
    since: datetime
    stored: StoredCourse


class SchemeDirectory(Protocol):
    """What OAI-PMH needs from the eligibility schemes (an adapter over EligibilityStore)."""

    def schemes(self) -> list[OaiSet]:
        """Every scheme as a set: spec = the scheme id (without the "scheme:" prefix)."""
        ...

    def eligible_schemes(self, course_ids: Sequence[str]) -> Mapping[str, Sequence[str]]: ...

    def changes(
        self, scheme_id: str, after: int, limit: int, window: Window | None = None
    ) -> list[SchemeEntry]:
        """Up to `limit` eligibility changes of the scheme with a seq above `after`, ascending,
        dated (the later of the course's last change and the eligibility's) within `window`
        (selected by the database, not after reading); NotFound for an unknown scheme."""
        ...


def in_set(spec: str, sets: Iterable[str]) -> bool:
    """Membership with hierarchy: "provider" holds every "provider:<key>"."""
    return any(s == spec or s.startswith(spec + ":") for s in sets)


class RecordSource:
    """Reads OAI items from the catalogue store (and the scheme directory, when there is one)."""

    def __init__(self, store: CatalogueStore, schemes: SchemeDirectory | None = None) -> None:
        self.store = store
        self.schemes = schemes

    # --- single items and repository facts -------------------------------------------------------

    def get(self, course_id: str) -> OaiItem | None:
        try:
            stored = self.store.get_course(course_id)
        except NotFound:
            return None
        return self._items([(stored.seq, stored)])[0]

    def earliest(self) -> datetime | None:
        with self.store.reading() as conn:
            value: datetime | None = conn.execute(sa.select(sa.func.min(courses.c.updated_at))).scalar()
        return value

    def count(self, window: Window) -> int:
        """Items in the window, regardless of sets (cheap: one COUNT)."""
        query = sa.select(sa.func.count()).select_from(courses).where(*_window_filter(window))
        with self.store.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def sets(self) -> list[OaiSet]:
        """The set hierarchy: providers of every stored course (withdrawn too), then schemes.
        One grouping of the provider index (a name per key: the first in sort order)."""
        names: dict[str, str] = {}
        query = (
            sa.select(sa.func.min(courses.c.provider_name))
            .where(courses.c.provider_key.is_not(None))
            .group_by(courses.c.provider_key)
        )
        with self.store.reading() as conn:
            for (name,) in conn.execute(query):
                key = slug(name or "")
                if key is not None:
                    names.setdefault(key, name)
        found = [OaiSet(PROVIDER, "Providers", "Courses by the organisation that provides them.")]
        found += [OaiSet(f"{PROVIDER}:{key}", f"Provider: {names[key]}") for key in sorted(names)]
        if self.schemes is not None:
            found.append(OaiSet(SCHEME, "Funding schemes", "Courses by the funding scheme they qualify for."))
            found += [
                OaiSet(f"{SCHEME}:{s.spec}", f"Funding scheme: {s.name}", s.description)
                for s in self.schemes.schemes()
            ]
        return found

    # --- lists -------------------------------------------------------------------------------------

    def page(
        self, set_spec: str | None, window: Window, after: int, limit: int
    ) -> tuple[list[OaiItem], bool]:
        """Up to `limit` items with a seq above `after` in the window and set, in seq order,
        and whether more follow."""
        if set_spec is not None and set_spec.startswith(SCHEME + ":") and self.schemes is not None:
            found = self._scheme_page(set_spec.removeprefix(SCHEME + ":"), window, after, limit)
        else:
            found = self._course_page(set_spec, window, after, limit)
        return found[:limit], len(found) > limit

    def _course_page(self, set_spec: str | None, window: Window, after: int, limit: int) -> list[OaiItem]:
        """Up to `limit` + 1 items after `after`: the whole catalogue, or one provider set (an
        index range), or the `provider` set (every course with a provider key)."""
        where = _window_filter(window)
        if set_spec == PROVIDER:
            where.append(courses.c.provider_key.is_not(None))
        elif set_spec is not None:
            key = set_spec.removeprefix(PROVIDER + ":")
            if not set_spec.startswith(PROVIDER + ":") or not key:
                return []
            where.append(courses.c.provider_key == index_key(key))
        found: list[OaiItem] = []
        while len(found) <= limit:
            with self.store.reading() as conn:
                rows = stored_courses(
                    conn, *where, courses.c.seq > after, order_by=courses.c.seq, limit=limit + 1
                )
            items = self._items([(stored.seq, stored) for stored in rows])
            # the decoded record decides (a key longer than the column compares by digest)
            found += [item for item in items if set_spec is None or in_set(set_spec, item.sets)]
            if len(rows) <= limit:
                break
            after = rows[-1].seq
        return found[: limit + 1]

    def _scheme_page(self, scheme_id: str, window: Window, after: int, limit: int) -> list[OaiItem]:
        assert self.schemes is not None
        found: list[OaiItem] = []
        while len(found) <= limit:
            try:
                entries = self.schemes.changes(scheme_id, after, limit + 1, window)
            except NotFound:
                return []
            items = self._items([(e.seq, e.stored) for e in entries])
            for entry, item in zip(entries, items, strict=True):
                datestamp = max(entry.stored.updated_at, entry.since)
                if window.contains(datestamp):
                    deleted = item.deleted or not entry.eligible
                    found.append(OaiItem(item.course, entry.seq, datestamp, deleted, item.sets))
            if len(entries) <= limit:
                break
            after = entries[-1].seq
        return found[: limit + 1]

    def _items(self, rows: Sequence[tuple[int, StoredCourse]]) -> list[OaiItem]:
        eligible: Mapping[str, Sequence[str]] = {}
        if self.schemes is not None and rows:
            eligible = self.schemes.eligible_schemes([stored.id for _, stored in rows])
        items = []
        for seq, stored in rows:
            course = stored.course
            sets = []
            key = slug(_display_name(course))
            if key is not None:
                sets.append(f"{PROVIDER}:{key}")
            sets += [f"{SCHEME}:{scheme}" for scheme in eligible.get(course.id, ())]
            deleted = stored.status is CourseStatus.WITHDRAWN
            items.append(OaiItem(course, seq, stored.updated_at, deleted, tuple(sets)))
        return items


def _window_filter(window: Window) -> list[Any]:
    conditions: list[Any] = []
    if window.low is not None:
        conditions.append(courses.c.updated_at >= window.low)
    if window.high is not None:
        conditions.append(courses.c.updated_at < window.high)
    return conditions


def _display_name(course: Course) -> str:
    """The provider name the search index shows (and keys its `provider` facet on)."""
    return first_text(course.provider.name, ("en", *course.languages))
