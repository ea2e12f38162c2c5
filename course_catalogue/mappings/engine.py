"""The mapping engine: one raw feed item + a compiled spec -> a normalised Course and its issues.

`apply` does not run `catalogue.validate`; the harvest pipeline validates the mapped course as a
separate step (mappings -> catalogue, see docs/architecture.md). `apply` rejects a record itself
only when it cannot build one: unreadable item, no provider id, or a `required` field missing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from course_catalogue.catalogue.model import (
    EMPTY_TEXT,
    MAPPED_FIELDS,
    Course,
    LangText,
    LearningOutcome,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
    course_id,
    lang_text,
)
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.mappings.coverage import CoverageCounter, RecordProbe
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.rules import FieldRule, GroupRule, RecordState
from course_catalogue.mappings.spec import MappingSpec
from course_catalogue.mappings.targets import Group, Target
from course_catalogue.mappings.values import lang_of, plain, text_of

_BASIS_RANK = {"stated": 0, "estimated-from-hours": 2}  # "converted:*" ranks 1


@dataclass(frozen=True)
class MappedRecord:
    """The result of mapping one item. `course` is None when the record was rejected (an ERROR
    issue says why); `provider_ref` is set whenever the id could be read."""

    provider_ref: str | None
    course: Course | None
    issues: list[Issue]


def apply(
    spec: MappingSpec,
    item: RawItem,
    source_id: str,
    *,
    run_id: int | None = None,
    harvested_at: datetime | None = None,
    coverage: CoverageCounter | RecordProbe | None = None,
) -> MappedRecord:
    """Map one raw item with `spec`. Never raises on item content: problems become issues.

    `coverage`: the run's coverage counter, told about every item that could be parsed (what it
    published and what the spec reads of it, see `mappings.coverage`).

    course.id == course_id(source_id, provider_ref); course.provenance.pointer == item.pointer,
    and its run_id and harvested_at are the ones given (a harvest passes them here rather than
    copying the course afterwards).
    """
    record = RecordState(None, item.pointer, spec.null_values, spec.longest_null)
    record.language = spec.default_language or "und"
    record.ref = item.guid
    if item.media_type != spec.media_type:
        record.error(
            f"item is {item.media_type}, mapping {spec.name} reads {spec.media_type}",
            None,
            "wrong-media-type",
        )
        return MappedRecord(item.guid, None, record.issues)
    try:
        record.doc = spec.selector_language.parse(item)
    except ValueError as exc:
        record.error(f"unreadable item: {exc}", None, "unreadable-item")
        return MappedRecord(item.guid, None, record.issues)
    if coverage is not None:
        coverage.observe(record.doc)
    if record.ref is None and spec.id_rule is not None:
        ids, _ = spec.id_rule.run(record)
        record.ref = text_of(ids[0]) if ids else None
    if not record.ref:
        record.error("the record has no provider id (see the mapping's [id] rule)", "id", "missing-id")
        return MappedRecord(None, None, record.issues)
    if not _usable_id(record.ref):
        # The id keys the course in the store and in every URL: it must be text a database and
        # a URL can hold. The record counts as unidentified (so the run withdraws nothing).
        message = (
            "the record's provider id holds a NUL, a control character or a lone surrogate (such as \\ud800)"
        )
        record.ref = None
        record.error(message, "id", "invalid-id")
        return MappedRecord(None, None, record.issues)
    plan = _plan(spec)
    values: dict[str, Any] = {}
    rejected = False
    for path, evaluate, required in plan.fields:
        value = evaluate(record)
        if value is None:
            if required:
                record.error(f"required field {path} is missing", path, "missing-required")
                rejected = True
            continue
        values[path] = value
        if path == "languages":
            record.language = value[0]
    for group, group_rules, required in plan.groups:
        built = _evaluate_group(group, group_rules, record)
        if built:
            values[group.path] = tuple(built) if group.multiple else built[0]
        elif required:
            record.error(f"required field {group.path} is missing", group.path, "missing-required")
            rejected = True
    if rejected:
        return MappedRecord(record.ref, None, record.issues)
    provenance = Provenance(source_id, record.ref, run_id, harvested_at, record.pointer)
    course = _course(values, record, provenance, plan, spec.default_country)
    return MappedRecord(record.ref, course, record.issues)


_BAD_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _usable_id(ref: str) -> bool:
    """False for an id with a lone surrogate (no UTF-8), a NUL or another control character."""
    return _BAD_ID.search(ref) is None


Evaluator = Callable[[RecordState], Any]


_WORKLOAD_PATHS = ("workload", "workload.ects", "workload.hours")  # in the order they merge


@dataclass(frozen=True)
class Plan:
    """What `apply` does for every record of one spec, decided once from the spec alone.

    `fields`: per target, in spec order, its path, an evaluator specialised to its rules
    (`_evaluator`) and whether a missing value rejects the record. `groups`: the repeating groups
    with their rules and the same flag. The rest says how the Course is assembled from the
    values (`_course`): `direct`, the targets that are Course fields as they are; `places`, the
    flat `locations.*` targets and the Location field each fills; `workloads`, the workload
    targets in merge order; `bodies_named` / `outcomes_texts`: whether awarding bodies and
    learning outcomes come as flat texts, to be wrapped, rather than as groups.

    A pure function of the spec (`_plan`), so a worker process rebuilds the same plan for the
    same spec."""

    fields: tuple[tuple[str, Evaluator, bool], ...]
    groups: tuple[tuple[Group, tuple[GroupRule, ...], bool], ...]
    direct: tuple[str, ...]
    places: tuple[tuple[str, str], ...]
    workloads: tuple[str, ...]
    bodies_named: bool
    outcomes_texts: bool


@functools.lru_cache(maxsize=64)
def _plan(spec: MappingSpec) -> Plan:
    """The plan of a compiled spec; built once per spec (specs hash by identity)."""
    paths = [target.path for target, _ in spec.fields]
    groups = {group.path for group, _ in spec.groups}
    return Plan(
        fields=tuple(
            (target.path, _evaluator(target, rules), any(rule.required for rule in rules))
            for target, rules in spec.fields
        ),
        groups=tuple((group, rules, any(rule.required for rule in rules)) for group, rules in spec.groups),
        direct=tuple(p for p in [*paths, *groups] if p in MAPPED_FIELDS),
        places=tuple((p, p[10:]) for p in paths if p.startswith("locations.")),
        workloads=tuple(p for p in _WORKLOAD_PATHS if p in paths),
        bodies_named="awarding_bodies" in paths and "awarding_bodies" not in groups,
        outcomes_texts="learning_outcomes" in paths and "learning_outcomes" not in groups,
    )


def _evaluator(target: Target, rules: tuple[FieldRule, ...]) -> Evaluator:
    """`_evaluate` for the target, specialised when it has one rule: the same value, issues and
    originals without the merging loop (only "text" and "texts" targets never note originals)."""
    if len(rules) > 1:
        return functools.partial(_evaluate, target, rules)
    rule, path = rules[0], target.path
    run = rule.run
    if target.kind == "text":

        def text(record: RecordState) -> Any:
            values, _ = run(record)
            if not values:
                return None
            if len(values) == 1:
                return lang_text(text_of(values[0]), rule.lang or lang_of(values[0]) or record.language)
            return _by_language([(rule, values)], record)

        return text
    if target.kind in ("code", "int", "date", "price", "float"):

        def scalar(record: RecordState) -> Any:
            values, published = run(record)
            value = _first(target, plain(values), record) if values else None
            if published and published != _render(value):
                record.originals[path] = published
            return value

        return scalar
    if target.kind == "codes":

        def codes(record: RecordState) -> Any:
            values, published = run(record)
            value = tuple(dict.fromkeys(plain(values))) if values else None
            if published and published != _render(value):
                record.originals[path] = published
            return value

        return codes
    if target.kind == "texts":
        lang = rule.lang

        def texts(record: RecordState) -> Any:
            values, _ = run(record)
            if not values:
                return None
            return tuple(lang_text(text_of(v), lang or lang_of(v) or record.language) for v in values)

        return texts
    return functools.partial(_evaluate, target, rules)


def _first(target: Target, values: list[Any], record: RecordState) -> Any:
    if len(values) > 1:
        message = f"{target.path} takes one value; kept the first of {len(values)}"
        record.add(Issue(Severity.WARNING, message, code="extra-values"), target.path, None)
    return values[0]


def _evaluate(target: Target, rules: tuple[FieldRule, ...], record: RecordState) -> Any:
    """The target's final value (None when empty), merging its rules; notes the original text."""
    collected: list[tuple[FieldRule, list[Any]]] = []
    published_parts: list[str] = []
    for rule in rules:
        if collected and (rule.fallback or not target.multiple):
            break
        values, published = rule.run(record)
        if published:
            published_parts.append(published)
        if values:
            collected.append((rule, values if target.kind in ("text", "texts") else plain(values)))
    value = _combine(target, collected, record)
    if published_parts and target.kind not in ("text", "texts"):
        published = " | ".join(published_parts)
        if published != _render(value):
            record.originals[target.path] = published
    return value


def _combine(target: Target, collected: list[tuple[FieldRule, list[Any]]], record: RecordState) -> Any:
    if not collected:
        return None
    kind = target.kind
    if kind == "text":
        return _by_language(collected, record)
    if kind == "texts":
        return tuple(
            lang_text(text_of(v), rule.lang or lang_of(v) or record.language)
            for rule, values in collected
            for v in values
        )
    if kind == "codes":
        return tuple(dict.fromkeys(v for _, values in collected for v in values))
    if kind == "workload":
        return _merge_workloads([v for _, values in collected for v in values])
    return _first(target, collected[0][1], record)


def _by_language(collected: list[tuple[FieldRule, list[Any]]], record: RecordState) -> Any:
    """One LangText: each value under the rule's `lang`, else its own tag, else the record's
    language; values sharing a language are joined as paragraphs."""
    by_lang: dict[str, list[str]] = {}
    for rule, values in collected:
        for value in values:
            by_lang.setdefault(rule.lang or lang_of(value) or record.language, []).append(text_of(value))
    return lang_text({lang: "\n\n".join(texts) for lang, texts in by_lang.items()})


def _evaluate_group(group: Group, rules: tuple[GroupRule, ...], record: RecordState) -> list[Any]:
    """The group's objects (Organisation, LearningOutcome, Location), one per selected sub-node;
    each node becomes the document of the sub-field rules while they run."""
    built: list[Any] = []
    root = record.doc
    for rule in rules:
        if built and (rule.fallback or not group.multiple):
            break
        nodes = [root] if rule.each is None else rule.each(root)
        if nodes is None:
            message = f"{rule.source} is not in the feed"
            record.add(Issue(Severity.WARNING, message, code="missing-source"), group.path, None)
            continue
        try:
            for node in nodes:
                record.doc = node
                instance = _instance(group, rule, record)
                if instance is not None:
                    built.append(instance)
                    if not group.multiple:
                        break
        finally:
            record.doc = root
    return built


def _instance(group: Group, rule: GroupRule, record: RecordState) -> Any:
    values: dict[str, Any] = {}
    for target, rules, evaluate in _group_plan(rule):
        value = evaluate(record)
        if value is not None:
            values[target.path.rpartition(".")[2]] = value
        elif any(r.required for r in rules):
            message = f"{group.path} entry without {target.path}: skipped"
            record.add(Issue(Severity.WARNING, message, code="incomplete-group"), group.path, None)
            return None
    if not values:
        return None
    if group.path == "learning_outcomes":
        if "text" not in values:
            message = "learning outcome without text: skipped"
            record.add(Issue(Severity.WARNING, message, code="incomplete-group"), group.path, None)
            return None
        return LearningOutcome(**values)
    if group.path == "locations":
        return Location(**values)
    return Organisation(name=values.pop("name", EMPTY_TEXT), **values)


@functools.lru_cache(maxsize=256)
def _group_plan(rule: GroupRule) -> tuple[tuple[Target, tuple[FieldRule, ...], Evaluator], ...]:
    """Per sub-field, an evaluator; built once per compiled group rule."""
    return tuple((target, rules, _evaluator(target, rules)) for target, rules in rule.fields)


def _merge_workloads(workloads: list[Workload]) -> Workload:
    """Hours: the first given. ECTS: the best-founded (stated > converted > estimated)."""
    if len(workloads) == 1 and workloads[0].ects is not None:
        return workloads[0]  # what the general case below rebuilds field by field
    hours = next((w.hours for w in workloads if w.hours is not None), None)
    with_ects = [w for w in workloads if w.ects is not None]
    if not with_ects:
        return Workload(hours=hours)
    best = min(with_ects, key=lambda w: _BASIS_RANK.get(w.ects_basis or "", 1))
    return Workload(
        ects=best.ects, hours=hours, ects_basis=best.ects_basis, hours_per_ects=best.hours_per_ects
    )


def _render(value: Any) -> str:
    """The normalised value as text, to compare with what the feed published."""
    if type(value) is str:  # most normalised values (codes, URLs); str(value) would be value
        return value
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    if isinstance(value, Price):
        return f"{value.amount} {value.currency}" if value.currency else str(value.amount)
    if isinstance(value, Workload):
        return str(value.ects if value.hours is None else value.hours)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _organisation(values: dict[str, Any]) -> Organisation:
    if "provider" in values:
        provider: Organisation = values["provider"]
        return provider
    name: LangText = values.get("provider.name", EMPTY_TEXT)
    return Organisation(
        name=name,
        country=values.get("provider.country"),
        homepage=values.get("provider.homepage"),
        identifier=values.get("provider.identifier"),
    )


def _course(
    values: dict[str, Any],
    record: RecordState,
    provenance: Provenance,
    plan: Plan,
    default_country: str | None = None,
) -> Course:
    assert record.ref is not None
    kwargs = {path: values[path] for path in plan.direct if path in values}
    if plan.bodies_named and "awarding_bodies" in kwargs:
        kwargs["awarding_bodies"] = tuple(Organisation(name=n) for n in kwargs["awarding_bodies"])
    if plan.outcomes_texts and "learning_outcomes" in kwargs:
        kwargs["learning_outcomes"] = tuple(LearningOutcome(text=t) for t in kwargs["learning_outcomes"])
    place = {name: values[path] for path, name in plan.places if path in values}
    if place:
        kwargs["locations"] = (Location(**place),)
    elif "locations" in values:
        kwargs["locations"] = values["locations"]
    workloads = [values[path] for path in plan.workloads if path in values]
    if workloads:
        kwargs["workload"] = _merge_workloads(workloads)
    start, end = kwargs.get("start_date"), kwargs.get("end_date")
    if start is not None and end is not None and end < start:
        # Which of the two is wrong cannot be told: keep the course, drop both dates (their text
        # stays in the originals) and say so, rather than reject every other element with them.
        del kwargs["start_date"], kwargs["end_date"]
        record.originals.setdefault("start_date", str(start))
        record.originals.setdefault("end_date", str(end))
        message = f"the end date ({end}) is before the start date ({start}): both dates were left out"
        record.add(Issue(Severity.WARNING, message, code="invalid-dates"), "end_date", f"{start} / {end}")
    provider = _organisation(values)
    if provider.country is None and default_country is not None:  # the source's `country` parameter
        provider = replace(provider, country=default_country)
    return Course(
        id=course_id(provenance.source_id, provenance.provider_ref),
        title=values.get("title", EMPTY_TEXT),
        provider=provider,
        provenance=provenance,
        originals=MappingProxyType(record.originals) if record.originals else EMPTY_TEXT,
        **kwargs,
    )
