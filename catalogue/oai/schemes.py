"""The eligibility schemes as OAI-PMH sets: an adapter from EligibilityStore to SchemeDirectory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from catalogue.eligibility_store import EligibilityStore
from catalogue.oai.records import OaiSet, SchemeEntry


class EligibilitySchemes:
    """`SchemeDirectory` over the eligibility store: set `scheme:<id>` holds the courses
    eligible for the scheme; its list is the scheme's changes feed (stopping being eligible
    is a deletion in the set)."""

    def __init__(self, store: EligibilityStore) -> None:
        self.store = store

    def schemes(self) -> list[OaiSet]:
        return [OaiSet(s.id, s.name, s.description) for s in self.store.list_schemes()]

    def eligible_schemes(self, course_ids: Sequence[str]) -> Mapping[str, Sequence[str]]:
        return self.store.eligible_schemes(course_ids)

    def changes(self, scheme_id: str, after: int, limit: int) -> list[SchemeEntry]:
        self.store.get_scheme(scheme_id)  # NotFound for an unknown scheme
        return [
            SchemeEntry(entry.seq, entry.eligible, entry.since, entry.stored)
            for entry in self.store.eligibility_changes_since(scheme_id, after, limit)
        ]
