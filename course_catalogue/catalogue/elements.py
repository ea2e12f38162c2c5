"""The EU micro-credential standard elements a catalogue entry can carry: one table.

Council Recommendation 2022, Annex I (learner id and date of issue belong to issued credentials,
not to offers). Read by validation (`catalogue.validate`: a missing mandatory element is a
WARNING, missing optional ones one INFO) and by the completeness score (`catalogue.quality`).
Title and provider name are mandatory here and, in validation, stronger still: without them a
record is rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from course_catalogue.catalogue.model import Course, LangText


def _text(value: LangText) -> bool:
    """Whether a text has a non-blank value in some language."""
    return any(v.strip() for v in value.values())


@dataclass(frozen=True)
class Element:
    """One standard element: `name` as in issue fields, a label, whether Annex I makes it
    mandatory, and how to tell it is filled (text counts only when not blank)."""

    name: str
    label: str
    mandatory: bool
    present: Callable[[Course], bool]

    @property
    def in_sentence(self) -> str:
        """The label inside a sentence: first letter lower-cased unless the first word is an
        acronym ("EQF level")."""
        first = self.label.split(" ", 1)[0]
        return self.label if first.isupper() else self.label[0].lower() + self.label[1:]


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
