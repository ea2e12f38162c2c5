"""The eligibility schemes as OAI-PMH sets: an adapter from EligibilityStore to SchemeDirectory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.oai.protocol import Window
from course_catalogue.catalogue.oai.records import OaiSet, SchemeEntry
from course_catalogue.catalogue.schema import course_eligibility, courses
from course_catalogue.catalogue.store import CatalogueStore, stored_courses


class EligibilitySchemes:
    """`SchemeDirectory` over the eligibility store: set `scheme:<id>` holds the courses
    eligible for the scheme; its list is the scheme's changes feed (stopping being eligible
    is a deletion in the set), read as a range of the `(scheme_id, seq)` index."""

    def __init__(self, store: CatalogueStore) -> None:
        self.catalogue = store
        self.store = EligibilityStore(store)

    def schemes(self) -> list[OaiSet]:
        return [OaiSet(s.id, s.name, s.description) for s in self.store.list_schemes()]

    def eligible_schemes(self, course_ids: Sequence[str]) -> Mapping[str, Sequence[str]]:
        return self.store.eligible_schemes(course_ids)

    def changes(
        self, scheme_id: str, after: int, limit: int, window: Window | None = None
    ) -> list[SchemeEntry]:
        self.store.get_scheme(scheme_id)  # NotFound for an unknown scheme
        if window is None or (window.low is None and window.high is None):
            return [
                SchemeEntry(entry.seq, entry.eligible, entry.since, entry.stored)
                for entry in self.store.eligibility_changes_since(scheme_id, after, limit)
            ]
        # A from/until list: the database picks the entries in the window, so a window that holds
        # few of a big scheme's entries does not read (and decode) all the others to skip them.
        entry = course_eligibility.c
        datestamp = sa.case((courses.c.updated_at > entry.since, courses.c.updated_at), else_=entry.since)
        where: list[Any] = [entry.scheme_id == scheme_id, entry.seq > after]
        if window.low is not None:
            where.append(datestamp >= window.low)
        if window.high is not None:
            where.append(datestamp < window.high)
        query = (
            sa.select(entry.seq, entry.eligible, entry.since, entry.course_id)
            .join(courses, courses.c.id == entry.course_id)
            .where(*where)
            .order_by(entry.seq)
            .limit(limit)
        )
        with self.catalogue.reading() as conn:
            rows = conn.execute(query).all()
            found = {s.id: s for s in stored_courses(conn, courses.c.id.in_([row.course_id for row in rows]))}
        return [SchemeEntry(row.seq, row.eligible, row.since, found[row.course_id]) for row in rows]
