"""XML harvester: streams a feed with lxml and yields one RawItem per record element the spec names.

Reading rules (the contract the tests pin down):

* Security: no entity is expanded, no DTD loaded, nothing fetched from the network. A DOCTYPE
  that declares entities or names an external DTD fails the feed (ParseError) before any record
  is read; a bare `<!DOCTYPE catalog>` is accepted. Feeds larger than `reader.max_bytes`
  (default 100 MiB) and lxml's own limits (huge_tree off) fail the feed too.
* Records: the elements matching `reader.record` (see mappings/xml_paths.py), in document order
  of their end tags. A record nested in another record is yielded on its own as well.
* Context: with `reader.context`, each record is wrapped in copies of its listed ancestors
  (outermost first), each copy keeping its attributes and children except record and context
  elements, so the item is self-contained for replay. That needs the ancestors' children that
  follow the record, so the feed is read twice: once to copy the context elements, once to cut
  the records. The copies are kept serialised (an lxml element costs several times its text),
  so memory grows with the context elements' text and the largest record.
* `RawItem.content` is the (wrapped) record serialised as UTF-8 without an XML declaration;
  `parsed` the record element inside that wrapper; `pointer` its path by local names with
  positions among same-named siblings plus its line, e.g.
  "/catalog/provider[1]/course[2]/presentation[1] (line 40)".
* Not well-formed or truncated XML, undeclared entities, or no record at all: ParseError.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

from lxml import etree

from catalogue.errors import ConfigurationError, ParseError
from harvesters.base import Gathered
from mappings.items import RawItem
from mappings.xml_paths import XML_MEDIA_TYPE, XmlRecords, secure_parser

Shells = dict[int, bytes]
"""Ordinal of a context element in document order -> its copy without record/context children,
serialised: a feed whose records sit in a context that holds most of the text (XCRI-CAP's course
around its presentations) would otherwise be kept whole as an lxml tree, ~6x its size."""


class XmlHarvester:
    """Harvester for formats "xml" and "xcri-cap" (any XML whose spec names its records)."""

    def gather(self, data: bytes, spec: Any) -> Iterator[Gathered]:
        language = getattr(spec, "selector_language", None)
        if not isinstance(language, XmlRecords):
            raise ConfigurationError(f"mapping {getattr(spec, 'name', '?')} does not read XML items")
        if not language.records:
            raise ConfigurationError(f"mapping {spec.name}: reader.record must name the record element(s)")
        if len(data) > language.max_bytes:
            limit = language.max_bytes
            raise ParseError(f"the feed has {len(data)} bytes, more than reader.max_bytes ({limit})")
        shells = _context_shells(data, language) if language.contexts else {}
        found = 0
        for gathered in _records(data, language, shells):
            found += 1
            yield gathered
        if not found:
            wanted = ", ".join(p.text for p in language.records)
            raise ParseError(
                f"the feed has no record element ({wanted}): is it the format the mapping reads?"
            )


def _events(data: bytes, tags: set[str] | None = None) -> Iterator[tuple[str, Any]]:
    """lxml start/end events over `data` with entities, DTDs and network off; ParseError on any
    syntax problem or on a DOCTYPE that declares entities or points to an external DTD.

    `tags`: only events of these elements (libxml2 still parses everything, but Python sees only
    what it asks for). The DOCTYPE is then checked at the first such event; a feed with none of
    them is checked by the unfiltered pass that always follows."""
    parser = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for event, element in parser:
            if not checked:
                check_doctype(element.getroottree().docinfo)
                checked = True
            yield event, element
    except etree.LxmlError as exc:
        raise ParseError(f"not well-formed XML: {exc}") from None


def check_doctype(docinfo: Any) -> None:
    if docinfo.system_url or docinfo.public_id:
        raise ParseError("the feed's DOCTYPE names an external DTD; external DTDs are not read")
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("the feed's DOCTYPE declares entities; entity declarations are refused")


def _context_shells(data: bytes, language: XmlRecords) -> Shells:
    """First pass: a copy of every context element without its record and context children."""
    contexts = {p.tag for p in language.contexts}
    bearing = contexts | {p.tag for p in language.records}
    shells: Shells = {}
    open_ordinals: list[int] = []
    ordinal = 0
    for event, element in _events(data, bearing):
        if event == "start":
            if element.tag in contexts:
                open_ordinals.append(ordinal)
                ordinal += 1
            continue
        if element.tag in contexts:
            shells[open_ordinals.pop()] = _shell(element, bearing)
        element.clear(keep_tail=False)  # copied (context) or not needed (record): free it
    return shells


def _shell(element: Any, bearing: set[str]) -> bytes:
    # A copy, not etree.Element(tag, attrib, nsmap): lxml's API validates names and namespace
    # URIs more strictly than its parser (a non-ASCII namespace IRI, an over-long attribute
    # name), which turned such well-formed feeds into an internal error.
    shell = copy.deepcopy(element)  # its records and inner contexts are already cleared: cheap
    shell.tail = None
    for child in list(shell):
        if child.tag in bearing:
            shell.remove(child)
    return bytes(etree.tostring(shell, encoding="UTF-8", xml_declaration=False))


def _records(data: bytes, language: XmlRecords, shells: Shells) -> Iterator[Gathered]:
    """Second pass: each matching record, wrapped in its context shells."""
    contexts = {p.tag for p in language.contexts}
    records = {p.tag for p in language.records}
    patterns = language.records
    local_names: dict[str, str] = {}  # Clark tag -> local name: a feed repeats a few dozen tags
    path: list[str] = []
    siblings: list[dict[str, int]] = [{}]
    open_ordinals: list[int] = []
    ordinal = 0
    open_records = 0  # elements that may still turn out to be records: keep their content
    parser = secure_parser()  # reads back our own serialisation of the shells
    for event, element in _events(data):
        tag = element.tag
        if event == "start":
            counts = siblings[-1]
            position = counts[tag] = counts.get(tag, 0) + 1
            name = local_names.get(tag)
            if name is None:
                name = local_names[tag] = etree.QName(tag).localname
            path.append(f"{name}[{position}]" if path else name)
            siblings.append({})
            if tag in contexts:
                open_ordinals.append(ordinal)
                ordinal += 1
            open_records += tag in records
            continue
        own = open_ordinals.pop() if tag in contexts else None
        if tag in records:
            open_records -= 1
            if any(p.matches(element) for p in patterns):
                # The pointer is only built for records: most end events are of their fields.
                pointer = f"/{'/'.join(path)} (line {element.sourceline})"
                yield _item(element, [shells[o] for o in open_ordinals], pointer, parser)
        path.pop()
        siblings.pop()
        if tag in records or own is not None or not open_records:
            element.clear(keep_tail=False)


def _item(element: Any, ancestors: list[bytes], pointer: str, parser: Any) -> Gathered:
    record = copy.deepcopy(element)
    record.tail = None
    outer = inner = None
    for shell in ancestors:
        wrapper = etree.fromstring(shell, parser)
        if inner is None:
            outer = wrapper
        else:
            inner.append(wrapper)
        inner = wrapper
    if inner is not None:
        inner.append(record)
    content = etree.tostring(outer if outer is not None else record, encoding="UTF-8", xml_declaration=False)
    return Gathered(RawItem(content, XML_MEDIA_TYPE, pointer=pointer, parsed=record))
