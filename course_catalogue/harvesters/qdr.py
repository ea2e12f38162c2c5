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

Streaming, in bounded memory whatever the feed's size: idrefs point anywhere in the file
(opportunities come first, what they reference after), so the feed is read once with lxml's
iterparse, each element freed once read, into a temporary SQLite file (`_Index`): every element
with an id, serialised, with the digest of those bytes and its links, and every record candidate
(opportunity, specification) in document order with what its pointer needs. The pass checks the
root and the DOCTYPE; a malformed feed fails there, before any record is yielded. The records are
then read back from that file: an item's raw form (what recognises an unchanged item, see `_item`)
is computed from the stored digests and links alone, so an unchanged record is never parsed again;
the item itself is built, for the records that are mapped, by inlining parsed copies of the linked
elements through a bounded cache. XSD validation is not done: `loq.xsd` includes some twenty
vocabulary and external schemas that are not shipped with it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from lxml import etree

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Feed, Gathered, ItemBudget
from course_catalogue.harvesters.xml import secure_events
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


def _free(element: Any) -> None:
    """Drop a read element of a listing, and whatever precedes it there (comments included)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    while element.getprevious() is not None:
        del parent[0]


Link = tuple[str, str]
"""An idref stub: its relation (the stub's local name) and the id it names."""


class Node(NamedTuple):
    """What following links needs of a referenced element: its idref stubs' links (in document
    order), its size in bytes as serialised and the digest of those bytes."""

    links: list[Link]
    size: int
    digest: bytes


class Template(NamedTuple):
    """A referenced element parsed for copying: its trimmed copy (`_copy`), its idref stubs'
    child positions and links (in document order), its size and digest (as `Node`)."""

    copy: Any
    positions: list[tuple[int, ...]]
    links: list[Link]
    size: int
    digest: bytes


TEMPLATES = 4096
"""Parsed copies of referenced elements kept at once (the organisations most records link to)."""
NODES = 65536
"""Nodes (links, size, digest: a few hundred bytes each) kept at once."""
_BATCH = 2000  # rows written to the index at once


class _Record(NamedTuple):
    """A record candidate as the pass stored it: its id, where it is (its listing's ordinal and
    its position among the same-named children of that listing), its trimmed copy serialised and
    the links of its stubs."""

    ident: str | None
    listing: int
    tag: str
    position: int
    body: bytes
    links: list[Link]


class _Index:
    """The feed as the pass stored it in a temporary SQLite file, so memory does not grow with
    the feed: each element with an id in a `*References` list (serialised, its digest and links;
    the ids defined more than once in `duplicates`, the first definition is the one used) and the
    record candidates in document order. `node` and `get` read elements back through bounded
    caches. The file goes with the index, once the last deferred item that may build from it is
    gone."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # a private temporary file, deleted when closed
        self._db.execute("CREATE TABLE element (id TEXT NOT NULL, body BLOB, digest BLOB, links BLOB)")
        self._db.execute(
            "CREATE TABLE record (kind INTEGER, ident TEXT, listing INTEGER, tag TEXT, position INTEGER,"
            " body BLOB, links BLOB)"
        )
        self._elements: list[tuple[str, bytes, bytes, bytes]] = []
        self._records: list[tuple[int, str | None, int, str, int, bytes, bytes]] = []
        self.duplicates: set[str] = set()
        self._nodes: OrderedDict[str, Node | None] = OrderedDict()
        self._cache: OrderedDict[str, Template | None] = OrderedDict()
        self.parser = secure_parser()  # reads back our own serialisations
        self._relations: dict[str, str] = {}  # stub tag -> its local name

    def add(self, ident: str | None, element: Any, record: int | None, where: tuple[int, str, int]) -> None:
        """Store `element` (a child of a listing): by its id if it has one, as a record
        candidate of kind `record` (0 opportunity, 1 specification) at `where` (listing
        ordinal, tag, position) if it is one."""
        copy = _copy(element)
        body = etree.tostring(copy, encoding="utf-8")
        links = _encode(self.links_of(body, copy))
        if ident is not None:
            self._elements.append((ident, body, hashlib.blake2b(body, digest_size=16).digest(), links))
            if len(self._elements) >= _BATCH:
                self._flush()
        if record is not None:
            self._records.append((record, ident, *where, body, links))
            if len(self._records) >= _BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._elements:
            self._db.executemany("INSERT INTO element VALUES (?, ?, ?, ?)", self._elements)
            self._elements.clear()
        if self._records:
            self._db.executemany("INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?)", self._records)
            self._records.clear()

    def close_writing(self) -> None:
        """The pass is over: index the ids (one sort, cheaper than keeping an index while
        writing) and find those defined more than once."""
        self._flush()
        self._db.execute("CREATE INDEX element_id ON element (id)")
        rows = self._db.execute("SELECT id FROM element GROUP BY id HAVING count(*) > 1")
        self.duplicates = {row[0] for row in rows}

    def records(self, kind: int) -> Iterator[_Record]:
        """The record candidates of `kind`, in document order."""
        query = "SELECT ident, listing, tag, position, body, links FROM record WHERE kind = ? ORDER BY rowid"
        for ident, listing, tag, position, body, links in self._db.execute(query, (kind,)):
            yield _Record(ident, listing, tag, position, body, _decode(links))

    def _row(self, ident: str, columns: str) -> Any:
        query = f"SELECT {columns} FROM element WHERE id = ? ORDER BY rowid LIMIT 1"
        return self._db.execute(query, (ident,)).fetchone()

    def node(self, ident: str) -> Node | None:
        """What following links needs of the element with id `ident`, None if no element has it."""
        nodes = self._nodes
        if ident in nodes:
            nodes.move_to_end(ident)
            return nodes[ident]
        row = self._row(ident, "length(body), digest, links")
        node = None if row is None else Node(_decode(row[2]), row[0], row[1])
        nodes[ident] = node
        if len(nodes) > NODES:
            nodes.popitem(last=False)
        return node

    def get(self, ident: str) -> Template | None:
        """The template of the element with id `ident`, None if no element has it."""
        cache = self._cache
        if ident in cache:
            cache.move_to_end(ident)
            return cache[ident]
        row = self._row(ident, "body, digest")
        template: Template | None = None
        if row is not None:
            copy = etree.fromstring(row[0], self.parser)
            stubs = _stubs(copy)
            template = Template(
                copy, [_position(stub, copy) for stub in stubs], self.links(stubs), len(row[0]), row[1]
            )
        cache[ident] = template
        if len(cache) > TEMPLATES:
            cache.popitem(last=False)
        return template

    def links(self, stubs: list[Any]) -> list[Link]:
        """The relation and id of each stub, in order."""
        names = self._relations
        links = []
        for stub in stubs:
            relation = names.get(stub.tag)
            if relation is None:
                relation = names[stub.tag] = etree.QName(stub).localname
            links.append((relation, stub.get("idref")))
        return links

    def links_of(self, body: bytes, copy: Any) -> list[Link]:
        """The links of the stubs of `copy` (`_stubs`), `body` its serialisation: read from the
        bytes where they say it for sure (`_scan_links`), else from the tree."""
        found = _scan_links(body)
        return self.links(_stubs(copy)) if found is None else found


# An idref attribute in lxml's serialisation: values in double quotes, `"` escaped in them, and
# `<`, `>` escaped in text and values alike, so a `<` before it with no `>` between is its tag's.
_SPACE = frozenset(b" \t\n\r")
_NAME = re.compile(rb"[^\s/>]+")
_ESCAPES = {b"&amp;": "&", b"&lt;": "<", b"&gt;": ">", b"&quot;": '"', b"&apos;": "'"}
_REFERENCE = re.compile(rb"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")


def _unescape(value: bytes) -> str:
    if b"&" not in value:
        return value.decode("utf-8")

    def one(match: re.Match[bytes]) -> str:
        text = match.group()
        if text in _ESCAPES:
            return _ESCAPES[text]
        number = text[2:-1]
        return chr(int(number[1:], 16) if number[:1] in (b"x", b"X") else int(number))

    parts, last = [], 0
    for match in _REFERENCE.finditer(value):
        parts.append(value[last : match.start()].decode("utf-8"))
        parts.append(one(match))
        last = match.end()
    parts.append(value[last:].decode("utf-8"))
    return "".join(parts)


def _scan_links(body: bytes) -> list[Link] | None:
    """The links `_stubs` finds in the element serialised as `body`, read from the bytes; None
    when the bytes alone cannot say for sure (a comment, which may hold markup-like text, or an
    element with an id below the root, whose stubs `_stubs` leaves out): the caller asks the
    tree. The tests hold it equal to `_stubs` over the sample feeds."""
    opened = body.find(b">")
    if b"<!--" in body or body.find(b' id="', opened) >= 0:
        return None
    links = []
    at = body.find(b'idref="', opened)
    while at >= 0:
        value = at + 7
        stop = body.find(b'"', value)
        if stop < 0:
            return None
        found, at = at, body.find(b'idref="', stop)
        if body[found - 1] not in _SPACE:
            continue  # another attribute's name ends in "idref"
        start = body.rfind(b"<", 0, found)
        if body.rfind(b">", start, found) >= 0:
            continue  # text that reads like an attribute
        name = _NAME.match(body, start + 1)
        end = body.find(b">", stop)
        if name is None or end < 0:
            return None
        tag = name.group()
        if body[end - 1] != 0x2F:  # not "/>": childless if only text precedes its end tag
            close = body.find(b"<", end)
            if not body.startswith(b"</" + tag + b">", close):
                continue
        links.append((tag[tag.find(b":") + 1 :].decode("utf-8"), _unescape(body[value:stop])))
    return links


def _encode(links: list[Link]) -> bytes:
    return "\x00".join(f"{relation}\x00{ref}" for relation, ref in links).encode("utf-8", "surrogatepass")


def _decode(blob: bytes) -> list[Link]:
    if not blob:
        return []
    parts = blob.decode("utf-8", "surrogatepass").split("\x00")
    return list(zip(parts[::2], parts[1::2], strict=True))


@dataclass
class _Scan:
    """What the pass learnt: the listings' tags in order, how many children of each name the
    root and each listing have (pointers show positions only where a name repeats) and how many
    opportunities and specifications there are."""

    listing_tags: list[str] = field(default_factory=list)
    listings: Counter[str] = field(default_factory=Counter)
    opportunities: int = 0
    specifications: int = 0

    def listing_steps(self) -> list[str]:
        """The pointer step of each listing, by ordinal."""
        seen: Counter[str] = Counter()
        steps = []
        for tag in self.listing_tags:
            seen[tag] += 1
            step = _step(tag)
            steps.append(f"{step}[{seen[tag]}]" if self.listings[tag] > 1 else step)
        return steps


def _scan(data: Feed, index: _Index) -> _Scan:
    """The pass: the root checked, names counted, every element with an id and every record
    candidate stored in `index`."""
    scan = _Scan()
    depth = 0
    ordinal = -1
    seen: Counter[str] = Counter()
    for event, element in secure_events(data, keep_comments=True):
        if event == "start":
            depth += 1
            if depth == 1 and element.tag != _ROOT:
                raise ParseError(
                    f"root element is <{_describe(element.tag)}>; a QDR LOQ feed has "
                    f'<Courses xmlns="{LOQ_NS}">'
                )
            if depth == 2:
                ordinal += 1
                scan.listing_tags.append(element.tag)
                scan.listings[element.tag] += 1
                seen = Counter()
            continue
        depth -= 1
        if depth == 2:
            tag = element.tag
            seen[tag] += 1
            record = None
            if tag == _OPPORTUNITY:
                scan.opportunities += 1
                record = 0
            elif tag in _SPECIFICATIONS:
                scan.specifications += 1
                record = 1
            ident = element.get("id")
            if ident is not None or record is not None:
                index.add(ident, element, record, (ordinal, tag, seen[tag]))
            _free(element)
    index.close_writing()
    return scan


def _step(tag: str) -> str:
    qname = etree.QName(tag)
    return ("loq:" if qname.namespace == LOQ_NS else "") + qname.localname


class QdrHarvester:
    """Harvester for format "qdr-loq". Stateless; a run's index lives only during `gather`."""

    def gather(self, data: Feed, spec: Any) -> Iterator[Gathered]:
        language = getattr(spec, "selector_language", None)
        if not isinstance(language, XmlRecords):
            language = XmlRecords()
        limit = language.max_bytes
        budget = ItemBudget.for_feed(language.max_record_bytes, language.max_expansion, len(data))
        if len(data) > limit:
            raise ParseError(f"the feed has {len(data)} bytes, more than reader.max_bytes ({limit})")
        index = _Index()  # kept by the deferred items until they are built or dropped
        scan = _scan(data, index)
        if not scan.opportunities and not scan.specifications:
            raise ParseError(
                "the feed has no learningOpportunity and no qualification or "
                "learningAchievementSpecification: no record to harvest (an empty feed is refused, "
                "so that it cannot withdraw every course of its source)"
            )
        root_step = _step(_ROOT)
        listings = scan.listing_steps()
        steps: dict[str, str] = {}
        for record in index.records(0 if scan.opportunities else 1):
            step = steps.get(record.tag) or steps.setdefault(record.tag, _step(record.tag))
            pointer = f"/{root_step}/{listings[record.listing]}/{step}[{record.position}]"
            yield _item(record, index, pointer, budget)


def _describe(tag: Any) -> str:
    if not isinstance(tag, str):
        return "?"
    qname = etree.QName(tag)
    return f"{qname.localname} xmlns={qname.namespace!r}" if qname.namespace else qname.localname


def _item(record: _Record, index: _Index, pointer: str, budget: ItemBudget) -> Gathered:
    """The record, deferred (`harvesters.base.Gathered`). Its raw form is the record's trimmed
    copy as serialised, then for each element the inlining copies into it (in the order it does)
    its id and the digest of its serialisation, or that the id names nothing: the raw form
    changes when the record or anything copied into it does. The links are followed over the
    index's nodes without parsing anything (`_Inliner.walk`), which also gives the item's
    warnings and whether it fits its budget; the item is built by the same walk over parsed
    copies, when asked for. Its size for the budget is the record's bytes plus its copies'."""
    ident, body = record.ident, record.body
    issues: list[Issue] = []
    if ident is not None and ident in index.duplicates:
        issues.append(
            _warning(
                f"id {ident!r} is defined more than once; used the first", pointer, ident, "duplicate-id"
            )
        )
    room = budget.room()
    try:
        parts, size = _Inliner(index, pointer, ident, issues, room).walk(record.links, None)
    except _OverBudget as over:
        return _refused(budget, over.size, pointer, ident)
    refusal = budget.refusal(len(body) + size, pointer, ident)
    if refusal is not None:
        return Gathered(RawItem(b"", QDR_ITEM, pointer=pointer, guid=ident), (refusal,))
    raw = b"".join([str(len(body)).encode(), b":", body, *parts])
    build = partial(_build, body, index, pointer, ident, room)
    return Gathered.deferred(raw, QDR_ITEM, pointer, ident, build, tuple(issues))


def _build(body: bytes, index: _Index, pointer: str, ident: str | None, room: int) -> RawItem:
    """The item `_item` deferred: the record parsed back, its links inlined by the same walk."""
    record = etree.fromstring(body, index.parser)
    stubs = _stubs(record)
    _Inliner(index, pointer, ident, [], room).walk(index.links(stubs), stubs)
    if record.tag != _OPPORTUNITY:
        wrapper = etree.Element(_SPEC_RELATION, nsmap=record.nsmap)
        wrapper.set("idref", ident or "")
        wrapper.append(record)
        record = wrapper
    content = etree.tostring(record, encoding="utf-8", xml_declaration=False)
    return RawItem(content, QDR_ITEM, pointer=pointer, guid=ident, parsed=record)


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
    """Follows a record's links breadth-first (near links first, so a budget cut keeps the
    provider and the specification), over the index's nodes or, to copy, its templates."""

    def __init__(
        self,
        index: _Index,
        pointer: str,
        ref: str | None,
        issues: list[Issue],
        room: int = MAX_RECORD_BYTES,
    ) -> None:
        self.room = room  # bytes of copies allowed: _OverBudget past it
        self.index = index
        self.pointer = pointer
        self.ref = ref
        self.issues = issues
        self.reported: set[str] = set()

    def walk(self, links: list[Link], stubs: list[Any] | None) -> tuple[list[bytes], int]:
        """Follow `links`, those of a record's stubs: the raw-form part of each element reached
        (see `_item`) and the bytes of their copies. `stubs`: when copying, the record's stubs
        (in its trimmed copy), into which each element reached is copied, and so on inside the
        copies (parsed templates); None: the index's nodes are followed and nothing is parsed.
        Warnings go to `issues`; _OverBudget past `room`."""
        # Each copy's stubs are found when it is made: only its own processing fills them later.
        queue: deque[tuple[list[Link], list[Any] | None, tuple[str, ...]]] = deque(
            [(links, stubs, (self.ref or "",))]
        )
        parts: list[bytes] = []
        copies = 0
        size = 0  # bytes of the copies inlined so far (each as serialised, its stubs empty)
        while queue:
            links, slots, path = queue.popleft()
            for position, (relation, ref) in enumerate(links):
                if relation in _NOT_FOLLOWED or ref in path:
                    continue
                target = self.index.get(ref) if stubs is not None else self.index.node(ref)
                if target is None:
                    self._dangling(relation, ref)
                    parts.append(b"\x00" + ref.encode("utf-8", "surrogatepass") + b"\x00")
                    continue
                if ref in self.index.duplicates:
                    self._duplicate(ref)
                if copies == MAX_COPIES:
                    message = (
                        f"more than {MAX_COPIES} linked elements; further references left as idref stubs"
                    )
                    self.issues.append(_warning(message, self.pointer, self.ref, "reference-budget"))
                    return parts, size
                copies += 1
                size += target.size
                if size > self.room:
                    raise _OverBudget(size)
                parts.append(b"\x01" + ref.encode("utf-8", "surrogatepass") + b"\x00" + target.digest)
                inner = None
                if slots is not None:
                    assert isinstance(target, Template)
                    inlined, inner = _fresh(target)
                    slots[position].append(inlined)
                if relation not in _SHALLOW:
                    queue.append((target.links, inner, (*path, ref)))
        return parts, size

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


def _fresh(template: Template) -> tuple[Any, list[Any]]:
    """A new copy of a referenced element and its idref stubs, in document order."""
    duplicate = template.copy.__deepcopy__(None)
    positions = template.positions
    stubs = []
    for position in positions:
        node = duplicate
        for index in position:
            node = node[index]
        stubs.append(node)
    return duplicate, stubs


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
