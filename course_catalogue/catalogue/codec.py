"""JSON form of a `Course`: the one serialisation used by the store, the API and golden tests.

Contract: `course_from_dict(course_to_dict(c)) == c` for every valid course, and
`content_hash(c)` depends only on what the provider published: never on run id, harvest time or
the record's position in the feed (a CSV row inserted above must not make every later record
"updated"), so re-harvesting an unchanged feed yields the same hash. An unchanged course
therefore keeps the pointer of its last change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from course_catalogue.catalogue.jsontext import canonical_bytes
from course_catalogue.catalogue.model import (
    TEXT_FIELDS,
    Course,
    LearningOutcome,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
    lang_text,
)

_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """Turn model values into JSON-safe values (Decimal -> str keeps exact precision).

    Dispatches on the exact type first: isinstance against the abstract Mapping costs more than
    the rest of the work, and this runs for every value of every harvested record. Scalars are
    tested inline before recursing, since most values are strings or None.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is MappingProxyType or kind is dict:
        return {k: v if type(v) in _SCALARS else _plain(v) for k, v in sorted(value.items())}
    if kind is tuple or kind is list:
        return [v if type(v) in _SCALARS else _plain(v) for v in value]
    names = getattr(value, "__dataclass_fields__", None)  # the fields, in order (no ClassVars here)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return _plain_other(value)


def _plain_other(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def course_to_dict(course: Course) -> dict[str, Any]:
    """The full JSON-safe dict of a course (keys sorted inside mappings)."""
    result: dict[str, Any] = _plain(course)
    return result


def read_decimal(value: Any) -> Decimal | None:
    """A stored number (JSON number or string) as the Decimal the model holds; None stays None."""
    return None if value is None else Decimal(str(value))


def _org(data: Mapping[str, Any]) -> Organisation:
    return Organisation(
        name=lang_text(data.get("name")),
        country=data.get("country"),
        homepage=data.get("homepage"),
        identifier=data.get("identifier"),
    )


def read_date(value: str | None) -> date | None:
    """A stored ISO date as a date; empty or None is None."""
    return date.fromisoformat(value) if value else None


def course_from_dict(data: Mapping[str, Any]) -> Course:
    """Inverse of `course_to_dict`. Raises KeyError/ValueError on a malformed dict."""
    prov = data["provenance"]
    workload = data.get("workload") or {}
    price = data.get("price")
    kwargs: dict[str, Any] = {name: lang_text(data.get(name)) for name in TEXT_FIELDS}
    return Course(
        id=data["id"],
        provider=_org(data["provider"]),
        provenance=Provenance(
            source_id=prov["source_id"],
            provider_ref=prov["provider_ref"],
            run_id=prov.get("run_id"),
            harvested_at=datetime.fromisoformat(prov["harvested_at"]) if prov.get("harvested_at") else None,
            pointer=prov.get("pointer"),
        ),
        awarding_bodies=tuple(_org(o) for o in data.get("awarding_bodies", ())),
        learning_outcomes=tuple(
            LearningOutcome(
                text=lang_text(o.get("text")), esco_uri=o.get("esco_uri"), skill_type=o.get("skill_type")
            )
            for o in data.get("learning_outcomes", ())
        ),
        workload=Workload(
            ects=read_decimal(workload.get("ects")),
            hours=read_decimal(workload.get("hours")),
            ects_basis=workload.get("ects_basis"),
            hours_per_ects=read_decimal(workload.get("hours_per_ects")),
        ),
        eqf_level=data.get("eqf_level"),
        assessment_types=tuple(data.get("assessment_types", ())),
        modes=tuple(data.get("modes", ())),
        schedule=data.get("schedule"),
        identity_verification=data.get("identity_verification"),
        languages=tuple(data.get("languages", ())),
        isced_f=tuple(data.get("isced_f", ())),
        start_date=read_date(data.get("start_date")),
        end_date=read_date(data.get("end_date")),
        duration=data.get("duration"),
        price=Price(Decimal(str(price["amount"])), price.get("currency"), price.get("note"))
        if price
        else None,
        locations=tuple(Location(**loc) for loc in data.get("locations", ())),
        url=data.get("url"),
        opportunity_type=data.get("opportunity_type"),
        keywords=tuple(data.get("keywords", ())),
        originals=MappingProxyType(dict(data.get("originals") or {})),
        **kwargs,
    )


def content_hash(course: Course) -> str:
    """SHA-256 over the published content: run id, harvest time and feed position are excluded."""
    return record_hash(course_to_dict(course))


def record_hash(record: Mapping[str, Any]) -> str:
    """`content_hash` of the course whose `course_to_dict` is `record` (which is not modified),
    for callers that need the dict anyway."""
    stable = dict(record)
    stable["provenance"] = {**record["provenance"], "run_id": None, "harvested_at": None, "pointer": None}
    # Stored hashes depend on this exact text (see `canonical_bytes`).
    return hashlib.sha256(canonical_bytes(stable)).hexdigest()
