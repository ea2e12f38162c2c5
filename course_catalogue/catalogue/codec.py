"""JSON form of a `Course`: the one serialisation used by the store, the API and golden tests.

Contract: `course_from_dict(course_to_dict(c)) == c` for every valid course, and
`content_hash(c)` depends only on what the provider published: never on run id, harvest time or
the record's position in the feed (a CSV row inserted above must not make every later record
"updated"), so re-harvesting an unchanged feed yields the same hash. An unchanged course
therefore keeps the pointer of its last change.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from course_catalogue.catalogue.jsontext import canonical_bytes
from course_catalogue.catalogue.model import (
    EMPTY_TEXT,
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
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass type -> its field names, in order
_CONVERTERS: dict[type, Any] = {}  # model dataclass type -> its generated converter


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
    convert = _CONVERTERS.get(kind)
    if convert is not None:
        return convert(value)
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return _plain_other(value)


_MODEL_TYPES = (Course, Organisation, LearningOutcome, Location, Price, Provenance, Workload)


def _converter(kind: type) -> Any:
    """A function doing what `_plain` does for one dataclass type, unrolled by field type.

    Generated once per type from the model's annotations: for a Course (33 fields, most of them
    None, empty text or empty tuples) the generic walk made one call per value and cost more
    than the JSON encoding after it. A field annotated as text (`LangText`, `Mapping[str, str]`,
    `tuple[str, ...]`) is copied with C-level `dict(sorted(...))` / `list(...)`, a field of a
    model type calls that type's converter, a date or Decimal is formatted inline; any value
    whose runtime type is not the annotated one takes the generic `_plain`. The output is
    exactly `_plain`'s: same keys, same order, same values.
    """
    hints = typing.get_type_hints(kind)
    names = tuple(f.name for f in fields(kind))
    lines = [f"    x{i} = value.{name}" for i, name in enumerate(names)]
    items = ", ".join(f"{name!r}: {_field_expression(hints[name], f'x{i}')}" for i, name in enumerate(names))
    source = "def convert(value):\n" + "\n".join(lines) + f"\n    return {{{items}}}\n"
    namespace: dict[str, Any] = {
        "_S": _SCALARS,
        "_E": EMPTY_TEXT,
        "_p": _plain,
        "_MP": MappingProxyType,
        "_D": Decimal,
        "_date": date,
        "_datetime": datetime,
        "_decimal": _plain_other,
        "_sorted": sorted,
        "_dict": dict,
        "_list": list,
        "_tuple": tuple,
        "_C": _CONVERTERS,
        **{f"_T_{t.__name__}": t for t in _MODEL_TYPES},
    }
    exec(source, namespace)  # the source is built only from dataclass field names and types
    return namespace["convert"]


def _field_expression(hint: Any, x: str) -> str:
    """Python expression converting the field value held in variable `x`, annotated `hint`."""
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        hint
    )
    inner = [a for a in typing.get_args(hint) if a is not type(None)] if optional else [hint]
    generic = f"{x} if type({x}) in _S else ({{}} if {x} is _E else ([] if {x} == () else _p({x})))"
    # `x == ()` is only True for an empty tuple: an empty list or mapping is not equal to ()
    if len(inner) != 1:
        return generic
    (hint,) = inner
    if hint in (typing.Mapping[str, str], Mapping[str, str]):
        # values are str (or the str subclass Tagged, which `_plain` also passes through)
        special = f"(_dict(_sorted({x}.items())) if type({x}) is _MP else _p({x}))"
    elif hint == tuple[str, ...]:
        special = f"(_list({x}) if type({x}) is _tuple else _p({x}))"
    elif typing.get_origin(hint) is tuple and typing.get_args(hint)[1:] == (...,):
        item = typing.get_args(hint)[0]
        if item not in _MODEL_TYPES:
            return generic
        t = f"_T_{item.__name__}"
        each = f"[_C[{t}](v) if type(v) is {t} else _p(v) for v in {x}]"
        special = f"({each} if type({x}) is _tuple else _p({x}))"
    elif hint in _MODEL_TYPES:
        t = f"_T_{hint.__name__}"
        special = f"(_C[{t}]({x}) if type({x}) is {t} else _p({x}))"
    elif hint in (date, datetime):
        special = f"({x}.isoformat() if type({x}) is _date or type({x}) is _datetime else _p({x}))"
    elif hint is Decimal:
        special = f"(_decimal({x}) if type({x}) is _D else _p({x}))"
    else:
        return generic
    return f"(None if {x} is None else {special})" if optional else special


def _plain_other(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        names = tuple(f.name for f in fields(value))
        _FIELD_NAMES.setdefault(type(value), names)
        return {name: _plain(getattr(value, name)) for name in names}
    return value


for _kind in _MODEL_TYPES:
    _CONVERTERS[_kind] = _converter(_kind)


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
