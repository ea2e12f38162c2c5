"""The XML selector language: `xpath = "..."` selectors over one XML record, compiled once with lxml.

A spec for an XML format declares its namespace prefixes in `[namespaces]` (XPath 1.0 has no
default namespace: elements of a default namespace need a prefix too) and its records in
`[reader]`:

* `record`: the element(s) that make one record, `"prefix:name"` optionally followed by an XPath
  predicate tested on the finished element (`"xcri:course[not(xcri:presentation)]"`); a list
  gives alternatives.
* `context`: ancestor elements the harvester copies around each record, minus their record and
  context children, so the item stays self-contained (`["xcri:provider", "xcri:course"]`).
* `lang_attributes`: attributes that give a value's language, nearest ancestor-or-self first
  (default `["xml:lang"]`; QDR LOQ uses `["language"]`).
* `max_bytes`: the largest document the harvester reads (default 100 MiB).

Selectors are evaluated with the record element as the context node (`dc:title`, `@id`,
`ancestor::xcri:course/dc:title`). A selected element gives its string value (all descendant
text), an attribute or text node its text, an XPath function its string / number / boolean.
Element, attribute and text results carry the language found through `lang_attributes`
(`mappings.values.Tagged`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from lxml import etree

from mappings.items import RawItem
from mappings.values import tagged

if TYPE_CHECKING:  # selectors.py registers this module: a runtime import would be circular
    from mappings.selectors import Select, SelectNodes

XML_MEDIA_TYPE = "application/xml"
"""Media type of an XML record: the record element (wrapped in copies of its context ancestors)
serialised as UTF-8 bytes without an XML declaration."""

MAX_BYTES = 100 * 1024 * 1024
XML_NS = "http://www.w3.org/XML/1998/namespace"
EXSLT_REGEXP = "http://exslt.org/regular-expressions"
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*(\[.*\])?\s*$", re.S)
_STRING = etree.XPath("string()")


def secure_parser() -> etree.XMLParser:
    """An lxml parser that expands no entities, reads no DTD and touches no network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def _strings(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
    return None if ok or (isinstance(value, str) and value) else "must be a string or a list of strings"


def _positive(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


READER_CHECKS: Mapping[str, Callable[[Any], str | None]] = MappingProxyType(
    {"record": _strings, "context": _strings, "lang_attributes": _strings, "max_bytes": _positive}
)


def _listed(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def clark(name: str, namespaces: Mapping[str, str]) -> str:
    """ "prefix:local" -> "{iri}local" with the spec's prefixes (xml: is predeclared)."""
    prefix, _, local = name.rpartition(":")
    if not prefix:
        return local
    iri = XML_NS if prefix == "xml" else namespaces.get(prefix)
    if iri is None:
        raise ValueError(f"namespace prefix {prefix!r} of {name!r} is not declared in [namespaces]")
    return f"{{{iri}}}{local}"


@dataclass(frozen=True)
class ElementPattern:
    """A record or context element: its Clark tag and an optional predicate test."""

    text: str
    tag: str
    test: Callable[[Any], Any] | None = None

    def matches(self, element: Any) -> bool:
        return element.tag == self.tag and (self.test is None or bool(self.test(element)))


def compile_pattern(text: str, namespaces: Mapping[str, str]) -> ElementPattern:
    """`"prefix:name"` or `"prefix:name[predicate]"`; ValueError when it is not one."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an element name with an optional [predicate]")
    name, predicate = match.groups()
    tag = clark(name, namespaces)
    if not predicate:
        return ElementPattern(text, tag)
    test = _xpath(f"boolean(self::*{predicate})", namespaces)
    return ElementPattern(text, tag, test)


def _xpath(expression: str, namespaces: Mapping[str, str]) -> etree.XPath:
    """Compiled XPath, tried once on an empty element so unknown prefixes and functions fail now.

    lxml registers the EXSLT regular-expression functions on every call of an XPath compiled with
    `regexp=True` (its default), a good part of the cost of evaluating a short path. They can only
    be called through a prefix the spec binds to their namespace, so only such specs get them."""
    regexp = EXSLT_REGEXP in namespaces.values()
    try:
        compiled = etree.XPath(expression, namespaces=dict(namespaces), smart_strings=True, regexp=regexp)
        compiled(etree.Element("probe"))
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {expression!r}: {exc}") from exc
    return compiled


@dataclass(frozen=True)
class XmlRecords:
    """XML items; `configure` binds a spec's namespaces and reader options."""

    media_type: str = XML_MEDIA_TYPE
    keys: tuple[str, ...] = ("xpath",)
    namespaces: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    records: tuple[ElementPattern, ...] = ()
    contexts: tuple[ElementPattern, ...] = ()
    lang_attributes: tuple[str, ...] = (f"{{{XML_NS}}}lang",)
    max_bytes: int = MAX_BYTES
    reader_checks: ClassVar[Mapping[str, Callable[[Any], str | None]]] = READER_CHECKS

    def configure(self, namespaces: Mapping[str, str], reader: Mapping[str, Any]) -> XmlRecords:
        """A copy bound to the spec; ValueError for an undeclared prefix or a bad pattern."""
        langs = _listed(reader.get("lang_attributes")) or ("xml:lang",)
        contexts = tuple(compile_pattern(p, namespaces) for p in _listed(reader.get("context")))
        if any(p.test is not None for p in contexts):
            raise ValueError("reader.context takes element names without [predicates]")
        return replace(
            self,
            namespaces=MappingProxyType(dict(namespaces)),
            records=tuple(compile_pattern(p, namespaces) for p in _listed(reader.get("record"))),
            contexts=contexts,
            lang_attributes=tuple(clark(name, namespaces) for name in langs),
            max_bytes=int(reader.get("max_bytes", MAX_BYTES)),
        )

    def compile(self, key: str, expression: str) -> Select:
        if not expression.strip():
            raise ValueError("an XPath cannot be empty")
        compiled = _xpath(expression, self.namespaces)
        langs = self.lang_attributes

        def select(node: Any) -> list[str] | None:
            try:
                result = compiled(node)
            except etree.XPathError:
                return []
            return _values(result, langs)

        return select

    def compile_nodes(self, key: str, expression: str) -> SelectNodes:
        if not expression.strip():
            raise ValueError("an XPath cannot be empty")
        compiled = _xpath(expression, self.namespaces)

        def nodes(node: Any) -> list[Any] | None:
            try:
                result = compiled(node)
            except etree.XPathError:
                return []
            return [n for n in result if isinstance(n, etree._Element)] if isinstance(result, list) else []

        return nodes

    def parse(self, item: RawItem) -> Any:
        """The record element: `item.parsed` when the harvester left it, else found in `content`
        (the first element matching a `record` pattern, else the root)."""
        if isinstance(item.parsed, etree._Element):
            return item.parsed
        try:
            root = etree.fromstring(item.content, secure_parser())
        except etree.XMLSyntaxError as exc:
            raise ValueError(f"not well-formed XML: {exc}") from exc
        if self.records:
            for element in root.iter(etree.Element):
                if any(p.matches(element) for p in self.records):
                    return element
        return root


def _values(result: Any, langs: tuple[str, ...]) -> list[str]:
    """XPath result -> published strings, tagged with their language where the XML says it."""
    if isinstance(result, bool):
        return ["true" if result else "false"]
    if isinstance(result, float):
        return [] if result != result else [str(int(result)) if result.is_integer() else str(result)]
    if isinstance(result, str):
        return [_tag(str(result), _owner(result), langs)] if result else []
    values: list[str] = []
    for node in result:
        if isinstance(node, etree._Element):
            if isinstance(node.tag, str):  # not a comment or processing instruction
                # A leaf's string value is its text (lxml joins adjacent text and CDATA nodes);
                # most selected elements are leaves, and string() costs an XPath call.
                text = (node.text or "") if len(node) == 0 else _STRING(node)
                values.append(_tag(text, node, langs))
        elif isinstance(node, str):
            values.append(_tag(str(node), _owner(node), langs))
    return values


def _owner(value: Any) -> Any:
    """The element an attribute or text result belongs to (None for computed strings)."""
    getparent = getattr(value, "getparent", None)
    return getparent() if getparent is not None else None


def _tag(text: str, element: Any, langs: tuple[str, ...]) -> str:
    while element is not None:
        for attribute in langs:
            lang = element.get(attribute)
            if lang is not None:
                return tagged(text, lang)
        element = element.getparent()
    return text
