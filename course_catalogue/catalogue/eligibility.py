"""Eligibility schemes of registries: declarative rules as data, and their pure evaluation.

A registry (a funding body, a skills account) defines a `Scheme`: a list of rules, each a
condition on a normalised course field or a group of them, all of which must hold. Rules are
plain data (JSON/TOML), e.g.

    [{"id": "eqf-range", "field": "eqf_level", "op": "between", "value": [3, 7],
      "message": "EQF level 3 to 7"},
     {"id": "qa", "field": "quality_assurance", "op": "present"},
     {"id": "free-or-credits", "any": [
         {"id": "free", "field": "price.amount", "op": "lte", "value": 0},
         {"id": "credits", "field": "workload.ects", "op": "gte", "value": 1}]}]

Fields are dotted paths into `catalogue.model.Course` (`workload.ects`, `price.amount`,
`provider.country`, `locations.country`, `languages` ...) plus the computed `provider_accredited`:
true when the provider's name, identifier or homepage is in the scheme's `accredited` list, or,
when the scheme lists none, when the course states quality assurance.

Semantics: multi-valued fields (languages, modes, locations.country ...) satisfy eq/in/comparisons
when ANY value does, and not_in when NO value is in the list. Text compares case-insensitively,
numbers as decimals. An absent value fails every op but `absent` and `not_in`. A multilingual
text is present when any language has non-blank text.

`evaluate` is pure; `decide` adds what is not in the record: a withdrawn course is never
eligible, and a registry's manual decision overrides the rules for one course.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.model import (
    Course,
    LearningOutcome,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
)

OPS = ("present", "absent", "eq", "in", "not_in", "between", "gte", "lte", "lt", "gt")
ACCREDITED = "provider_accredited"
ALL_MET = "all rules met"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_NUMERIC_OPS = ("between", "gte", "lte", "lt", "gt")
MAX_RULES = 100


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did: the rule id and its human message."""

    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Decision:
    eligible: bool
    reasons: tuple[Reason, ...]
    manual: bool = False


@dataclass(frozen=True)
class Condition:
    """One test of one field. `value` is None for present/absent, a list for in/not_in/between."""

    id: str
    field: str
    op: str
    value: Any = None
    message: str = ""


@dataclass(frozen=True)
class Group:
    """Several rules combined: `mode` "any" (one must hold) or "all" (every one must)."""

    id: str
    mode: str
    rules: tuple[Rule, ...]
    message: str = ""


Rule = Condition | Group


@dataclass(frozen=True)
class Scheme:
    """A registry's eligibility scheme. `accredited`: provider names or identifiers it recognises.
    `evaluated_at`: when the evaluation readers see was completed (None: not evaluated yet)."""

    id: str
    name: str
    owner: str | None
    rules: tuple[Rule, ...]
    accredited: tuple[str, ...] = ()
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    evaluated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_scheme_id(self.id)
        if not self.name.strip():
            raise ValueError("a scheme needs a name")


@dataclass(frozen=True)
class ManualDecision:
    """A registry's decision on one course, overriding the rules until changed."""

    scheme_id: str
    course_id: str
    eligible: bool
    note: str
    decided_by: str | None
    decided_at: datetime


def check_scheme_id(value: str) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(f"scheme id {value!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    return value


# --- rules as data ------------------------------------------------------------------------------


def parse_rules(data: Any) -> tuple[Rule, ...]:
    """Rules from their data form; ValueError naming the first problem. Rule ids are unique."""
    if not isinstance(data, list):
        raise ValueError("rules must be a list")
    rules = tuple(_parse_rule(item, f"rules[{i}]") for i, item in enumerate(data))
    ids = [rule_id for rule in rules for rule_id in _ids(rule)]
    if len(ids) > MAX_RULES:
        raise ValueError(f"a scheme has at most {MAX_RULES} rules")
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ValueError(f"rule id {duplicate!r} is used twice")
    return rules


def rules_to_data(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """The data form of rules (what `parse_rules` reads back)."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        if isinstance(rule, Group):
            item: dict[str, Any] = {"id": rule.id, rule.mode: rules_to_data(rule.rules)}
        else:
            item = {"id": rule.id, "field": rule.field, "op": rule.op}
            if rule.value is not None:
                item["value"] = rule.value
        if rule.message:
            item["message"] = rule.message
        out.append(item)
    return out


def _ids(rule: Rule) -> list[str]:
    if isinstance(rule, Group):
        return [rule.id, *(i for sub in rule.rules for i in _ids(sub))]
    return [rule.id]


def _parse_rule(item: Any, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be an object")
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not _SLUG.match(rule_id):
        raise ValueError(f"{where}.id must be a slug (lower-case letters, digits, '.', '_', '-')")
    message = item.get("message", "")
    if not isinstance(message, str):
        raise ValueError(f"{where}.message must be a string")
    modes = [mode for mode in ("any", "all") if mode in item]
    if modes:
        if len(modes) > 1 or set(item) - {"id", "message", modes[0]}:
            raise ValueError(f"{where}: a group has only id, message and one of any/all")
        members = item[modes[0]]
        if not isinstance(members, list) or not members:
            raise ValueError(f"{where}.{modes[0]} must be a non-empty list of rules")
        parsed = tuple(_parse_rule(sub, f"{where}.{modes[0]}[{i}]") for i, sub in enumerate(members))
        return Group(rule_id, modes[0], parsed, message)
    unknown = set(item) - {"id", "field", "op", "value", "message"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    field, op = item.get("field"), item.get("op")
    if not isinstance(field, str) or not known_field(field):
        raise ValueError(f"{where}.field {field!r} is not a course field (e.g. eqf_level, workload.ects)")
    if op not in OPS:
        raise ValueError(f"{where}.op must be one of {', '.join(OPS)}")
    value = _check_value(op, item.get("value"), where)
    return Condition(rule_id, field, op, value, message)


def _check_value(op: str, value: Any, where: str) -> Any:
    if op in ("present", "absent"):
        if value is not None:
            raise ValueError(f"{where}: {op} takes no value")
        return None
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(_scalar(v) for v in value):
            raise ValueError(f"{where}.value must be a non-empty list of strings or numbers")
        return value
    if op == "between":
        if not isinstance(value, list) or len(value) != 2 or not all(_number(v) for v in value):
            raise ValueError(f"{where}.value must be [low, high] (numbers)")
        return value
    if op in _NUMERIC_OPS:
        if not _number(value):
            raise ValueError(f"{where}.value must be a number")
        return value
    if not _scalar(value):
        raise ValueError(f"{where}.value must be a string, number or boolean")
    return value


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def known_field(path: str) -> bool:
    """Whether `path` names a Course field (dotted through nested records) or a computed one."""
    if path == ACCREDITED:
        return True
    current: Any = Course
    for part in path.split("."):
        if not is_dataclass(current):
            return False
        found = {f.name: f for f in fields(current)}.get(part)
        if found is None:
            return False
        current = _nested_type(current, part)
    return True


_NESTED: Mapping[tuple[type, str], type] = {
    (Course, "provider"): Organisation,
    (Course, "awarding_bodies"): Organisation,
    (Course, "learning_outcomes"): LearningOutcome,
    (Course, "workload"): Workload,
    (Course, "price"): Price,
    (Course, "provenance"): Provenance,
    (Course, "locations"): Location,
}
"""Fields holding nested records (the annotations are strings, so spelled out for path checks)."""


def _nested_type(owner: Any, name: str) -> Any:
    return _NESTED.get((owner, name))


# --- evaluation ---------------------------------------------------------------------------------


def values_at(course: Course, path: str, scheme: Scheme | None = None) -> list[Any]:
    """Every non-empty value at `path` in the course (lists flattened, blank text dropped)."""
    if path == ACCREDITED:
        return [True] if provider_accredited(course, scheme) else []
    current: list[Any] = [course]
    for part in path.split("."):
        step: list[Any] = []
        for value in current:
            found = getattr(value, part, None)
            if isinstance(found, tuple | list):
                step.extend(found)
            elif found is not None:
                step.append(found)
        current = step
    return [value for value in current if _filled(value)]


def _filled(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(str(v).strip() for v in value.values())
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def provider_accredited(course: Course, scheme: Scheme | None) -> bool:
    """In the scheme's accredited list (name in any language, identifier or homepage), or, with
    no list, a course that states its quality assurance."""
    listed = {a.casefold().strip() for a in (scheme.accredited if scheme else ())}
    if not listed:
        return _filled(course.quality_assurance)
    provider = course.provider
    names = [*provider.name.values(), provider.identifier or "", provider.homepage or ""]
    return any(name.casefold().strip() in listed for name in names if name)


def evaluate(scheme: Scheme, course: Course) -> Decision:
    """Apply every rule of the scheme to the course: eligible when all hold; reasons name each
    rule that failed (or say that all rules were met)."""
    failed = [reason for rule in scheme.rules for reason in _failures(rule, course, scheme)]
    if failed:
        return Decision(False, tuple(failed))
    return Decision(True, (Reason("all", ALL_MET),))


def decide(scheme: Scheme, stored: StoredCourse, manual: ManualDecision | None = None) -> Decision:
    """The decision for a stored course: withdrawn courses are never eligible; otherwise a manual
    decision wins over the rules."""
    if stored.status is CourseStatus.WITHDRAWN:
        return Decision(False, (Reason("withdrawn", "the course was withdrawn from its provider's feed"),))
    if manual is not None:
        verdict = "eligible" if manual.eligible else "not eligible"
        note = f": {manual.note}" if manual.note else ""
        who = f" by {manual.decided_by}" if manual.decided_by else ""
        return Decision(manual.eligible, (Reason("manual", f"decided {verdict}{who}{note}"),), manual=True)
    return evaluate(scheme, stored.course)


def _failures(rule: Rule, course: Course, scheme: Scheme) -> list[Reason]:
    if isinstance(rule, Group):
        results = [_failures(sub, course, scheme) for sub in rule.rules]
        held = [not r for r in results]
        if any(held) if rule.mode == "any" else all(held):
            return []
        if rule.message:
            return [Reason(rule.id, rule.message)]
        return [reason for r in results for reason in r]
    return [] if holds(rule, course, scheme) else [Reason(rule.id, rule.message or describe(rule))]


def holds(condition: Condition, course: Course, scheme: Scheme | None = None) -> bool:
    """Whether one condition holds for the course (see the module docstring for the semantics)."""
    values = values_at(course, condition.field, scheme)
    op, target = condition.op, condition.value
    if op == "present":
        return bool(values)
    if op == "absent":
        return not values
    if op == "not_in":
        return not any(_equal(v, t) for v in values for t in target)
    if op == "eq":
        return any(_equal(v, target) for v in values)
    if op == "in":
        return any(_equal(v, t) for v in values for t in target)
    numbers = [n for n in (_as_number(v) for v in values) if n is not None]
    if op == "between":
        low, high = (Decimal(str(b)) for b in target)
        return any(low <= n <= high for n in numbers)
    bound = Decimal(str(target))
    compare = {
        "gte": lambda n: n >= bound,
        "lte": lambda n: n <= bound,
        "gt": lambda n: n > bound,
        "lt": lambda n: n < bound,
    }[op]
    return any(compare(n) for n in numbers)


def _equal(value: Any, target: Any) -> bool:
    if isinstance(value, bool) or isinstance(target, bool):
        return value is target
    left, right = _as_number(value), _as_number(target)
    if left is not None and right is not None:
        return left == right
    return _text(value) == _text(target)


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = next((v for v in value.values() if str(v).strip()), "")
    if isinstance(value, date):
        value = value.isoformat()
    return str(value).strip().casefold()


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def describe(condition: Condition) -> str:
    """A default human message for a condition without one."""
    field, op, value = condition.field.replace("_", " "), condition.op, condition.value
    if condition.field == ACCREDITED and op == "present":
        return "the provider must be accredited"
    if op in ("present", "absent"):
        return f"{field} must {'' if op == 'present' else 'not '}be stated"
    if op in ("in", "not_in"):
        return f"{field} must {'' if op == 'in' else 'not '}be one of {_listed(value)}"
    if op == "between":
        return f"{field} must be between {value[0]} and {value[1]}"
    words = {"eq": "", "gte": "at least ", "lte": "at most ", "gt": "more than ", "lt": "less than "}
    return f"{field} must be {words[op]}{value}"


def _listed(values: Sequence[Any] | None) -> str:
    return ", ".join(str(v) for v in values or ())
