"""Completeness of a source's records: which standard elements its active courses fill.

The elements are the one table of the standard elements (`catalogue.elements.ELEMENTS`), which
validation reads too. A source's quality score is the share of MANDATORY element slots
filled across its active courses (courses x mandatory elements); optional elements are shown per
element but do not lower the score, since "no grade" is often simply true.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.elements import ELEMENTS, Element


@dataclass(frozen=True)
class ElementCompleteness:
    element: Element
    filled: int
    total: int

    @property
    def share(self) -> float:
        """0..1; 0 when there are no courses."""
        return self.filled / self.total if self.total else 0.0


@dataclass(frozen=True)
class Quality:
    """Completeness of one set of courses. `score` is None when there is nothing to score."""

    courses: int
    elements: tuple[ElementCompleteness, ...]

    @property
    def score(self) -> float | None:
        mandatory = [e for e in self.elements if e.element.mandatory]
        slots = sum(e.total for e in mandatory)
        return sum(e.filled for e in mandatory) / slots if slots else None

    @property
    def percent(self) -> int | None:
        """The score as a whole percentage, rounded down (so 99.9% filled never shows as 100)."""
        score = self.score
        return None if score is None else int(score * 100)


def quality(courses: Iterable[StoredCourse], elements: tuple[Element, ...] = ELEMENTS) -> Quality:
    """Per-element completeness over the ACTIVE courses given (withdrawn tombstones are skipped)."""
    filled = [0] * len(elements)
    total = 0
    for stored in courses:
        if stored.status is not CourseStatus.ACTIVE:
            continue
        total += 1
        for index, element in enumerate(elements):
            if element.present(stored.course):
                filled[index] += 1
    return Quality(
        courses=total,
        elements=tuple(ElementCompleteness(e, n, total) for e, n in zip(elements, filled, strict=True)),
    )
