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
* `max_record_bytes` (default 8 MiB) and `max_expansion` (default 32): how big one item may grow
  through the copies the harvester puts in it (context shells, QDR `idref` targets), and how many
  bytes of items a feed may give per byte of feed (plus one record's cap); a record over either
  is reported, not processed.

Selectors are evaluated with the record element as the context node (`dc:title`, `@id`,
`ancestor::xcri:course/dc:title`). A selected element gives its string value (all descendant
text; XHTML content keeps its paragraphs, list items and rows apart), an attribute or text node
its text, an XPath function its string / number / boolean.
Element, attribute and text results carry the language found through `lang_attributes`
(`mappings.values.LangValue`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

from lxml import etree

from course_catalogue.catalogue import formats
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.selection import Select, SelectNodes
from course_catalogue.mappings.transforms.text import xhtml_text
from course_catalogue.mappings.values import Published, tagged

XML_MEDIA_TYPE = formats.XML  # the media types are named in the one formats table
"""Media type of an XML record: the record element (wrapped in copies of its context ancestors)
serialised as UTF-8 bytes without an XML declaration."""

MAX_BYTES = 100 * 1024 * 1024
MAX_RECORD_BYTES = 8 * 1024 * 1024
"""Default `reader.max_record_bytes` (the largest real QDR item seen, the EC sample's, is 474 KB)."""
MAX_EXPANSION = 32
"""Default `reader.max_expansion`: bytes of items per byte of feed (real feeds: 1 to 3)."""
XML_NS = "http://www.w3.org/XML/1998/namespace"
EXSLT_REGEXP = "http://exslt.org/regular-expressions"
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*(\[.*\])?\s*$", re.S)
_STRING = etree.XPath("string()")
_XHTML = "{http://www.w3.org/1999/xhtml}"


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
    {
        "record": _strings,
        "context": _strings,
        "lang_attributes": _strings,
        "max_bytes": _positive,
        "max_record_bytes": _positive,
        "max_expansion": _positive,
    }
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
    be called through a prefix the spec binds to their namespace, so only such specs get them.
    Likewise lxml registers every prefix it is given on every call: the expression gets only the
    spec's prefixes it names: those whose "prefix:" occurs in it (a superset of those it uses: every
    QName with the prefix holds that text; a string literal or a longer prefix may add some)."""
    used = {prefix: iri for prefix, iri in namespaces.items() if f"{prefix}:" in expression}
    try:
        return _compiled(expression, used)
    except etree.XPathError:
        pass  # an invalid expression: the error is the one it gives with all of the spec's prefixes
    try:
        return _compiled(expression, namespaces)
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {expression!r}: {exc}") from exc


def _compiled(expression: str, namespaces: Mapping[str, str]) -> etree.XPath:
    """`expression` compiled with `namespaces` and tried on an empty element (XPathError)."""
    regexp = EXSLT_REGEXP in namespaces.values()
    compiled = etree.XPath(expression, namespaces=dict(namespaces), smart_strings=True, regexp=regexp)
    compiled(etree.Element("probe"))
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
    max_record_bytes: int = MAX_RECORD_BYTES
    max_expansion: int = MAX_EXPANSION
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
            max_record_bytes=int(reader.get("max_record_bytes", MAX_RECORD_BYTES)),
            max_expansion=int(reader.get("max_expansion", MAX_EXPANSION)),
        )

    def compile(self, key: str, expression: str) -> Select:
        if not expression.strip():
            raise ValueError("an XPath cannot be empty")
        compiled = _xpath(expression, self.namespaces)
        langs = self.lang_attributes

        def select(node: Any) -> list[Published] | None:
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

    def coverage_tracker(self, uses: Iterable[Any]) -> XmlCoverage:
        """What the spec's selectors (`mappings.coverage.SelectorUse`s) read, per record."""
        return XmlCoverage(self, uses)

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


def _values(result: Any, langs: tuple[str, ...]) -> list[Published]:
    """XPath result -> published values, with their language where the XML says it."""
    if isinstance(result, bool):
        return ["true" if result else "false"]
    if isinstance(result, float):
        return [] if result != result else [str(int(result)) if result.is_integer() else str(result)]
    if isinstance(result, str):
        return [_tag(str(result), _owner(result), langs)] if result else []
    values: list[Published] = []
    for node in result:
        if isinstance(node, etree._Element):
            if isinstance(node.tag, str):  # not a comment or processing instruction
                values.append(_tag(_element_text(node), node, langs))
        elif isinstance(node, str):
            values.append(_tag(str(node), _owner(node), langs))
    return values


def _element_text(node: Any) -> str:
    """An element's string value; XHTML inside it (an XCRI-CAP description) keeps its blocks
    ("<li>Biology</li><li>Chemistry</li>" gives two lines, not "BiologyChemistry")."""
    if len(node) == 0:
        # A leaf's string value is its text (lxml joins adjacent text and CDATA nodes); most
        # selected elements are leaves, and string() costs an XPath call.
        return node.text or ""
    for descendant in node.iterdescendants():
        if isinstance(descendant.tag, str) and descendant.tag.startswith(_XHTML):
            return xhtml_text(node)
    return str(_STRING(node))


def _owner(value: Any) -> Any:
    """The element an attribute or text result belongs to (None for computed strings)."""
    getparent = getattr(value, "getparent", None)
    return getparent() if getparent is not None else None


def _tag(text: str, element: Any, langs: tuple[str, ...]) -> Published:
    while element is not None:
        for attribute in langs:
            lang = element.get(attribute)
            if lang is not None:
                return tagged(text, lang)
        element = element.getparent()
    return text


# -- coverage ------------------------------------------------------------------------------

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_PLUMBING = frozenset({f"{{{XSI_NS}}}schemaLocation", f"{{{XSI_NS}}}noNamespaceSchemaLocation"})
"""Attributes that say where a schema is, not anything about a course: never listed."""


class XmlCoverage:
    """Coverage of XML records (see `mappings.coverage`).

    Paths: from the record element, by qualified names with the spec's prefixes (`{iri}name` for
    a namespace the spec does not declare): `mlo:start`, `mlo:start/@dtf`, `.` for the record's
    own text, `@id` for its attributes; values in the context ancestors the harvester copies
    around the record are absolute, `/xcri:catalog/xcri:provider/dc:title`. An element has a
    value when its own text (not its children's) is not blank. The language attributes
    (`lang_attributes`) and schema locations (`xsi:schemaLocation`) are not values: never listed.

    Reads: the spec's selectors become node-set probes (`mappings.xpath_reads`), evaluated as
    one union per record: a selected element is read with its descendants' text (that is its
    string value), an attribute or text node by itself; the language attribute that tags a read
    value (`lang_attributes`, nearest ancestor-or-self) is read with it."""

    def __init__(self, language: XmlRecords, uses: Iterable[Any]) -> None:
        from course_catalogue.mappings.xpath_reads import Probes

        self.namespaces = language.namespaces
        self.lang_attributes = frozenset(language.lang_attributes)
        prefixes = {XML_NS: "xml"}
        for prefix, iri in language.namespaces.items():
            prefixes.setdefault(iri, prefix)
        self._prefixes = prefixes
        self._names: dict[str, str] = {}
        probes = Probes()
        contexts: dict[str, str] = {}
        problems: list[str] = []
        for use in uses:
            try:
                if use.nodes:
                    contexts[use.expression] = probes.nodes(use.expression)
                elif use.each is not None:
                    context = contexts.get(use.each)
                    if context is None:
                        context = contexts[use.each] = probes.nodes(use.each)
                    probes.selector(use.expression, context)
                else:
                    probes.selector(use.expression)
            except ValueError as exc:
                problems.append(f"xpath {use.expression!r}: {exc}")
        self._probe, bad = self._compile(probes.expressions)
        problems += [f"xpath probe {expression!r}" for expression in bad]
        self.problems = tuple(problems)

    def _compile(self, expressions: list[str]) -> tuple[Callable[[Any], Any] | None, list[str]]:
        """One XPath for the union of the probes; a probe lxml refuses is left out (and named)."""
        if not expressions:
            return None, []
        namespaces = dict(self.namespaces)
        try:
            return _xpath(" | ".join(expressions), namespaces), []
        except ValueError:
            good, bad = [], []
            for expression in expressions:
                try:
                    _xpath(expression, namespaces)
                    good.append(expression)
                except ValueError:
                    bad.append(expression)
            return (_xpath(" | ".join(good), namespaces) if good else None), bad

    def name(self, tag: str) -> str:
        """`{iri}local` -> `prefix:local` with the spec's prefixes."""
        name = self._names.get(tag)
        if name is None:
            iri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
            prefix = self._prefixes.get(iri) if iri else None
            name = local if not iri else f"{prefix}:{local}" if prefix else tag
            self._names[tag] = name
        return name

    def values(self, doc: Any) -> tuple[dict[str, str], Any]:
        top = doc
        while (parent := top.getparent()) is not None:
            top = parent
        values: dict[str, str] = {}
        paths: dict[Any, str] = {}
        langs: dict[Any, str] = {}
        # names are looked up in the cache inline (`name` only for a tag seen first): this runs
        # for every element of every record
        known, name_of, lang_attributes = self._names, self.name, self.lang_attributes
        stack: list[tuple[Any, str, str | None]] = [(top, "" if top is doc else "/" + name_of(top.tag), None)]
        while stack:
            element, path, lang = stack.pop()
            paths[element] = path
            own = path or "."
            attributes = element.attrib
            if attributes:
                for key, value in attributes.items():
                    if key in _PLUMBING:
                        continue
                    name = known.get(key) or name_of(key)
                    at = f"{path}/@{name}" if path else f"@{name}"
                    if key in lang_attributes:
                        lang = at
                        continue  # a value's language, not a value: read with the values it tags
                    if value and not value.isspace():
                        values.setdefault(at, value)
            if lang is not None:
                langs[element] = lang
            text = element.text
            if text and not text.isspace():
                values.setdefault(own, text)
            children = []
            for child in element:
                tail = child.tail
                if tail and not tail.isspace():
                    values.setdefault(own, tail)
                tag = child.tag
                if type(tag) is not str:  # a comment or processing instruction
                    continue
                if child is doc:
                    children.append((child, "", lang))
                else:
                    name = known.get(tag) or name_of(tag)
                    children.append((child, f"{path}/{name}" if path else name, lang))
            if children:
                children.reverse()
                stack += children
        return values, (paths, langs)

    def reads(self, doc: Any, state: Any) -> set[str]:
        read: set[str] = set()
        if self._probe is None:
            return read
        paths, langs = state
        try:
            found = self._probe(doc)
        except etree.XPathError:
            return read
        for node in found if isinstance(found, list) else ():
            if isinstance(node, etree._Element):
                for element in node.iter():
                    path = paths.get(element)
                    if path is not None:
                        read.add(path or ".")
                        lang = langs.get(element)
                        if lang is not None:
                            read.add(lang)
                continue
            owner = getattr(node, "getparent", lambda: None)()
            if owner is None:
                continue
            if getattr(node, "is_attribute", False):
                base = paths.get(owner)
                if base is not None:
                    read.add(
                        f"{base}/@{self.name(node.attrname)}" if base else f"@{self.name(node.attrname)}"
                    )
            elif getattr(node, "is_tail", False):
                owner = owner.getparent()
                base = paths.get(owner) if owner is not None else None
                if base is not None:
                    read.add(base or ".")
            else:
                base = paths.get(owner)
                if base is not None:
                    read.add(base or ".")
            lang = langs.get(owner) if owner is not None else None
            if lang is not None:
                read.add(lang)
        return read
