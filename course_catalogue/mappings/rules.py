"""Compiled field rules and how one rule is evaluated against one record.

A rule's evaluation order is fixed: select (or constant) -> drop blanks and null values ->
template / join -> split -> default -> map -> transforms. `compile_runner` builds, once per
rule, a function specialised to the rule's shape (one selector or several, any map, one
transform or a chain), so the per-record path does no option checks it could skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.mappings.selection import Select, SelectNodes
from course_catalogue.mappings.targets import Group, Target
from course_catalogue.mappings.transforms.result import Result, fold
from course_catalogue.mappings.values import Published, carry, strip, text_of
from course_catalogue.mappings.values import join as tag_join

_VALUE_CHARS = 200

Runner = Callable[["RecordState"], tuple[list[Any], "str | None"]]
"""Evaluates a rule for one record: (normalised values, published text or None). Text values
derived from a language-tagged published value are `mappings.values.LangValue`s."""


@dataclass(frozen=True)
class Step:
    """One bound transform of a rule's chain: `call(value) -> Result` with the spec's args applied."""

    name: str
    call: Callable[[Any], Result[Any]]
    many: bool


@dataclass(frozen=True)
class FieldRule:
    """One source for a target, compiled; `run` is its specialised evaluator."""

    target: str
    sources: tuple[str, ...]  # e.g. ("column 'title'",) for messages
    selectors: tuple[Select, ...] = ()
    constant: tuple[str, ...] | None = None
    join: str | None = None
    split: str | None = None
    template: str | None = None
    mapping: Mapping[str, tuple[str, ...]] | None = None
    steps: tuple[Step, ...] = ()
    default: tuple[str, ...] | None = None
    lang: str | None = None
    required: bool = False
    fallback: bool = False
    whole: bool = False  # the first transform reads the tuple of selected values
    transforms: tuple[str, ...] = ()  # the chain's transform names, to bind source parameters later
    args: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as the spec sets them
    run: Runner = field(default=lambda state: ([], None), compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class GroupRule:
    """One source of a repeating group (learning outcomes, locations, ...), compiled.

    `each` selects the sub-nodes, one group per node (None: the record itself is the one node);
    `fields` are the sub-field rules, evaluated with the sub-node as the document. `required`:
    reject the record when no group comes out. Compares by identity (the engine caches per rule).
    """

    group: Group
    source: str | None  # e.g. "each 'mlo:objective'", for messages
    each: SelectNodes | None
    fields: tuple[tuple[Target, tuple[FieldRule, ...]], ...]
    required: bool = False
    fallback: bool = False


class RecordState:
    """What rules need while one record is mapped: its document, null values and issue list."""

    __slots__ = ("doc", "issues", "language", "longest_null", "nulls", "originals", "pointer", "ref")

    def __init__(self, doc: Any, pointer: str | None, nulls: frozenset[str], longest_null: int) -> None:
        self.doc = doc
        self.pointer = pointer
        self.nulls = nulls
        self.longest_null = longest_null
        self.ref: str | None = None
        self.issues: list[Issue] = []
        self.originals: dict[str, str] = {}
        self.language = "und"

    def add(self, issue: Issue, target: str | None, value: str | None) -> None:
        """Record a transform's issue with this record's ref, pointer and the published value."""
        self.issues.append(
            Issue(
                issue.severity,
                issue.message,
                target,
                self.ref,
                self.pointer,
                issue.code,
                value[:_VALUE_CHARS] if value else None,
            )
        )

    def error(self, message: str, target: str | None, code: str) -> None:
        self.issues.append(Issue(Severity.ERROR, message, target, self.ref, self.pointer, code))

    def keep(self, value: Published) -> bool:
        """False for blank cells and the spec's null values ("NA")."""
        text = text_of(value)
        return bool(text) and not (len(text) <= self.longest_null and fold(text) in self.nulls)


def _selection(rule: FieldRule) -> Callable[[RecordState], tuple[list[list[Published]], str | None]]:
    """Per selector, the kept published values; and the published text."""
    pairs = tuple(zip(rule.sources, rule.selectors, strict=True))

    def select(state: RecordState) -> tuple[list[list[Published]], str | None]:
        slots: list[list[Published]] = []
        for source, selector in pairs:
            found = selector(state.doc)
            if found is None:
                state.add(
                    Issue(Severity.WARNING, f"{source} is not in the feed", code="missing-source"),
                    rule.target,
                    None,
                )
                found = []
            slots.append([v for v in map(strip, found) if state.keep(v)])
        published = " | ".join(text_of(v) for slot in slots for v in slot)
        return slots, published or None

    return select


def _shaper(rule: FieldRule) -> Callable[[list[list[Published]]], list[Any]]:
    """Template / join / split applied to the selected values (a whole rule's tuple holds texts)."""
    join, split, template, whole = rule.join, rule.split, rule.template, rule.whole

    def shape(slots: list[list[Published]]) -> list[Any]:
        if whole:
            return [tuple(text_of(slot[0]) if slot else None for slot in slots)] if any(slots) else []
        values = [v for slot in slots for v in slot]
        if not values:
            return values
        if template is not None:
            glue = join or " "
            texts = [glue.join(map(text_of, slot)) for slot in slots]
            text = template.format(*texts, value=glue.join(map(text_of, values)))
            values = [carry(text, tag_join(glue, values))]
        elif join is not None:
            values = [tag_join(join, values)]
        if split is not None:
            values = [carry(p.strip(), v) for v in values for p in text_of(v).split(split) if p.strip()]
        return values

    return shape


def _transformer(rule: FieldRule) -> Callable[[list[Any], RecordState, str | None], list[Any]]:
    """Default, map and the transform chain applied to the shaped values."""
    default, mapping, steps, target = rule.default, rule.mapping, rule.steps, rule.target
    if default is None and mapping is None and len(steps) == 1:
        return _one_step(steps[0], target)

    def transform(values: list[Any], state: RecordState, published: str | None) -> list[Any]:
        if not values and default is not None:
            values = list(default)
        if mapping is not None:
            values = [carry(out, v) for v in values for out in mapping.get(fold(text_of(v)), (v,))]
        for step in steps:
            produced: list[Any] = []
            for value in values:
                text = text_of(value)
                result = step.call(text)
                if result.issues:
                    for issue in result.issues:
                        state.add(issue, target, text if isinstance(text, str) else published)
                if result.value is None:
                    continue
                if step.many:
                    produced.extend(carry(v, value) for v in result.value)
                else:
                    produced.append(carry(result.value, value))
            values = produced
        return values

    return transform


def _one_step(step: Step, target: str) -> Callable[[list[Any], RecordState, str | None], list[Any]]:
    """`_transformer` for the commonest shape, a single transform and no default or map: the
    same steps without the chain loop and the attribute look-ups per value."""
    call, many = step.call, step.many

    def transform(values: list[Any], state: RecordState, published: str | None) -> list[Any]:
        produced: list[Any] = []
        for value in values:
            text = text_of(value)
            result = call(text)
            if result.issues:
                for issue in result.issues:
                    state.add(issue, target, text if isinstance(text, str) else published)
            if result.value is None:
                continue
            if many:
                produced.extend(carry(v, value) for v in result.value)
            else:
                produced.append(carry(result.value, value))
        return produced

    return transform


def compile_runner(rule: FieldRule) -> Runner:
    """The evaluator of `rule`, specialised to its shape."""
    transform = _transformer(rule)
    if rule.constant is not None:
        constant = rule.constant

        def run_constant(state: RecordState) -> tuple[list[Any], str | None]:
            return transform(list(constant), state, None), None

        return run_constant
    plain = len(rule.selectors) == 1 and not (rule.join or rule.split or rule.template or rule.whole)
    if plain:
        selector, source, target = rule.selectors[0], rule.sources[0], rule.target

        def run_plain(state: RecordState) -> tuple[list[Any], str | None]:
            found = selector(state.doc)
            if found is None:
                state.add(
                    Issue(Severity.WARNING, f"{source} is not in the feed", code="missing-source"),
                    target,
                    None,
                )
                return transform([], state, None), None
            if len(found) == 1:
                value = strip(found[0])
                if state.keep(value):
                    text = text_of(value)
                    return transform([value], state, text), text
                return transform([], state, None), None
            kept = [v for v in map(strip, found) if state.keep(v)]
            published = " | ".join(map(text_of, kept)) or None
            return transform(kept, state, published), published

        return run_plain
    select, shape = _selection(rule), _shaper(rule)
    default = rule.default

    def run(state: RecordState) -> tuple[list[Any], str | None]:
        slots, published = select(state)
        if published is None and default is None:
            # nothing kept (a kept value is never blank): shaping and transforming nothing give
            # nothing, with no issue; most alternatives of a multi-rule target find nothing
            return [], None
        return transform(shape(slots), state, published), published

    return run
