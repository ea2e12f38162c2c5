"""Completeness of a source's records: which standard elements its active courses fill.

The elements are data (`ELEMENTS`): the EU micro-credential standard elements a catalogue entry
can carry (Council Recommendation 2022, Annex I; learner id and date of issue belong to issued
credentials, not to offers). A source's quality score is the share of MANDATORY element slots
filled across its active courses (courses x mandatory elements); optional elements are shown per
element but do not lower the score, since "no grade" is often simply true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.model import Course, LangText


def _text(value: LangText) -> bool:
    return any(v.strip() for v in value.values())


@dataclass(frozen=True)
class Element:
    """One standard element: `name` as in issue fields, a label, and how to tell it is filled."""

    name: str
    label: str
    mandatory: bool
    present: Callable[[Course], bool]


ELEMENTS: tuple[Element, ...] = (
    Element("title", "Title", True, lambda c: _text(c.title)),
    Element("provider.name", "Provider", True, lambda c: _text(c.provider.name)),
    Element("provider.country", "Country of the provider", True, lambda c: c.provider.country is not None),
    Element("awarding_bodies", "Awarding body", True, lambda c: bool(c.awarding_bodies)),
    Element("learning_outcomes", "Learning outcomes", True, lambda c: bool(c.learning_outcomes)),
    Element("workload", "Notional workload (ECTS)", True, lambda c: c.workload.ects is not None),
    Element("eqf_level", "EQF level", True, lambda c: c.eqf_level is not None),
    Element(
        "assessment", "Type of assessment", True, lambda c: _text(c.assessment) or bool(c.assessment_types)
    ),
    Element("modes", "Form of participation", True, lambda c: bool(c.modes)),
    Element("quality_assurance", "Quality assurance", True, lambda c: _text(c.quality_assurance)),
    Element("prerequisites", "Prerequisites", False, lambda c: _text(c.prerequisites)),
    Element(
        "identity_verification",
        "Supervision and identity verification",
        False,
        lambda c: c.identity_verification is not None,
    ),
    Element("grade", "Grade achieved", False, lambda c: _text(c.grade)),
    Element("stackability", "Integration and stackability", False, lambda c: _text(c.stackability)),
    Element("further_information", "Further information", False, lambda c: _text(c.further_information)),
)


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
