"""XML harvester: streams a feed with lxml and yields one RawItem per record element the spec names.

Reading rules (the contract the tests pin down):

* Security: no entity is expanded, no DTD loaded, nothing fetched from the network. A DOCTYPE
  that declares entities or names an external DTD fails the feed (ParseError) before any record
  is read; a bare `<!DOCTYPE catalog>` is accepted. Feeds larger than `reader.max_bytes`
  (default 100 MiB) and lxml's own limits (huge_tree off) fail the feed too.
* Records: the elements matching `reader.record` (see mappings/xml_paths.py), in document order
  of their end tags. A record nested in another record is yielded on its own as well (and left
  empty in the outer one). An element inside a record whose tag names a context element is the
  record's content and stays whole (XCRI-CAP: `venue/provider` inside a presentation has the tag
  of the catalog's `provider`).
* Context: with `reader.context`, each record is wrapped in copies of its listed ancestors
  (outermost first), each copy keeping its attributes and children except record and context
  elements, so the item is self-contained for replay. That needs the ancestors' children that
  follow the record, so the feed is read once, cutting the records and copying the context
  elements into a temporary SQLite file (`_Shells`: the copies serialised, with their digests,
  and the records serialised), and the records are handed out when the pass is over. Memory
  does not grow with the feed: it grows with the largest record and context element (inside a
  context nothing is swept, its shell needs it).
* Expansion is bounded in bytes (`harvesters.base.ItemBudget`): a record whose wrapped item would
  pass `reader.max_record_bytes` (8 MiB), or the feed's share (`reader.max_expansion` times the
  feed, plus one record), is an ERROR (`record-too-large`, `feed-too-large`), reported and not
  processed: a large context element around many records is copied into each of them.
* `RawItem.content` is the (wrapped) record serialised as UTF-8 without an XML declaration;
  `parsed` the record element inside that wrapper; `pointer` its path by local names with
  positions among same-named siblings plus its line, e.g.
  "/catalog/provider[1]/course[2]/presentation[1] (line 40)".
* Not well-formed or truncated XML, undeclared entities, or no record at all: ParseError.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from functools import partial
from typing import Any, NamedTuple

from lxml import etree

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Issue
from course_catalogue.harvesters.base import Feed, Gathered, ItemBudget, feed_stream
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.xml_paths import XML_MEDIA_TYPE, ElementPattern, XmlRecords, secure_parser


class Shell(NamedTuple):
    """What a record's raw form and budget need of a context shell."""

    size: int
    digest: bytes


SHELLS_KEPT = 64
"""Context shells kept in memory at once (those around the current record, a few levels deep)."""
_BATCH = 2000  # shells written to the file at once


class _Shells:
    """Ordinal of a context element in document order -> its copy without record/context
    children, serialised, and the digest of those bytes: in a temporary SQLite file, so a feed
    whose records sit in a context that holds most of the text (XCRI-CAP's course around its
    presentations) is not kept in memory (an lxml tree costs ~6x its text; the text alone still
    grows with the feed). Read back through a small cache: records in one context follow each
    other. The file goes with the last deferred item that may build from it."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # a private temporary file, deleted when closed
        self._db.execute("CREATE TABLE shell (ordinal INTEGER PRIMARY KEY, body BLOB, digest BLOB)")
        self._db.execute("CREATE TABLE record (pointer TEXT, around TEXT, inner INTEGER, body BLOB)")
        self._pending: list[tuple[int, bytes, bytes]] = []
        self._records: list[tuple[str, str, int | None, bytes]] = []
        self._cache: OrderedDict[int, Shell] = OrderedDict()

    def add_record(self, pointer: str, around: list[int], body: bytes) -> None:
        """A record cut in the pass: its pointer, the ordinals of the contexts around it
        (outermost first) and its bytes, kept until its contexts' shells are all known."""
        inner = around[-1] if around else None
        self._records.append((pointer, ",".join(map(str, around)), inner, body))
        if len(self._records) >= _BATCH:
            self.flush()

    def records(self) -> Iterator[tuple[str, tuple[int, ...], bytes, Shell | None]]:
        """The records `add_record` was given, in that order, each with the size and digest of
        its innermost context's shell (read with it: records rarely share that one)."""
        self.flush()
        query = (
            "SELECT pointer, around, record.body, length(shell.body), digest FROM record"
            " LEFT JOIN shell ON shell.ordinal = inner ORDER BY record.rowid"
        )
        for pointer, around, body, size, digest in self._db.execute(query):
            ordinals = tuple(int(o) for o in around.split(",")) if around else ()
            yield pointer, ordinals, body, None if size is None else Shell(size, digest)

    def add(self, ordinal: int, body: bytes) -> None:
        self._pending.append((ordinal, body, hashlib.blake2b(body, digest_size=16).digest()))
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._db.executemany("INSERT INTO shell VALUES (?, ?, ?)", self._pending)
            self._pending.clear()
        if self._records:
            self._db.executemany("INSERT INTO record VALUES (?, ?, ?, ?)", self._records)
            self._records.clear()

    def get(self, ordinal: int) -> Shell:
        """The size and digest of the shell of context `ordinal`."""
        cache = self._cache
        found = cache.get(ordinal)
        if found is not None:
            cache.move_to_end(ordinal)
            return found
        query = "SELECT length(body), digest FROM shell WHERE ordinal = ?"
        size, digest = self._db.execute(query, (ordinal,)).fetchone()
        found = cache[ordinal] = Shell(size, digest)
        if len(cache) > SHELLS_KEPT:
            cache.popitem(last=False)
        return found

    def body(self, ordinal: int) -> bytes:
        """The shell of context `ordinal` (to build an item)."""
        row = self._db.execute("SELECT body FROM shell WHERE ordinal = ?", (ordinal,)).fetchone()
        return bytes(row[0])


class XmlHarvester:
    """Harvester for formats "xml" and "xcri-cap" (any XML whose spec names its records)."""

    def gather(self, data: Feed, spec: Any) -> Iterator[Gathered]:
        language = getattr(spec, "selector_language", None)
        if not isinstance(language, XmlRecords):
            raise ConfigurationError(f"mapping {getattr(spec, 'name', '?')} does not read XML items")
        if not language.records:
            raise ConfigurationError(f"mapping {spec.name}: reader.record must name the record element(s)")
        if len(data) > language.max_bytes:
            limit = language.max_bytes
            raise ParseError(f"the feed has {len(data)} bytes, more than reader.max_bytes ({limit})")
        shells = _cut(data, language)
        budget = ItemBudget.for_feed(language.max_record_bytes, language.max_expansion, len(data))
        found = 0
        for gathered in _records(shells, budget):
            found += 1
            yield gathered
        if not found:
            wanted = ", ".join(p.text for p in language.records)
            raise ParseError(
                f"the feed has no record element ({wanted}): is it the format the mapping reads?"
            )


def secure_events(
    data: Feed, tags: set[str] | None = None, *, keep_comments: bool = False
) -> Iterator[tuple[str, Any]]:
    """lxml start/end events over `data` with entities, DTDs and network off; ParseError on any
    syntax problem or on a DOCTYPE that declares entities or points to an external DTD.

    `tags`: only events of these elements (libxml2 still parses everything, but Python sees only
    what it asks for). The DOCTYPE is then checked at the first such event; `_check_prolog`
    checks it where an unfiltered read would, at the root's start. `keep_comments`: comments stay
    in the tree (a reader that copies elements byte for byte, as the QDR reader does)."""
    parser = etree.iterparse(
        feed_stream(data),
        events=("start", "end"),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=not keep_comments,
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


def _check_prolog(data: Feed) -> None:
    """ParseError when `data` is not well-formed up to its root's start tag or its DOCTYPE is
    refused: what an unfiltered read finds first (a filtered one would see a syntax error before
    its first event first, or no event at all). libxml2 parses only the first chunk for it."""
    for _ in secure_events(data):
        return


def check_doctype(docinfo: Any) -> None:
    if docinfo.system_url or docinfo.public_id:
        raise ParseError("the feed's DOCTYPE names an external DTD; external DTDs are not read")
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("the feed's DOCTYPE declares entities; entity declarations are refused")


def _shell(element: Any, bearing: set[str]) -> bytes:
    # The element itself, not a copy (a copy of a course with its descriptions cost a third of
    # the pass): its records and inner contexts were cleared and taken (their own shells),
    # so they are removed from the tree; the element is cleared right after. Not a new
    # etree.Element(tag, attrib, nsmap) either: lxml's API validates names and namespace URIs
    # more strictly than its parser (a non-ASCII namespace IRI, an over-long attribute name),
    # which turned such well-formed feeds into an internal error. Serialised on its own, it
    # declares every namespace in scope; the copies nested around a record drop the ones their
    # enclosing copy makes (see `_Maker._build`).
    for child in list(element.iterchildren(*bearing)):
        element.remove(child)
    return bytes(etree.tostring(element, encoding="UTF-8", xml_declaration=False, with_tail=False))


class _Open:
    """An element on the path from the root to the current event: its pointer path and what its
    children seen so far need to number and sweep the next ones."""

    __slots__ = ("element", "last", "path", "swept")

    def __init__(self, element: Any, path: str) -> None:
        self.element = element
        self.path = path  # "catalog/provider[1]/course[2]": local names, positions
        self.last: dict[str, tuple[Any, int]] = {}  # child tag -> its last child seen, position
        self.swept: Any = None  # the last child up to which the earlier children were swept


class _Path:
    """Pointer paths for the bearing elements (records, contexts) of a tag-filtered event stream.

    Python sees no event of the other elements, so the path of an element is found through its
    parent chain: the open elements are kept on a stack (root first) and an element's position
    among same-named siblings is counted from the last sibling of that name seen before, with
    lxml's own tag-filtered sibling walk, so each sibling is passed once: O(elements) over the
    feed. That last sibling is the walk's stop; once a later one of its name is counted, it is
    removed from the tree when it is done with (`_drop`), so the elements a long feed leaves
    behind (XCRI-CAP's hundreds of thousands of <provider>s in one <catalog>, cleared but kept:
    ~130 bytes of libxml2 each) do not pile up; no other element is removed while it is read.

    Sweeping: the unfiltered reader cleared every element outside the open records at its end
    (memory, and what a record predicate sees). Here the elements outside records that ended
    since the last event are the siblings before each newly seen element (or its newly seen
    ancestors), back to the last one swept: they are cleared when such an element opens, outside
    contexts only (a context's shell keeps its other children), so a record predicate sees the
    elements before it outside its contexts cleared, inside them whole. What follows the last
    record or context of an element is cleared with that element's bearing ancestor."""

    def __init__(self, bearing: set[str]) -> None:
        self.bearing = bearing
        self.stack: list[_Open] = []
        self.names: dict[str, str] = {}  # Clark tag -> local name: a feed repeats a few dozen tags

    def enter(self, element: Any, sweep: bool, in_record: bool) -> None:
        """`element` starts; `sweep`: no record or context is open around it; `in_record`: a
        record is (whose bytes keep everything in it, cleared elements too)."""
        stack = self.stack
        parent = element.getparent()
        if not stack or stack[-1].element is not parent:
            self._reach(parent, sweep, in_record)
        self._push(element, sweep, in_record)

    def leave(self, element: Any) -> str:
        """`element` (one `enter` was given) ends: its path. Open elements the filter hid whose
        end went unseen are dropped with it (they are inside it)."""
        stack = self.stack
        entry = stack.pop()
        while entry.element is not element:
            entry = stack.pop()
        return entry.path

    def _reach(self, parent: Any, sweep: bool, in_record: bool) -> None:
        """Make `parent` the top of the stack: drop the ended elements the filter hid (only those
        can be stale: bearing ones leave at their end event), push the ones that opened."""
        stack = self.stack
        depth = {id(entry.element): index for index, entry in enumerate(stack)}
        chain = []
        node = parent
        while node is not None and id(node) not in depth:
            chain.append(node)
            node = node.getparent()
        del stack[depth[id(node)] + 1 if node is not None else 0 :]
        for ancestor in reversed(chain):
            self._push(ancestor, sweep, in_record)

    def _push(self, element: Any, sweep: bool, in_record: bool) -> None:
        tag = element.tag
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = etree.QName(tag).localname
        if not self.stack:
            self.stack.append(_Open(element, name))
            return
        parent = self.stack[-1]
        last = parent.last.get(tag)
        position = 1 if last is None else last[1] + 1
        stop = None if last is None else last[0]
        for sibling in element.itersiblings(tag, preceding=True):
            if sibling is stop:
                break
            position += 1
        parent.last[tag] = (element, position)
        if sweep:
            self._sweep(parent, element)
        if stop is not None and not in_record and stop is not parent.swept:
            self._drop(parent, stop, sweep)
        self.stack.append(_Open(element, f"{parent.path}/{name}[{position}]"))

    def _drop(self, parent: _Open, done: Any, swept: bool) -> None:
        """Remove `done`, an ended sibling no later position is counted from, when what it holds
        is no longer needed: a record or context (the reader took its bytes and cleared it; the
        shell of the context around it would drop it anyway), or any element outside contexts
        (swept: cleared). Inside a context another element is part of the context's shell and
        stays; inside a record everything stays (the record's bytes), and so inside any
        element of a record's tag, whose predicate, evaluated at its end, may count its
        children. A record predicate that looks at its earlier siblings sees them removed
        rather than empty."""
        if swept or done.tag in self.bearing:
            parent.element.remove(done)

    def _sweep(self, parent: _Open, element: Any) -> None:
        stop, bearing = parent.swept, self.bearing
        for sibling in element.itersiblings(preceding=True):
            if sibling.tag not in bearing:  # bearing ones were cleared at their end
                sibling.clear(keep_tail=False)
            if sibling is stop:
                break
        parent.swept = element


def _cut(data: Feed, language: XmlRecords) -> _Shells:
    """The pass over the feed: each matching record cut (serialised, with its pointer and the
    ordinals of the contexts around it) and each context's shell, both kept in the temporary
    file. A record's raw form needs the shells of its contexts, whose children may follow it, so
    the records are handed out once the pass is over (`_records`)."""
    shells = _Shells()
    contexts = {p.tag for p in language.contexts}
    records = {p.tag for p in language.records}
    bearing = contexts | records
    patterns: dict[str, list[ElementPattern]] = {}  # record tag -> its patterns, in order
    for pattern in language.records:
        patterns.setdefault(pattern.tag, []).append(pattern)
    path = _Path(bearing)
    open_ordinals: list[int] = []
    ordinal = 0
    open_records = 0  # records open around the current element: their content is kept
    _check_prolog(data)
    for event, element in secure_events(data, bearing):
        tag = element.tag
        if event == "start":
            # Nothing inside a context is swept: its shell keeps its other children, those
            # before its records as well as those after.
            path.enter(element, not open_records and not open_ordinals, open_records > 0)
            if tag in contexts:
                open_ordinals.append(ordinal)
                ordinal += 1
            open_records += tag in records
            continue
        closed = open_ordinals.pop() if tag in contexts else None
        where = path.leave(element)
        if tag in records:
            open_records -= 1
            if any(p.matches(element) for p in patterns[tag]):
                pointer = f"/{where} (line {element.sourceline})"
                record = etree.tostring(element, encoding="UTF-8", xml_declaration=False, with_tail=False)
                shells.add_record(pointer, open_ordinals, record)
        if closed is not None:
            # Inside an open record an element whose tag names a context is the record's
            # content (XCRI-CAP's venue holds a <provider>, like the catalog's): its shell is
            # cut from a copy, the record keeps it whole.
            inside = open_records > 0
            shells.add(closed, _shell(element.__deepcopy__(None) if inside else element, bearing))
        if not open_records or tag in records:
            # A nested record is handed out on its own and cleared as before.
            element.clear(keep_tail=False)
    shells.flush()
    return shells


def _records(shells: _Shells, budget: ItemBudget) -> Iterator[Gathered]:
    """The records `_cut` kept, in document order of their end tags, deferred (see `_Maker`)
    within `budget`."""
    maker = _Maker(shells)
    for pointer, around, record, inner in shells.records():
        wrapped = maker.wrapped(around, inner)
        if wrapped > budget.room():
            yield _refused(budget, wrapped, pointer)
            continue
        refusal = budget.refusal(wrapped + len(record), pointer, None)
        yield (
            maker.deferred(record, around, pointer)
            if refusal is None
            else _refused(budget, 0, pointer, refusal)
        )


def _refused(budget: ItemBudget, size: int, pointer: str, refusal: Issue | None = None) -> Gathered:
    refusal = refusal or budget.refusal(size, pointer, None)
    assert refusal is not None, "refused only past the budget's room"
    return Gathered(RawItem(b"", XML_MEDIA_TYPE, pointer=pointer), (refusal,))


class _Maker:
    """Deferred items (`harvesters.base.Gathered`): a record's raw form is the record element as
    serialised (lxml puts the namespace declarations in scope on it) after the digests of the
    context shells around it, outermost first, so a change in a context changes the raw form of
    every record in it. The item is built from those bytes alone, when asked for: the record
    parsed back into copies of its shells.

    The item's size, for `ItemBudget`, is counted as what it is made of: the record's bytes plus
    its shells' (the wrapped serialisation differs from it by a few bytes of tags and namespace
    declarations)."""

    def __init__(self, shells: _Shells) -> None:
        self.shells = shells
        self.around: tuple[int, ...] | None = None  # the contexts of the last record
        self.prefix = b""  # their part of its raw form: their number and digests
        self.size = 0  # their bytes
        self.bodies: tuple[bytes, ...] = ()  # their shells, to build items (read once per contexts)
        self.bodies_around: tuple[int, ...] | None = None

    def wrapped(self, around: tuple[int, ...], inner: Shell | None) -> int:
        """Bytes of the shells around a record in the contexts `around`, the innermost one's
        `inner` (None without contexts); the record's raw form is then `deferred`."""
        if around != self.around:  # records in one context follow each other: computed once
            shells = [self.shells.get(o) for o in around[:-1]]
            if inner is not None:
                shells.append(inner)
            digests = [shell.digest for shell in shells]
            self.around, self.prefix = around, b"".join([str(len(around)).encode(), b":", *digests])
            self.size = sum(shell.size for shell in shells)
        return self.size

    def deferred(self, record: bytes, around: tuple[int, ...], pointer: str) -> Gathered:
        """The record in the contexts `around`, as last given to `wrapped`. Its item is built by
        `build_item` from the record's bytes and its shells' (portable: a mapping worker builds
        the items it maps, see `services.workers`)."""
        assert around == self.around
        if around != self.bodies_around:
            self.bodies = tuple(self.shells.body(ordinal) for ordinal in around)
            self.bodies_around = around
        build = partial(build_item, record, self.bodies, pointer)
        return Gathered.deferred(self.prefix + record, XML_MEDIA_TYPE, pointer, None, build, portable=True)


_local = threading.local()


def build_item(record: bytes, bodies: tuple[bytes, ...], pointer: str) -> RawItem:
    """A record's item (`_Maker`): `record` parsed back into copies of the context shells
    `bodies` (outermost first). A function of its arguments alone, so it runs in any process."""
    parser = getattr(_local, "parser", None)
    if parser is None:  # one per thread (lxml parsers are not shared between threads)
        parser = _local.parser = secure_parser()  # reads back our own serialisations
    element = etree.fromstring(record, parser)
    # lxml serialised every declaration in scope; the item keeps those it uses, as a copy of
    # the element in the feed's tree would (the raw form keeps them all: they may matter)
    etree.cleanup_namespaces(element)
    outer = inner = None
    for body in bodies:
        wrapper = etree.fromstring(body, parser)
        if inner is None:
            outer = wrapper
        else:
            inner.append(wrapper)
        inner = wrapper
    if inner is not None:
        inner.append(element)  # lxml drops the declarations the wrapper already makes
    content = etree.tostring(outer if outer is not None else element, encoding="UTF-8", xml_declaration=False)
    return RawItem(content, XML_MEDIA_TYPE, pointer=pointer, parsed=element)
