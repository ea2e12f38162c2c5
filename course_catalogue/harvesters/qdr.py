"""QDR LOQ XML harvester: a Europass `<Courses>` upload -> one self-contained XML item per opportunity.

Reading rules (the contract the tests pin down):

* Parsing is hardened as in harvesters/xml.py (same parser, same DOCTYPE check): no network, no
  DTD loaded, entities never expanded; a DOCTYPE that declares entities (billion laughs, XXE) or
  names an external DTD is a ParseError, and so is a feed over `reader.max_bytes`. Not well-formed XML is a
  ParseError carrying the parser's line/column message.
* The root must be `<Courses>` in the LOQ namespace `http://data.europa.eu/snb/model/ap/loq-constraints/`;
  anything else is a ParseError saying what was found.
* Every element with an `id` in the `*References` lists is indexed. Records are the
  `learningOpportunity` elements. A feed without any (a register of qualifications) yields one
  record per `qualification` / `learningAchievementSpecification` instead; specifications of a
  feed that has opportunities are not records of their own (they describe those opportunities).
  A feed with neither, empty or not, is a ParseError (it is not a catalogue feed; failing keeps
  a complete-feed run from withdrawing everything).
* An item is the record's element with its references inlined: each `<x idref="ID"/>` stub gets a
  copy of the element with that id appended as its child, and so on inside the copies, so a spec
  follows links with plain child steps (`loq:providedBy/loq:organisation/rov:legalName`). Which
  links are followed is decided per relation (`_SHALLOW`, `_NOT_FOLLOWED`, see below); a link back
  to an element already on the path (a cycle) stays a stub. A specification-only record is
  wrapped as `<learningAchievementSpecification idref="ID"><qualification id="ID">...`, the shape an
  opportunity uses to point at it, so one spec serves both kinds: `(/|/loq:learningOpportunity)/
  loq:learningAchievementSpecification/*` is the specification in either.
* A followed idref that names no element is a WARNING on the item (`dangling-reference`), not a
  feed failure; so is a followed id defined twice (`duplicate-id`, the first definition is used)
  and an item that reaches `MAX_COPIES` (`reference-budget`). Links that are not followed
  (publisher, group membership...) often name agents outside the file and are not checked.
* Expansion is bounded in bytes (`harvesters.base.ItemBudget`): an item the copies would grow
  past `reader.max_record_bytes` (8 MiB), or past the feed's share (`reader.max_expansion` times
  the feed, plus one record), is an ERROR (`record-too-large`, `feed-too-large`), reported and
  not processed; inlining stops as soon as the copies pass it, so nothing that size is built.
  (A 179 KB feed naming one large element from thousands of links once made a 205 MB item.)
* guid = the record's `id`; pointer = the record's XPath in the feed
  (`/loq:Courses/loq:learningOpportunityReferences/loq:learningOpportunity[2]`).
* `content` of `bannerImage` / `logo` media objects longer than `MAX_MEDIA_CHARS` (base64 images)
  is dropped from the copies: it is never course data.

Why nesting and not the flat list: spec selectors stay relative paths that also work inside
repeating groups (an awarding body's country is `loq:location/loq:location/loq:address/...` from
the body). Why not every link: ELM graphs are dense (publisher, group membership, accreditation
back-links, hasPart/isPartOf both ways); expanding all of them turns the 300 KB EC sample into
1 GB per item. Bookkeeping links are left as stubs and part/whole links are copied one level deep
(titles for stackability), which keeps an item within a small multiple of what it describes.

The whole document is held in memory: idrefs point anywhere in the file (opportunities come
first, what they reference after), so records cannot be cut out while streaming. The feed size
cap (MAX_FEED_BYTES) bounds it. XSD validation is not done: `loq.xsd` includes some twenty
vocabulary and external schemas that are not shipped with it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Gathered, ItemBudget
from course_catalogue.harvesters.xml import check_doctype
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.xml_paths import MAX_RECORD_BYTES, XML_MEDIA_TYPE, XmlRecords, secure_parser

LOQ_NS = "http://data.europa.eu/snb/model/ap/loq-constraints/"
QDR_ITEM = XML_MEDIA_TYPE
"""Items are plain XML records for the `xpath` selector language (mappings.xml_paths)."""

MAX_COPIES = 2000
"""Inlined copies per item; beyond it references stay stubs and the item gets a WARNING."""
MAX_MEDIA_CHARS = 4096

_ROOT = f"{{{LOQ_NS}}}Courses"
_OPPORTUNITY = f"{{{LOQ_NS}}}learningOpportunity"
_SPECIFICATIONS = (f"{{{LOQ_NS}}}qualification", f"{{{LOQ_NS}}}learningAchievementSpecification")
_SPEC_RELATION = f"{{{LOQ_NS}}}learningAchievementSpecification"
_MEDIA = frozenset({f"{{{LOQ_NS}}}bannerImage", f"{{{LOQ_NS}}}logo"})
_CONTENT = f"{{{LOQ_NS}}}content"
# Relations whose target is copied without following the target's own references: enough for
# the part's title, without pulling in a whole second opportunity or specification graph.
_SHALLOW = frozenset(
    {
        "hasPart",
        "isPartOf",
        "specialisationOf",
        "generalisationOf",
        "learningActivitySpecification",
        "influencedBy",
        "entitlesTo",
    }
)
# Bookkeeping and back-links no standard element is read from; following them copies most of
# the feed into every item (every organisation publishes and is a member of every group).
_NOT_FOLLOWED = frozenset(
    {
        "publisher",
        "groupMemberOf",
        "member",
        "hasSubOrganization",
        "subOrganizationOf",
        "influences",
        "proves",
        "entitledBy",
        "limitOrganisation",
        "limitQualification",
        "accreditingAgent",
        "organisation",  # accreditation -> accredited organisation (a back-link from the org)
    }
)


def parse_feed(data: bytes) -> Any:
    """The feed's root element; ParseError for malformed XML, declared entities or an external DTD."""
    try:
        tree = etree.fromstring(data, secure_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML: {exc}") from None
    check_doctype(tree.docinfo)
    return tree.getroot()


@dataclass
class _Index:
    """id -> element over every `*References` list, with the ids defined more than once."""

    by_id: dict[str, Any] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, root: Any) -> _Index:
        index = cls()
        for listing in root:
            if not isinstance(listing.tag, str):
                continue
            for element in listing:
                ident = element.get("id") if isinstance(element.tag, str) else None
                if ident is None:
                    continue
                if ident in index.by_id:
                    index.duplicates.add(ident)
                else:
                    index.by_id[ident] = element
        return index


class QdrHarvester:
    """Harvester for format "qdr-loq". Stateless; holds the parsed feed only during `gather`."""

    def gather(self, data: bytes, spec: Any) -> Iterator[Gathered]:
        language = getattr(spec, "selector_language", None)
        if not isinstance(language, XmlRecords):
            language = XmlRecords()
        limit = language.max_bytes
        budget = ItemBudget.for_feed(language.max_record_bytes, language.max_expansion, len(data))
        if len(data) > limit:
            raise ParseError(f"the feed has {len(data)} bytes, more than reader.max_bytes ({limit})")
        root = parse_feed(data)
        if root.tag != _ROOT:
            raise ParseError(
                f'root element is <{_describe(root.tag)}>; a QDR LOQ feed has <Courses xmlns="{LOQ_NS}">'
            )
        index = _Index.build(root)
        opportunities, specifications = _records(root)
        records = opportunities or specifications
        if not records:
            raise ParseError(
                "the feed has no learningOpportunity and no qualification or "
                "learningAchievementSpecification: no record to harvest (an empty feed is refused, "
                "so that it cannot withdraw every course of its source)"
            )
        positions = _Positions()
        copies = _Copies()
        for element in records:
            yield _item(element, index, positions, copies, budget)


def _records(root: Any) -> tuple[list[Any], list[Any]]:
    """(opportunities, specifications) of the reference lists, in document order."""
    opportunities: list[Any] = []
    specifications: list[Any] = []
    for listing in root:
        for element in listing if isinstance(listing.tag, str) else ():
            if element.tag == _OPPORTUNITY:
                opportunities.append(element)
            elif element.tag in _SPECIFICATIONS:
                specifications.append(element)
    return opportunities, specifications


def _describe(tag: Any) -> str:
    if not isinstance(tag, str):
        return "?"
    qname = etree.QName(tag)
    return f"{qname.localname} xmlns={qname.namespace!r}" if qname.namespace else qname.localname


def _item(
    element: Any,
    index: _Index,
    positions: _Positions | None = None,
    copies: _Copies | None = None,
    budget: ItemBudget | None = None,
) -> Gathered:
    pointer = _pointer(element, positions or _Positions())
    ident = element.get("id")
    budget = budget or ItemBudget(MAX_RECORD_BYTES, MAX_RECORD_BYTES)
    issues: list[Issue] = []
    if ident is not None and ident in index.duplicates:
        issues.append(
            _warning(
                f"id {ident!r} is defined more than once; used the first", pointer, ident, "duplicate-id"
            )
        )
    inliner = _Inliner(index, pointer, ident, issues, copies or _Copies(), budget.room())
    try:
        record = inliner.inline(element)
    except _OverBudget as over:
        return _refused(budget, over.size, pointer, ident)
    if element.tag != _OPPORTUNITY:
        wrapper = etree.Element(_SPEC_RELATION, nsmap=record.nsmap)
        wrapper.set("idref", ident or "")
        wrapper.append(record)
        record = wrapper
    content = etree.tostring(record, encoding="utf-8", xml_declaration=False)
    refusal = budget.refusal(len(content), pointer, ident)
    if refusal is not None:
        return Gathered(RawItem(b"", QDR_ITEM, pointer=pointer, guid=ident), (refusal,))
    item = RawItem(content, QDR_ITEM, pointer=pointer, guid=ident, parsed=record)
    return Gathered(item, tuple(issues))


class _OverBudget(Exception):
    """Inlining passed the item's room: `size` bytes of copies so far."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _refused(budget: ItemBudget, size: int, pointer: str, ident: str | None) -> Gathered:
    refusal = budget.refusal(size, pointer, ident)
    assert refusal is not None, "inlining stops only past the budget's room"
    return Gathered(RawItem(b"", QDR_ITEM, pointer=pointer, guid=ident), (refusal,))


class _Inliner:
    """Copies a record element and fills its idref stubs breadth-first (near links first, so a
    budget cut keeps the provider and the specification)."""

    def __init__(
        self,
        index: _Index,
        pointer: str,
        ref: str | None,
        issues: list[Issue],
        copies: _Copies,
        room: int = MAX_RECORD_BYTES,
    ) -> None:
        self.room = room  # bytes of copies allowed: _OverBudget past it
        self.copies = copies
        self.index = index
        self.pointer = pointer
        self.ref = ref
        self.issues = issues
        self.reported: set[str] = set()

    def inline(self, element: Any) -> Any:
        record = _copy(element)
        # Each copy's stubs are found when it is made: only its own processing fills them later.
        queue: deque[tuple[list[Any], tuple[str, ...]]] = deque(
            [(_stubs(record), (element.get("id") or "",))]
        )
        copies = 0
        size = 0  # bytes of the copies inlined so far (each as serialised, its stubs empty)
        relations = self.copies.relations
        while queue:
            stubs, path = queue.popleft()
            for stub in stubs:
                relation = relations.get(stub.tag)
                if relation is None:
                    relation = relations[stub.tag] = etree.QName(stub).localname
                ref = stub.get("idref")
                if relation in _NOT_FOLLOWED or ref in path:
                    continue
                target = self.index.by_id.get(ref)
                if target is None:
                    self._dangling(relation, ref)
                    continue
                if ref in self.index.duplicates:
                    self._duplicate(ref)
                if copies == MAX_COPIES:
                    message = (
                        f"more than {MAX_COPIES} linked elements; further references left as idref stubs"
                    )
                    self.issues.append(_warning(message, self.pointer, self.ref, "reference-budget"))
                    return record
                copies += 1
                inlined, inner, bytes_ = self.copies.of(target)
                size += bytes_
                if size > self.room:
                    raise _OverBudget(size)
                stub.append(inlined)
                if relation not in _SHALLOW:
                    queue.append((inner, (*path, ref)))
        return record

    def _duplicate(self, ref: str) -> None:
        if ref not in self.reported:
            self.reported.add(ref)
            message = f"id {ref!r} is defined more than once in the feed; the first definition was used"
            self.issues.append(_warning(message, self.pointer, self.ref, "duplicate-id", ref))

    def _dangling(self, relation: str, ref: str) -> None:
        if ref in self.reported:
            return
        self.reported.add(ref)
        message = f"{relation} refers to {ref!r}, which no element of the feed has as id"
        self.issues.append(_warning(message, self.pointer, self.ref, "dangling-reference", ref))


def _copy(element: Any) -> Any:
    """A copy of `element` without its tail and without oversized media contents."""
    duplicate = element.__deepcopy__(None)  # what copy.deepcopy calls, without its memo
    duplicate.tail = None
    for media in duplicate.iter(*_MEDIA):
        for content in media.findall(_CONTENT):
            if len(content.text or "") > MAX_MEDIA_CHARS:
                media.remove(content)
    return duplicate


class _Copies:
    """Copies of the referenced elements, with their idref stubs. The organisations (and any
    element inlined into more than one record) are trimmed (`_copy`) and searched for stubs once,
    on their second use: later copies are made from that template, whose stubs sit at the same
    child positions in every copy."""

    def __init__(self) -> None:
        self._sizes: dict[Any, int] = {}  # target -> bytes of its copy, stubs empty (seen once)
        self._templates: dict[Any, tuple[Any, list[tuple[int, ...]]]] = {}
        self.relations: dict[str, str] = {}  # stub tag -> local name

    def of(self, target: Any) -> tuple[Any, list[Any], int]:
        """A fresh copy of `target`, its idref stubs (as `_stubs` finds them) in order, and the
        copy's size in bytes as serialised (measured once per target, on its first copy)."""
        known = self._templates.get(target)
        if known is None:
            size = self._sizes.get(target)
            if size is None:
                duplicate = _copy(target)
                size = self._sizes[target] = len(etree.tostring(duplicate, encoding="utf-8"))
                return duplicate, _stubs(duplicate), size
            template = _copy(target)
            known = self._templates[target] = (template, [_position(s, template) for s in _stubs(template)])
        template, positions = known
        duplicate = template.__deepcopy__(None)
        stubs = []
        for position in positions:
            node = duplicate
            for index in position:
                node = node[index]
            stubs.append(node)
        return duplicate, stubs, self._sizes[target]


def _position(node: Any, root: Any) -> tuple[int, ...]:
    """Child indexes from `root` down to `node`."""
    steps = []
    while node is not root:
        parent = node.getparent()
        steps.append(parent.index(node))
        node = parent
    return tuple(reversed(steps))


_STUBS = etree.XPath(
    "descendant::*[@idref][not(* or comment() or processing-instruction())]"
    "[not(ancestor::*[@id][ancestor::*])]"
)
"""The idref stubs under a copy's root, not inside elements with an id below it (inlined copies)."""


def _stubs(copy: Any) -> list[Any]:
    """idref stubs (no children) under `copy`, the root of its tree, in document order, not looking
    inside elements that have an id (inlined copies)."""
    return list(_STUBS(copy))


def _warning(message: str, pointer: str, ref: str | None, code: str, value: str | None = None) -> Issue:
    return Issue(Severity.WARNING, message, record_ref=ref, pointer=pointer, code=code, value=value)


class _Positions:
    """Where an element sits among its parent's children of the same name, counted once per
    (parent, name) for the whole feed: searching the siblings again for every record made
    pointers quadratic in the number of records (10k opportunities: 12 s; 100k: ~20 min)."""

    def __init__(self) -> None:
        # (parent, tag) -> (how many such children, child -> 1-based position). The dict holds
        # the element proxies, so lxml hands back these same objects: identity lookups are safe.
        self._known: dict[tuple[Any, str], tuple[int, dict[Any, int]]] = {}

    def of(self, node: Any, parent: Any) -> tuple[int, int]:
        """(position, count) of `node` among the children of `parent` named like it."""
        key = (parent, node.tag)
        known = self._known.get(key)
        if known is None:
            siblings = parent.findall(node.tag)
            known = (len(siblings), {sibling: n for n, sibling in enumerate(siblings, start=1)})
            self._known[key] = known
        return known[1][node], known[0]


def _pointer(element: Any, positions: _Positions) -> str:
    """XPath of `element` in the feed, `loq:`-prefixed, with positions where a name repeats."""
    steps: list[str] = []
    node = element
    while node is not None:
        qname = etree.QName(node)
        step = ("loq:" if qname.namespace == LOQ_NS else "") + qname.localname
        parent = node.getparent()
        if parent is not None:
            position, count = positions.of(node, parent)
            if count > 1 or node is element:
                step += f"[{position}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))
