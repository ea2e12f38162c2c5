"""The Course field paths a spec may fill, with the kind of value each takes and its default transform."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One fillable field.

    kind: "text" (one LangText), "texts" (a tuple of LangText-named things: organisations,
    learning outcomes), "code" / "codes" (one or a tuple of normalised strings), "int", "date",
    "price", "workload", "float". `default_transform` applies when a spec names none.
    """

    path: str
    kind: str
    default_transform: str | None

    @property
    def value_type(self) -> str:
        """What the last transform of a rule must return for this target."""
        return {"text": "str", "texts": "str", "code": "str", "codes": "str"}.get(self.kind, self.kind)

    @property
    def multiple(self) -> bool:
        return self.kind in ("text", "texts", "codes", "workload")


def _targets(*rows: tuple[str, str, str | None]) -> dict[str, Target]:
    return {path: Target(path, kind, transform) for path, kind, transform in rows}


TARGETS: dict[str, Target] = _targets(
    ("title", "text", "text"),
    ("description", "text", "text"),
    ("provider.name", "text", "text"),
    ("provider.country", "code", "country"),
    ("provider.homepage", "code", "url"),
    ("provider.identifier", "code", "text"),
    ("awarding_bodies", "texts", "text"),
    ("learning_outcomes", "texts", "text"),
    ("workload", "workload", None),
    ("workload.ects", "workload", "ects"),
    ("workload.hours", "workload", "hours"),
    ("eqf_level", "int", "eqf"),
    ("assessment", "text", "text"),
    ("assessment_types", "codes", "iri"),
    ("modes", "codes", "mode"),
    ("schedule", "code", "schedule"),
    ("quality_assurance", "text", "text"),
    ("prerequisites", "text", "text"),
    ("identity_verification", "code", "text"),
    ("grade", "text", "text"),
    ("stackability", "text", "text"),
    ("further_information", "text", "text"),
    ("languages", "codes", "language"),
    ("isced_f", "codes", "isced_f"),
    ("start_date", "date", "date"),
    ("end_date", "date", "date"),
    ("duration", "code", "duration"),
    ("price", "price", "price"),
    ("locations.country", "code", "country"),
    ("locations.region", "code", "text"),
    ("locations.city", "code", "text"),
    ("locations.postcode", "code", "text"),
    ("locations.address", "code", "text"),
    ("locations.latitude", "float", "coordinate"),
    ("locations.longitude", "float", "coordinate"),
    ("url", "code", "url"),
    ("opportunity_type", "code", "iri"),
    ("keywords", "codes", "text"),
)
"""Field path as written in `[fields.<path>]` -> target."""


@dataclass(frozen=True)
class Group:
    """A target built from repeating groups of sub-fields (one object per selected sub-node).

    `fields`: sub-field name -> Target (its path is "<group>.<name>", used in issues). `multiple`:
    the course holds a tuple of these (False for `provider`, which takes the first group).
    `flat`: the older flat target paths that fill the same course field; a spec uses either the
    group or those, not both.
    """

    path: str
    fields: dict[str, Target]
    multiple: bool
    flat: tuple[str, ...]


def _group(path: str, multiple: bool, *rows: tuple[str, str, str | None]) -> Group:
    fields = {name: Target(f"{path}.{name}", kind, transform) for name, kind, transform in rows}
    flat = tuple(p for p in TARGETS if p == path or p.startswith(path + "."))
    return Group(path, fields, multiple, flat)


_ORGANISATION = (
    ("name", "text", "text"),
    ("country", "code", "country"),
    ("homepage", "code", "url"),
    ("identifier", "code", "text"),
)

GROUPS: dict[str, Group] = {
    "provider": _group("provider", False, *_ORGANISATION),
    "awarding_bodies": _group("awarding_bodies", True, *_ORGANISATION),
    "learning_outcomes": _group(
        "learning_outcomes",
        True,
        ("text", "text", "text"),
        ("esco_uri", "code", "iri"),
        ("skill_type", "code", "text"),
    ),
    "locations": _group(
        "locations",
        True,
        ("country", "code", "country"),
        ("region", "code", "text"),
        ("city", "code", "text"),
        ("postcode", "code", "text"),
        ("address", "code", "text"),
        ("latitude", "float", "coordinate"),
        ("longitude", "float", "coordinate"),
    ),
}
"""Group name as written in `[fields.<name>]` (with a `fields` sub-table) -> group."""
