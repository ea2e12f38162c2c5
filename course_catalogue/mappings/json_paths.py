"""The JSON selector language: `path = "..."` JMESPath selectors over one JSON record, compiled once.

A spec for a JSON feed (`format = "json"`) names its records in `[reader]`:

* `records`: a JMESPath expression selecting the record list from the document (`"items"` for an
  OOAPI page, `"@"` for a bare array); a single object it selects is one record. Absent: a
  top-level array is the record list, a top-level object is one record.
* `lines`: true for JSON Lines (one JSON document per line; `records` then applies per line).
* `lang_pair`: the two keys of a language-tagged string object, default `["language", "value"]`
  (OOAPI's `[{"language": "en-GB", "value": "..."}]`; JSON-LD value objects would be
  `["@language", "@value"]`); `[]` turns the reading off.
* `max_bytes` (default 100 MiB) and `max_depth` (default 64 levels of nesting): harvester limits.

Selectors are evaluated with the record as the current node (`name`, `studyLoad.value`,
`addresses[?addressType=='teaching'].city`). Results are flattened to strings: a string stays
itself, a number gives its JSON text ("6", "7.5"), a boolean "true"/"false", a list each of its
members in order, an object matching `lang_pair` its value tagged with its language
(`mappings.values.LangValue`); null and other objects give nothing. A group's `each` selects
sub-nodes (each list member one node) and its sub-field paths start from that node; JMESPath
cannot climb back to the record, so a group reads only what lies below its nodes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, ClassVar

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.visitor import TreeInterpreter

from course_catalogue.catalogue import formats
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.selection import Select, SelectNodes
from course_catalogue.mappings.values import Published, tagged, text_of

JSON_MEDIA_TYPE = formats.JSON  # the media types are named in the one formats table
"""Media type of a JSON record: the record as canonical JSON (UTF-8, sorted keys, no spaces)."""

MAX_BYTES = 100 * 1024 * 1024
MAX_DEPTH = 64
DEFAULT_LANG_PAIR = ("language", "value")


def compile_expression(expression: str) -> Any:
    """A compiled JMESPath expression; ValueError with the parser's reason when it is invalid."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("a JMESPath expression cannot be empty")
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"invalid JMESPath {expression!r}: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def loads(data: bytes | str) -> Any:
    """Strict JSON: NaN/Infinity refused; ValueError (also for nesting deeper than the parser can
    take) instead of JSONDecodeError / RecursionError."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: {exc}") from None


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes of a record: UTF-8, sorted keys, no insignificant whitespace."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def _check_records(value: Any) -> str | None:
    try:
        compile_expression(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_pair(value: Any) -> str | None:
    ok = isinstance(value, list) and (
        not value
        or (len(value) == 2 and all(isinstance(v, str) and v for v in value) and value[0] != value[1])
    )
    return None if ok else "must be two different key names [language key, value key], or [] for none"


def _positive(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


READER_CHECKS: Mapping[str, Callable[[Any], str | None]] = MappingProxyType(
    {
        "records": _check_records,
        "lines": lambda v: None if isinstance(v, bool) else "must be true or false",
        "lang_pair": _check_pair,
        "max_bytes": _positive,
        "max_depth": _positive,
    }
)


@dataclass(frozen=True)
class JsonRecords:
    """JSON records; `configure` binds a spec's reader options (record expression, lang pair)."""

    media_type: str = JSON_MEDIA_TYPE
    keys: tuple[str, ...] = ("path",)
    records: str | None = None
    lines: bool = False
    lang_pair: tuple[str, str] | None = DEFAULT_LANG_PAIR
    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH
    reader_checks: ClassVar[Mapping[str, Callable[[Any], str | None]]] = READER_CHECKS

    def configure(self, namespaces: Mapping[str, str], reader: Mapping[str, Any]) -> JsonRecords:
        """A copy bound to the spec's `[reader]`; JSON has no namespaces (ValueError if given)."""
        if namespaces:
            raise ValueError("JSON selectors take no [namespaces]")
        pair = reader.get("lang_pair", list(DEFAULT_LANG_PAIR))
        return replace(
            self,
            records=reader.get("records"),
            lines=bool(reader.get("lines", False)),
            lang_pair=(pair[0], pair[1]) if pair else None,
            max_bytes=int(reader.get("max_bytes", MAX_BYTES)),
            max_depth=int(reader.get("max_depth", MAX_DEPTH)),
        )

    def compile(self, key: str, expression: str) -> Select:
        compiled = compile_expression(expression)
        pair = self.lang_pair

        def select(node: Any) -> list[Published] | None:
            try:
                result = compiled.search(node)
            except JMESPathError:  # a function given the wrong type for this record
                return []
            return flatten(result, pair)

        return select

    def compile_nodes(self, key: str, expression: str) -> SelectNodes:
        compiled = compile_expression(expression)

        def nodes(node: Any) -> list[Any] | None:
            try:
                result = compiled.search(node)
            except JMESPathError:
                return []
            if result is None:
                return []
            return [n for n in result if n is not None] if isinstance(result, list) else [result]

        return nodes

    def coverage_tracker(self, uses: Iterable[Any]) -> JsonCoverage:
        """What the spec's selectors (`mappings.coverage.SelectorUse`s) read, per record."""
        return JsonCoverage(self, uses)

    def parse(self, item: RawItem) -> Any:
        """The record: `item.parsed` when the harvester left it, else the JSON in `content`."""
        if isinstance(item.parsed, dict | list):
            return item.parsed
        return loads(item.content)


def flatten(value: Any, pair: tuple[str, str] | None = DEFAULT_LANG_PAIR) -> list[Published]:
    """A JMESPath result as published values (see the module docstring), in document order."""
    out: list[Published] = []
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            out.append(current)
        elif isinstance(current, bool):
            out.append("true" if current else "false")
        elif isinstance(current, int):
            out.append(str(current))
        elif isinstance(current, float):
            out.append(str(int(current)) if current.is_integer() else repr(current))
        elif isinstance(current, list):
            stack.extend(reversed(current))
        elif isinstance(current, dict) and pair is not None:
            text = _tagged(current, pair)
            if text is not None:
                out.append(text)
    return out


def _tagged(obj: dict[str, Any], pair: tuple[str, str]) -> Published | None:
    lang_key, value_key = pair
    value = obj.get(value_key)
    if lang_key not in obj or value is None or isinstance(value, dict | list | bool):
        return None
    text = value if isinstance(value, str) else text_of(flatten(value, None)[0])
    lang = obj.get(lang_key)
    return tagged(text, lang if isinstance(lang, str) else None)


# -- coverage ------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Tracking(TreeInterpreter):
    """JMESPath's interpreter, noting every (container, key) a selector looks up."""

    def __init__(self, marks: set[tuple[int, Any]]) -> None:
        super().__init__()
        self.marks = marks

    def visit_field(self, node: dict[str, Any], value: Any) -> Any:
        try:
            found = value.get(node["value"])
        except AttributeError:
            return None
        if found is not None:
            self.marks.add((id(value), node["value"]))
        return found

    def visit_index(self, node: dict[str, Any], value: Any) -> Any:
        if isinstance(value, list):
            self.marks.add((id(value), None))
        return super().visit_index(node, value)


class JsonCoverage:
    """Coverage of JSON records (see `mappings.coverage`).

    Paths: keys from the record, joined with `.`, list members as `[]` (`name[].value`,
    `studyLoad.value`, `keywords[]`); a key that is not a plain name is quoted
    (`"course name"`). Values: strings, numbers and booleans (not null).

    Reads: every selector is evaluated with JMESPath's own interpreter, noting each key it looks
    up and each list it indexes: a filter's tests (`[?studyLoadUnit == 'ects']`) read what they
    compare, a selected value is read, a selected language-tagged object (`lang_pair`) has both
    of its keys read. Limits: `keys(@)`, `values(@)`, `to_string(@)` and the like read objects
    without looking keys up: what they touch is not seen."""

    def __init__(self, language: JsonRecords, uses: Iterable[Any]) -> None:
        self.pair = language.lang_pair
        self.marks: set[tuple[int, Any]] = set()
        self._interpreter = _Tracking(self.marks)
        self._plain: list[Any] = []
        self._groups: dict[str, tuple[Any, list[Any]]] = {}
        problems: list[str] = []
        for use in uses:
            try:
                parsed = compile_expression(use.expression).parsed
            except ValueError as exc:
                problems.append(f"path {use.expression!r}: {exc}")
                continue
            if use.nodes:
                self._groups.setdefault(use.expression, (parsed, []))
            elif use.each is not None:
                group = self._groups.get(use.each)
                if group is None:
                    group = self._groups[use.each] = (compile_expression(use.each).parsed, [])
                group[1].append(parsed)
            else:
                self._plain.append(parsed)
        self.problems = tuple(problems)

    def values(self, doc: Any) -> tuple[dict[str, str], Any]:
        values: dict[str, str] = {}
        sites: dict[tuple[int, Any], str] = {}
        stack: list[tuple[Any, str]] = [(doc, "")]
        while stack:
            node, path = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    step = key if _NAME.match(key) else json.dumps(key, ensure_ascii=False)
                    where = f"{path}.{step}" if path else step
                    text = _scalar(value)
                    if text is not None:
                        if text.strip():
                            values.setdefault(where, text)
                        sites[id(node), key] = where
                    elif isinstance(value, dict | list):
                        if isinstance(value, list) and any(_scalar(v) is not None for v in value):
                            sites[id(node), key] = where + "[]"
                        stack.append((value, where))
            elif isinstance(node, list):
                where = path + "[]"
                for member in node:
                    text = _scalar(member)
                    if text is not None:
                        if text.strip():
                            values.setdefault(where, text)
                        sites[id(node), None] = where
                    elif isinstance(member, dict | list):
                        stack.append((member, where))
        return values, sites

    def reads(self, doc: Any, state: Any) -> set[str]:
        sites: dict[tuple[int, Any], str] = state
        marks = self.marks
        marks.clear()
        visit = self._interpreter.visit
        for parsed in self._plain:
            self._taken(self._search(visit, parsed, doc))
        for each, subs in self._groups.values():
            found = self._search(visit, each, doc)
            nodes = [] if found is None else found if isinstance(found, list) else [found]
            for node in nodes:
                for parsed in subs:
                    self._taken(self._search(visit, parsed, node))
        read = {sites[mark] for mark in marks if mark in sites}
        marks.clear()
        return read

    @staticmethod
    def _search(visit: Callable[[Any, Any], Any], parsed: Any, node: Any) -> Any:
        try:
            return visit(parsed, node)
        except JMESPathError:
            return None

    def _taken(self, result: Any) -> None:
        """A selector's result is taken as values: language-tagged objects in it are read whole."""
        if self.pair is None:
            return
        stack = [result]
        while stack:
            current = stack.pop()
            if isinstance(current, list):
                stack.extend(current)
            elif isinstance(current, dict) and self.pair[1] in current and self.pair[0] in current:
                self.marks.add((id(current), self.pair[0]))
                self.marks.add((id(current), self.pair[1]))


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None
