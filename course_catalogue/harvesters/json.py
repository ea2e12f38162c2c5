"""JSON harvester: one RawItem per record of a JSON document or of a JSON Lines feed.

Reading rules (the contract the tests pin down):

* Shapes: one JSON document (`reader.records`, a JMESPath expression, selects the record list,
  e.g. "items" for an OOAPI page; without it a top-level array is the list and a top-level object
  one record), or JSON Lines with `reader.lines = true` (each non-blank line one document, to
  which `records` applies in turn). A selected list gives one record per member, an object one.
* Strict JSON (RFC 8259) with the standard library: NaN / Infinity are refused (the stored record
  must stay valid JSON for every consumer); text must be UTF-8 (a BOM, UTF-16 and UTF-32 are
  recognised as RFC 4627 allowed).
* Limits: a feed larger than `reader.max_bytes` (100 MiB) or nested deeper than
  `reader.max_depth` (64) fails the feed (ParseError), as does JSON the parser cannot read; a
  nesting bomb never reaches the mapping. With JSON Lines the same problems on one line are an
  ERROR on that line and the rest of the feed carries on.
* Duplicate keys in an object: the last value wins (what the standard library does, and what
  most JSON producers mean); each record holding one gets a WARNING `duplicate-key` naming it.
* A record that is not a JSON object (a bare string or number in the list) is an ERROR on that
  record: it cannot carry an id.
* A `records` expression that selects nothing (null), and a feed without any record (an empty
  list, blank lines only), fail the feed, as in the XML and QDR harvesters: a broken or foreign
  feed must not read as an empty catalogue and withdraw every course.
* `RawItem.content` is the record as canonical JSON (UTF-8, sorted keys, no spaces), `parsed` the
  object, `pointer` where it was: "$" (the document), "$[3]", "$.items[3]" (a dotted `records`
  path), "$ (expr)[3]" (any other expression), prefixed by "line 4" for JSON Lines.

A single document is parsed whole (the standard library has no streaming parser), so memory grows
with the document, bounded by `max_bytes`; JSON Lines is read one line at a time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Feed, Gathered
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.json_paths import JSON_MEDIA_TYPE, JsonRecords, compile_expression, dumps

_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class _Parsed:
    """One parse with duplicate-key bookkeeping: id(object) -> the keys it repeated."""

    def __init__(self) -> None:
        self.duplicates: dict[int, list[str]] = {}

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            counts = Counter(k for k, _ in pairs)
            self.duplicates[id(obj)] = [k for k, n in counts.items() if n > 1]
        return obj

    def load(self, data: bytes, max_depth: int) -> Any:
        """The parsed JSON; ValueError for anything that is not strict JSON within the depth limit."""
        if not data.strip():
            raise ValueError("empty: expected a JSON document")
        try:
            value = json.loads(data, object_pairs_hook=self.hook, parse_constant=_no_constant)
        except RecursionError:
            raise ValueError(f"the JSON is nested too deeply to read (limit {max_depth} levels)") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"the feed is not UTF-8 text: {exc.reason}") from None
        except json.JSONDecodeError as exc:
            hint = " (JSON Lines? set reader.lines = true)" if exc.msg == "Extra data" else ""
            raise ValueError(f"not valid JSON: {exc}{hint}") from None
        if depth_exceeded(value, max_depth):
            raise ValueError(f"the JSON is nested deeper than {max_depth} levels (reader.max_depth)")
        return value

    def repeated_in(self, record: Any) -> list[str]:
        """The keys repeated in any object of `record`."""
        if not self.duplicates:
            return []
        found: list[str] = []
        stack = [record]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                found.extend(self.duplicates.get(id(value), ()))
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
        return list(dict.fromkeys(found))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def depth_exceeded(value: Any, limit: int) -> bool:
    """True when containers nest deeper than `limit` (the top-level container is level 1)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        children = current.values() if isinstance(current, dict) else current
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


class JsonHarvester:
    """Harvester for format "json" (a JSON document or JSON Lines whose spec names its records)."""

    def gather(self, data: Feed, spec: Any) -> Iterator[Gathered]:
        language = getattr(spec, "selector_language", None)
        if not isinstance(language, JsonRecords):
            raise ConfigurationError(f"mapping {getattr(spec, 'name', '?')} does not read JSON items")
        if len(data) > language.max_bytes:
            limit = language.max_bytes
            raise ParseError(f"the feed has {len(data)} bytes, more than reader.max_bytes ({limit})")
        expression = compile_expression(language.records) if language.records else None
        found = 0
        for gathered in (
            _lines(data, language, expression)
            if language.lines
            # one document is parsed whole (reader.max_bytes bounds it): a mapped file is copied
            else _document(data if isinstance(data, bytes) else data[:], language, expression)
        ):
            found += 1
            yield gathered
        if not found:
            raise ParseError(
                "the feed has no record: is it the format the mapping reads? (an empty catalogue is "
                "refused so that a broken feed cannot withdraw every course)"
            )


def _document(data: bytes, language: JsonRecords, expression: Any) -> Iterator[Gathered]:
    parsed = _Parsed()
    try:
        found = _select(parsed.load(data, language.max_depth), language.records, expression, "$")
    except ValueError as exc:
        raise ParseError(str(exc)) from None
    for record, pointer in found:
        yield _gathered(record, pointer, parsed)


def _lines(data: Feed, language: JsonRecords, expression: Any) -> Iterator[Gathered]:
    """JSON Lines: each line on its own; a bad line is an ERROR on it, not on the feed."""
    start, number = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line, start = data[start:end], end + 1
        number += 1
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line.strip():
            continue
        base = f"line {number}"
        parsed = _Parsed()
        try:
            document = parsed.load(line, language.max_depth)
            found = _select(document, language.records, expression, base)
        except ValueError as exc:
            yield _unreadable(line, base, str(exc), "unreadable-line")
            continue
        for record, pointer in found:
            yield _gathered(record, pointer, parsed)


def _select(document: Any, records: str | None, expression: Any, base: str) -> list[tuple[Any, str]]:
    """(record, pointer) pairs of one document; ValueError when `records` selects nothing."""
    selected = document if expression is None else expression.search(document)
    if selected is None:
        raise ValueError(
            f"reader.records {records!r} selects nothing in the feed: is it the format the mapping reads?"
        )
    where = _where(document, selected, records, base)
    if isinstance(selected, list):
        return [(m, base if m is document else f"{where}[{i}]") for i, m in enumerate(selected)]
    return [(selected, where)]


def _where(document: Any, selected: Any, records: str | None, base: str) -> str:
    """A readable pointer to the selected value: the document itself, one of its keys, a dotted
    `records` path, else the expression."""
    if selected is document:
        return base
    if isinstance(document, dict):
        key = next((k for k, v in document.items() if v is selected), None)
        if key is not None and _DOTTED.match(key):
            return f"{base}.{key}"
    if records and _DOTTED.match(records):
        return f"{base}.{records}"
    return f"{base} ({records})"


def _content(record: Any) -> bytes:
    """The record's canonical JSON bytes. A lone surrogate (JSON allows a `"\\ud800"` escape; it
    is no character and has no UTF-8) stays the escape it was published as: the raw payload keeps
    what was published, and the mapped course is rejected by the store's check if it holds one."""
    try:
        return dumps(record)
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8", "backslashreplace")


def _gathered(record: Any, pointer: str, parsed: _Parsed) -> Gathered:
    content = _content(record)
    if not isinstance(record, dict):
        kind = "an array" if isinstance(record, list) else "null" if record is None else type(record).__name__
        issue = Issue(
            Severity.ERROR,
            f"the record is {kind}, not a JSON object",
            pointer=pointer,
            code="not-an-object",
            value=content[:100].decode("utf-8", "replace"),
        )
        return Gathered(RawItem(content, JSON_MEDIA_TYPE, pointer=pointer), (issue,))
    issues: tuple[Issue, ...] = ()
    repeated = parsed.repeated_in(record)
    if repeated:
        names = ", ".join(repr(k) for k in repeated)
        message = f"the record repeats key(s) {names} in one object; the last value was kept"
        issues = (Issue(Severity.WARNING, message, pointer=pointer, code="duplicate-key"),)
    return Gathered(RawItem(content, JSON_MEDIA_TYPE, pointer=pointer, parsed=record), issues)


def _unreadable(line: bytes, pointer: str, message: str, code: str) -> Gathered:
    issue = Issue(
        Severity.ERROR, message, pointer=pointer, code=code, value=line[:100].decode("utf-8", "replace")
    )
    return Gathered(RawItem(line, JSON_MEDIA_TYPE, pointer=pointer), (issue,))
