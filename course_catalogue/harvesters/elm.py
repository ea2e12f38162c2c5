"""RDF harvester (formats "rdf" and "elm-rdf"): Turtle, RDF/XML, JSON-LD or JSON-LD blocks of HTML
pages -> one N-Triples RawItem per record node, the record classes named by the spec.

Reading rules (the contract the tests pin down); the spec's `[reader]` table is described in
`mappings/rdf_reader.py` (record classes, referrers, private classes, contexts):

* Syntax: `spec.reader["syntax"]` ("turtle", "rdf-xml", "json-ld", "html") if given, else sniffed:
  a feed starting with `<?xml` or `<rdf:RDF` is RDF/XML, with `<!doctype html` or `<html` an HTML
  page, with `{` or `[` JSON-LD, anything else Turtle. An HTML page's records are the JSON-LD of its
  `<script type="application/ld+json">` blocks, read as one JSON-LD document (a list of the
  blocks, each with its own context); a page without any block is a ParseError.
* JSON-LD never touches the network. Before parsing, every `@context` entry naming a remote
  context is replaced by the local copy the spec registers (`[reader.contexts]`, files next to
  the spec); any other remote context is a ParseError naming it.
* JSON-LD keys that no context defines (a term missing from the local copy of a context, a
  provider's own key) are dropped by expansion: before parsing they are collected
  (`mappings.jsonld_keys`) and handed, with the document's first record, to the run's coverage
  report as unmapped paths, each with a WARNING naming the key; never dropped silently.
* Values of `[reader].dropped` predicates (ELM: `elm:content`, base64 logos and images) and any
  literal longer than `MAX_LITERAL_CHARS` are dropped, in JSON-LD before parsing, in the other
  syntaxes while indexing: they are never course data and would bloat every stored record.
* A syntax error is a ParseError carrying the parser's line/column message.
* Relative IRIs (JSON-LD `"@id": "./"`, Turtle `<course/1>`) resolve against `reader.base`, an
  absolute IRI (the feed's own URL); without one the parser drops the statements that use them
  (a page read through "jsonld-pages" has its URL as base).
* Items: one per subject typed with a class of the first `[reader].records` entry that the graph
  has subjects of (document order). A graph with none of the record classes, empty or not, is a
  ParseError (it is not a catalogue feed; failing keeps a complete-feed run from withdrawing
  everything).
* An item's content is the root's bounded subgraph as N-Triples (`application/n-triples`): every
  triple reachable from the root through IRIs and blank nodes, stopping at other item roots and
  at nodes of a `private` class (ELM: `elm:Person`, learners' data is not catalogue data), which
  appear only as objects. A root of a `referrers` class also takes in, one level up, the nodes
  that point at it (ELM: the credential's `elm:LearningAchievement` with its awarding process,
  assessment, grade), so a spec can reach provider and awarding body through inverse paths
  (`^elm:specifiedBy/elm:awardedBy/...`); nodes of a `referrers_excluded` class are not taken.
  `referrer_levels` (default 1) goes further up: with 2, the nodes pointing at those too (an Open
  Badge achievement <- the learner's AchievementSubject <- the credential with its issuer). A
  node of a `private` class on the way up is passed through, not taken in: the record keeps only
  the triple that links it to the node below (its IRI, never its properties).
* Items are deferred (`Gathered.deferred`, see `_Forms`): the raw form a re-harvest recognises
  an unchanged record by is the root's key and the digests of the nodes its closure expands
  (each node's triples, blank nodes relabelled, digested once per feed however many records
  share it), so a recalled record's N-Triples are never written; they are built for the
  records that are mapped, the same bytes as when built at once.
* guid and pointer are the root IRI. A blank-node root gets the stable id
  `urn:catalogue:elm:blank:<content hash>` and a WARNING (it changes whenever the content does).
  (The prefix says "elm" for every RDF feed: it is the id stored records already carry.)
* Limits (`[reader]` options): a subject with more than `max_values_per_property` (10,000)
  values of one property, or a record subgraph of more than `max_record_triples` (20,000), is
  an ERROR on the record, which is reported and not processed (never cut to an arbitrary part).
  RDF/XML entity declarations are checked over the whole input (`check_rdfxml_doctype`);
  JSON-LD nested deeper than MAX_JSONLD_DEPTH (64) is a ParseError. Reading is linear in the
  triples, however they are spread over subjects and properties.

RDF gives no record boundaries (a learning opportunity's specification may sit anywhere in the
file), so every triple is indexed before the first record is cut. A Turtle or RDF/XML feed of up
to SPOOL_FEED_BYTES is indexed in memory (about nine times the feed); a larger one is parsed as a
stream into a temporary SQLite file (`rdf_spool.SpooledGraph`) and its records are cut from there,
the same items in the same order, in memory bounded whatever the feed's size. A JSON-LD feed over
SPOOL_FEED_BYTES of the shape `{"@context": ..., "@graph": [...]}` is read a node at a time into
the same spool (`rdf_jsonld.GraphStream`; contexts replaced, keys checked and strings dropped per
chunk of nodes as on the whole document): the same items, bounded memory. A JSON-LD feed of
another shape (a top-level list, one node, a named graph) and HTML pages are read whole, bounded
by the feed size cap; a large one that could not be streamed is said in the log (WARNING).

Parser choice: pyoxigraph (Rust), measured here on a synthetic Turtle feed of 10k opportunities
(450k triples, 19 MB): pyoxigraph parses and hands every triple to Python at 600-830k triples/s
(0.55-0.75 s); rdflib 7.6 with its default store takes 17 s (26k triples/s, ~25-30x slower);
rdflib on the oxrdflib store still needs 2.4 s just to load (187k triples/s) before any Python
walks the triples. pyoxigraph also keeps lexical forms ("PT60H" stays "PT60H", where rdflib
normalises unless told not to) and parses JSON-LD 1.1 itself, with no network access at all.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import re
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson
import pyoxigraph as ox
from lxml import etree
from lxml import html as lxml_html

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Feed, Gathered, MappedFeed, feed_stream
from course_catalogue.harvesters.json import depth_exceeded
from course_catalogue.harvesters.rdf_jsonld import GraphStream, NotStreamable, lone_surrogate
from course_catalogue.harvesters.rdf_spool import (
    CACHED_SUBJECTS,
    LazyOverfull,
    Props,
    Referrers,
    SpooledGraph,
)
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.jsonld_keys import UndefinedKeys, UnreadPath
from course_catalogue.mappings.rdf_graph import (
    N_TRIPLES,
    RDF_TYPE,
    BlankSignatures,
    Graph,
    Lit,
    Term,
    Triple,
    is_blank,
    record_document,
)
from course_catalogue.mappings.rdf_paths import BUILTIN_PREFIXES
from course_catalogue.mappings.rdf_reader import RdfReading, default_reading, resolve

if TYPE_CHECKING:
    from course_catalogue.mappings.spec import MappingSpec

logger = logging.getLogger(__name__)

MAX_LITERAL_CHARS = 64 * 1024
"""Longer literals are dropped before indexing: no course text is that long, encoded files are."""
MAX_JSONLD_DEPTH = 64
"""Deepest JSON-LD nesting read (ELM documents nest ~10 levels)."""
MAX_ITEM_TRIPLES = 20_000
"""Default `reader.max_record_triples`: a record whose subgraph is bigger is reported, not processed."""
MAX_VALUES_PER_PROPERTY = 10_000
"""Default `reader.max_values_per_property`: values one subject may have for one property; a
record reaching a subject with more is reported, not processed."""
_SCAN = 8  # values of one subject and property found by a list scan; beyond, by a set
SPOOL_FEED_BYTES = 32 * 1024 * 1024
"""A Turtle or RDF/XML feed larger than this is indexed in a temporary SQLite file, not in memory
(the in-memory index of a 32 MB feed is ~300 MB; spooling costs more CPU per triple)."""
BLANK_SIGNATURES_KEPT = 100_000
"""Blank-node signatures remembered while cutting a spooled feed's records (recomputed when
forgotten: they are content hashes), so the memo does not grow with the feed."""

SYNTAXES: Mapping[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "rdf-xml": ox.RdfFormat.RDF_XML,
    "json-ld": ox.RdfFormat.JSON_LD,
}
SYNTAX_NAMES = (*SYNTAXES, "html")


@dataclass(frozen=True)
class Limits:
    """`reader.max_values_per_property` and `reader.max_record_triples` (see the module rules)."""

    values: int = MAX_VALUES_PER_PROPERTY
    triples: int = MAX_ITEM_TRIPLES

    @classmethod
    def from_reader(cls, reader: Mapping[str, Any] | None) -> Limits:
        reader = reader or {}
        values = reader.get("max_values_per_property", MAX_VALUES_PER_PROPERTY)
        triples = reader.get("max_record_triples", MAX_ITEM_TRIPLES)
        for key, value in (("max_values_per_property", values), ("max_record_triples", triples)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"reader.{key} must be a positive integer, not {value!r}")
        return cls(values, triples)


def reading_of(spec: MappingSpec) -> RdfReading:
    """The spec's `[reader]` resolved (record classes, contexts next to the spec file);
    ConfigurationError when it is wrong. A spec-like object without `path` or `namespaces` (tests,
    tools) resolves with the built-in prefixes and contexts relative to the working directory."""
    path = getattr(spec, "path", None)
    prefixes = {**BUILTIN_PREFIXES, **(getattr(spec, "namespaces", None) or {})}
    try:
        return resolve(spec.reader or {}, prefixes, Path(path).parent if path else None)
    except ValueError as exc:
        raise ConfigurationError(f"reader: {exc}") from exc


class RdfHarvester:
    """Reads RDF feeds whose spec names the record classes (see the module docstring for the rules)."""

    def gather(self, data: Feed, spec: MappingSpec) -> Iterator[Gathered]:
        reader = spec.reader or {}
        limits = Limits.from_reader(reader)
        reading = reading_of(spec)
        syntax = _syntax(data, reader.get("syntax"))
        if syntax in ("turtle", "rdf-xml") and len(data) > SPOOL_FEED_BYTES:
            with spool_graph(data, syntax, limits.values, reading, reader.get("base")) as spooled:
                yield from itemise(spooled, [], limits, None, reading)
            return
        undefined = UndefinedKeys()
        if syntax == "json-ld" and len(data) > SPOOL_FEED_BYTES:
            try:
                spooled = spool_jsonld(data, limits.values, reading, reader.get("base"), undefined)
            except NotStreamable as exc:
                logger.warning(
                    "JSON-LD feed of %d bytes read whole, not node by node (%s): its memory grows "
                    "with its size",
                    len(data),
                    exc,
                )
                undefined = UndefinedKeys()  # the streamed part's keys are found again
            else:
                with spooled:
                    yield from with_unread(itemise(spooled, [], limits, None, reading), undefined.paths())
                return
        graph, order, overfull = read_graph(
            data, syntax, limits.values, reading, reader.get("base"), undefined=undefined
        )
        # The feed index is hundreds of thousands of long-lived dicts and lists; without this every
        # full cyclic-GC pass re-scans them while records are cut and mapped (measured: ~1.5x
        # slower end to end on a 10k-record feed). Freezing only exempts them from scanning.
        gc.freeze()
        try:
            yield from with_unread(itemise(graph, order, limits, overfull, reading), undefined.paths())
        finally:
            gc.unfreeze()


def with_unread(items: Iterator[Gathered], unread: list[UnreadPath]) -> Iterator[Gathered]:
    """`items`, the first one carrying `unread` (feed-level paths for the coverage report)."""
    first = True
    for gathered in items:
        if first and unread:
            gathered = replace(gathered, unread=tuple(unread))
        first = False
        yield gathered


ElmRdfHarvester = RdfHarvester
"""The name of format "elm-rdf"'s harvester before RDF specs named their record classes."""


def _syntax(data: Feed, configured: Any) -> str:
    if configured is not None:
        if configured not in SYNTAX_NAMES:
            raise ConfigurationError(
                f"reader.syntax must be one of {', '.join(SYNTAX_NAMES)}, not {configured!r}"
            )
        return str(configured)
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:14].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith((b"<?xml", b"<rdf:RDF")):
        return "rdf-xml"
    if head.startswith((b"{", b"[")):
        return "json-ld"
    return "turtle"


# -- parsing -------------------------------------------------------------------------------


Overfull = dict[str, dict[str, None]]
"""Subject -> the properties of which it has more values than the limit (only the first ones kept)."""


def read_graph(
    data: Feed,
    syntax: str,
    max_values: int = MAX_VALUES_PER_PROPERTY,
    reading: RdfReading | None = None,
    base: str | None = None,
    *,
    undefined: UndefinedKeys | None = None,
) -> tuple[Graph, list[str], Overfull]:
    """The feed's triples indexed, its typed subjects in document order (for item order), and
    the (subject, property) pairs with more than `max_values` distinct values, of which only the
    first `max_values` are indexed. `base`: the IRI relative IRIs resolve against (a page's URL).
    `undefined`: collects the JSON-LD keys that expansion drops (JSON-LD and HTML only).

    Linear in the triples: a value is looked up among the values of its subject and property by
    a list scan while there are few (most properties have one to three), then in a set built for
    that list alone. The scan for every value made one subject with 80,000 values of one property
    cost 3.2 billion comparisons (62 s) and a 3 MB push stalled the server."""
    reading = reading or default_reading()
    # JSON-LD (and HTML pages) are read whole: their contexts are replaced and their keys checked
    # before parsing. Turtle and RDF/XML are parsed as a stream over the feed (see `feed_stream`).
    source: Feed | BinaryIO
    if syntax == "html":
        source, syntax = _offline_jsonld(json_ld_blocks(_whole(data)), reading, undefined), "json-ld"
    elif syntax == "json-ld":
        source = _offline_jsonld(_whole(data), reading, undefined)
    else:
        if syntax == "rdf-xml":
            check_rdfxml_doctype(data)
        source = feed_stream(data)
        if data.startswith(b"\xef\xbb\xbf"):
            source.read(3)
    graph = Graph()
    out = graph.out
    typed: dict[str, None] = {}
    overfull: Overfull = {}
    crowded: dict[int, set[Term]] = {}  # id(values list) -> its members, once it outgrows _SCAN
    # Hundreds of thousands of triples: the loop keeps its names local and creates no dict or
    # list it does not keep (setdefault would build one per triple).
    collecting = gc.isenabled()
    gc.disable()  # the loop makes no garbage cycles, only a growing index the GC would re-scan
    try:
        for s, p, o in _triples(source, syntax, base, reading.dropped):
            props = out.get(s)
            if props is None:
                props = out[s] = {}
            objects = props.get(p)
            if objects is None:
                props[p] = [o]
            elif len(objects) < _SCAN:
                if o not in objects:
                    if len(objects) < max_values:
                        objects.append(o)
                    else:
                        overfull.setdefault(s, {})[p] = None
            else:
                members = crowded.get(id(objects))
                if members is None:
                    members = crowded[id(objects)] = set(objects)
                if o not in members:
                    if len(objects) < max_values:
                        members.add(o)
                        objects.append(o)
                    else:
                        overfull.setdefault(s, {})[p] = None
            if p == RDF_TYPE:
                typed[s] = None
    finally:
        if collecting:
            gc.enable()
    return graph, list(typed), overfull


def _triples(
    source: bytes | BinaryIO, syntax: str, base: str | None, dropped: frozenset[str]
) -> Iterator[Triple]:
    """The feed's triples in document order, in index form (as `rdf_graph.term` gives), without
    RDF-star quoted triples (not used by ELM), literals longer than MAX_LITERAL_CHARS and values
    of `dropped` predicates; ParseError with the parser's message on a syntax error."""
    named, blank, literal = ox.NamedNode, ox.BlankNode, ox.Literal
    try:
        for quad in ox.parse(source, SYNTAXES[syntax], base_iri=base):
            subject, obj = quad.subject, quad.object
            kind = type(subject)
            if kind is named:
                s = subject.value
            elif kind is blank:
                s = "_:" + subject.value
            else:
                continue
            p = quad.predicate.value
            kind = type(obj)
            if kind is named:
                yield s, p, obj.value
            elif kind is literal:
                lexical = obj.value
                if len(lexical) <= MAX_LITERAL_CHARS and p not in dropped:
                    yield s, p, Lit(lexical, obj.language, obj.datatype.value)
            elif kind is blank:
                yield s, p, "_:" + obj.value
    except SyntaxError as exc:
        raise ParseError(f"not valid {syntax.upper()}: {exc}") from exc


@contextmanager
def spool_graph(
    data: Feed, syntax: str, max_values: int, reading: RdfReading, base: str | None = None
) -> Iterator[SpooledGraph]:
    """A Turtle or RDF/XML feed's triples spooled to a temporary SQLite file (deleted after the
    block), under the same reading rules as `read_graph`."""
    if syntax == "rdf-xml":
        check_rdfxml_doctype(data)
    source = feed_stream(data)
    if data.startswith(b"\xef\xbb\xbf"):
        source.read(3)
    with SpooledGraph(max_values) as graph:
        for s, p, o in _triples(source, syntax, base, reading.dropped):
            graph.add(s, p, o)
        graph.finish()
        yield graph


def spool_jsonld(
    data: Feed, max_values: int, reading: RdfReading, base: str | None, undefined: UndefinedKeys
) -> SpooledGraph:
    """A JSON-LD feed's triples spooled to a temporary SQLite file, read node by node
    (`rdf_jsonld.GraphStream`); the caller closes the graph. Each chunk of top-level nodes gets
    what `_offline_jsonld` does to the whole document: remote contexts replaced by local copies,
    dropped keys and oversized strings removed, undefined keys collected into `undefined`.
    NotStreamable (nothing kept) when the document's shape does not allow it; ParseError as the
    whole-document reader gives it (syntax, depth, lone surrogates)."""
    if lone_surrogate(data):
        raise ParseError(
            "not valid JSON-LD: a string holds a lone surrogate escape (\\ud800-\\udfff without its "
            "pair), which is not a character"
        )
    stream = GraphStream(data, MAX_JSONLD_DEPTH)
    head: dict[str, Any] = {}
    if stream.has_context:
        head["@context"] = _local_context(stream.context, reading)
    graph = SpooledGraph(max_values)
    try:
        for chunk in stream.chunks():
            document = {**head, "@graph": [_localise(node, reading) for node in chunk]}
            undefined.scan(document)
            for s, p, o in _triples(_jsonld_bytes(document), "json-ld", base, reading.dropped):
                graph.add(s, p, o)
        graph.finish()
    except BaseException:
        graph.close()
        raise
    return graph


MAX_ENTITY_CHARS = 2048
"""Longest entity value RDF/XML may declare (a namespace IRI is ~50 characters)."""
MAX_ENTITY_EXPANSION = 1024 * 1024
"""Entity references may add at most this many bytes, or the feed's own size if larger, to the
document pyoxigraph reads: abbreviations in attributes add a fraction of it."""
_DECLARATION = re.compile(rb"<!(?i:(doctype)|entity(\s+%)?)")
_REFERENCE = re.compile(rb"&([A-Za-z_:][-A-Za-z0-9._:]*);")
_PROLOG_CHUNK = 1 << 16


def check_rdfxml_doctype(data: Feed) -> None:
    """Refuse RDF/XML entity declarations that could amplify, wherever they sit in the document.

    pyoxigraph expands declarations eagerly (nine nested levels: a 1 GB string, 16 s) and reads a
    DOCTYPE anywhere, even inside the root element (which XML forbids), so this runs before it,
    over the whole input: a case-insensitive scan for `<!DOCTYPE` and `<!ENTITY` (C speed, no
    copy; a feed without either passes at once). When there are any, the prolog is read with lxml
    (streamed in chunks up to the root's start tag, so a megabyte of comment before the DOCTYPE
    changes nothing) and the declarations must be exactly what lxml found there: one DOCTYPE, in
    the prolog, with an internal subset only, whose entities are internal, not parameter entities,
    not nested (no `&` or `%` in the value), at most MAX_ENTITY_CHARS long, and whose references
    add at most MAX_ENTITY_EXPANSION bytes (or the feed's size) in total. A declaration lxml did
    not see (inside the root, in a comment) is refused. Plain abbreviations such as
    `<!ENTITY rdf "http://www.w3.org/1999/02/22-rdf-syntax-ns#">`, common in RDF/XML, pass.
    pyoxigraph reads UTF-8 only, so an ASCII scan sees every declaration it would."""
    doctypes = entities = 0
    for match in _DECLARATION.finditer(data):
        if match.group(1) is not None:
            doctypes += 1
        elif match.group(2) is not None:
            raise ParseError("the feed declares a parameter entity (<!ENTITY %); those are refused")
        else:
            entities += 1
    if isinstance(data, MappedFeed):
        data.release()  # the scan touched every page of the file
    if not doctypes and not entities:
        return
    docinfo = _prolog(data)
    dtd = docinfo.internalDTD if docinfo is not None else None
    if docinfo is not None and (docinfo.system_url or docinfo.public_id):
        raise ParseError("the feed's DOCTYPE names an external DTD; external DTDs are not read")
    declared = list(dtd.iterentities()) if dtd is not None else []
    if doctypes != 1 or dtd is None or entities != len(declared):
        raise ParseError(
            "the feed has a DOCTYPE or an entity declaration outside the prolog's DOCTYPE (inside "
            "the root element, in a comment, or more than one DOCTYPE); such declarations are refused"
        )
    sizes: dict[bytes, int] = {}
    for entity in declared:
        content = entity.content or ""
        if entity.system_url or "&" in content or "%" in content or len(content) > MAX_ENTITY_CHARS:
            raise ParseError(
                f"the feed's DOCTYPE declares entity {entity.name!r} that is external, nested or over "
                f"{MAX_ENTITY_CHARS} characters; such entities are refused"
            )
        sizes[entity.name.encode("utf-8")] = len(content.encode("utf-8"))
    budget = max(MAX_ENTITY_EXPANSION, len(data))
    expansion = sum(sizes.get(m.group(1), 0) for m in _REFERENCE.finditer(data))
    if expansion > budget:
        raise ParseError(
            f"the feed's entity references would expand to {expansion} bytes, more than {budget}; "
            "entities may abbreviate, not amplify"
        )


def _prolog(data: Feed) -> Any:
    """lxml's docinfo of `data`, read up to the root's start tag (in chunks, never further);
    None when there is no root element. ParseError when the prolog is not well-formed XML (an
    error after the root's start, in the rest of its chunk, is pyoxigraph's to find)."""
    parser = etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for start in range(0, len(data), _PROLOG_CHUNK):
            parser.feed(data[start : start + _PROLOG_CHUNK])
            for _, element in parser.read_events():
                return element.getroottree().docinfo
        parser.close()
    except etree.LxmlError as exc:
        for _, element in parser.read_events():  # the root started before the error
            return element.getroottree().docinfo
        raise ParseError(f"not valid RDF-XML: {exc}") from None
    return None


def json_ld_blocks(page: bytes) -> bytes:
    """The JSON-LD `<script type="application/ld+json">` blocks of an HTML page as one JSON-LD
    document (a list of the blocks; a block that is itself a list is spread). ParseError when the
    page has none, or a block is not JSON: the page is then not a record source."""
    try:
        root = lxml_html.document_fromstring(page)
    except (etree.LxmlError, ValueError) as exc:
        raise ParseError(f"not a readable HTML page: {exc}") from None
    documents: list[Any] = []
    for number, script in enumerate(root.iter("script"), 1):
        kind = (script.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        text = (script.text or "").strip()
        try:
            document = json.loads(text)
        except RecursionError:
            raise ParseError(
                f"the page's JSON-LD block {number} is nested too deeply (limit {MAX_JSONLD_DEPTH} levels)"
            ) from None
        except json.JSONDecodeError as exc:
            raise ParseError(f"the page's JSON-LD block {number} is not valid JSON: {exc}") from None
        documents.extend(document if isinstance(document, list) else [document])
    if not documents:
        raise ParseError('the page has no JSON-LD block (<script type="application/ld+json">)')
    return json.dumps(documents, ensure_ascii=False).encode("utf-8")


def _whole(data: Feed) -> bytes:
    """The feed as one `bytes` object (a copy of a mapped file: the feed size cap bounds it)."""
    return data if isinstance(data, bytes) else data[:]


def _offline_jsonld(data: bytes, reading: RdfReading, undefined: UndefinedKeys | None = None) -> bytes:
    """The document with registered remote contexts inlined and oversized strings dropped.

    ParseError for a document nested deeper than MAX_JSONLD_DEPTH (pyoxigraph's JSON-LD parser
    recurses: 5,000 nested objects crashed the process) and for a lone surrogate escape
    (`"\\ud800"`: no character, and the whole document is one parse)."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise ParseError(f"not valid JSON-LD: nested too deeply (limit {MAX_JSONLD_DEPTH} levels)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not valid JSON-LD: {exc}") from exc
    if depth_exceeded(document, MAX_JSONLD_DEPTH):
        raise ParseError(f"not valid JSON-LD: nested deeper than {MAX_JSONLD_DEPTH} levels")
    document = _localise(document, reading)
    if undefined is not None:
        undefined.scan(document)
    return _jsonld_bytes(document)


def _jsonld_bytes(document: Any) -> bytes:
    """The JSON text of a (localised) document, for the RDF parser; ParseError for a lone surrogate."""
    try:
        return json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        found = exc.object[exc.start : exc.end]
        raise ParseError(
            f"not valid JSON-LD: a string holds a lone surrogate (U+{ord(found[:1] or '?'):04X}), "
            "which is not a character"
        ) from None


def _localise(node: Any, reading: RdfReading) -> Any:
    if isinstance(node, list):
        return [_localise(v, reading) for v in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    dropped = reading.dropped_keys
    for key, value in node.items():
        if key == "@context":
            result[key] = _local_context(value, reading)
        elif isinstance(value, str) and (len(value) > MAX_LITERAL_CHARS or key in dropped):
            continue  # dropped before parsing, so the parser never copies the base64 around
        else:
            result[key] = _localise(value, reading)
    return result


def _local_context(value: Any, reading: RdfReading) -> Any:
    if isinstance(value, list):
        return [_local_context(v, reading) for v in value]
    if isinstance(value, str):
        return reading.local_context(value)
    if isinstance(value, dict):
        return {
            k: _localise(v, reading) if k != "@context" else _local_context(v, reading)
            for k, v in value.items()
        }
    return value


# -- itemising -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Root:
    node: str
    with_referrers: bool  # a specification root also takes the nodes pointing at it


def itemise(
    graph: Graph | SpooledGraph,
    typed: list[str],
    limits: Limits = Limits(),
    overfull: Overfull | None = None,
    reading: RdfReading | None = None,
) -> Iterator[Gathered]:
    """One Gathered per subject of the first record tier the graph has; see the module rules.
    `typed` and `overfull` are `read_graph`'s; a `SpooledGraph` keeps its own."""
    reading = reading or default_reading()
    if isinstance(graph, SpooledGraph):
        yield from _itemise_spooled(graph, limits, reading)
        return
    roots: list[_Root] = []
    for tier in reading.tiers:
        for s in typed:
            types = graph.types(s)
            if any(t in tier for t in types):
                roots.append(_Root(s, any(t in reading.referrers for t in types)))
        if roots:
            break
    if not roots:
        raise ParseError(_no_records(bool(graph.out), reading))
    forms = _Forms(graph, frozenset(r.node for r in roots), reading, BlankSignatures(graph))
    referrers = graph.referrers() if any(r.with_referrers for r in roots) else {}
    for root in roots:
        context, links = _upwards(graph, root.node, referrers, reading) if root.with_referrers else ([], [])
        yield _item(graph, root, context, links, forms, limits, overfull or {})


def _itemise_spooled(graph: SpooledGraph, limits: Limits, reading: RdfReading) -> Iterator[Gathered]:
    """`itemise` over a spooled feed: the roots are read from the file a page at a time, a node
    is a stop when it is typed with a class of the record tier (what makes it a root), and the
    blank-node signatures and the nodes' forms are forgotten now and then (BLANK_SIGNATURES_KEPT,
    and CACHED_SUBJECTS: a form holds its node's properties, as the spool's cache does)."""
    tier = next((t for t in reading.tiers if graph.any_typed(t)), None)
    if tier is None:
        raise ParseError(_no_records(bool(graph.out), reading))
    signatures = BlankSignatures(graph, keep=BLANK_SIGNATURES_KEPT)
    forms = _Forms(graph, _TypedWith(graph, frozenset(tier)), reading, signatures, keep=CACHED_SUBJECTS)
    overfull = LazyOverfull(graph)
    referrers: Any = None
    for s in graph.typed_with(tier):
        types = graph.types(s)
        root = _Root(s, any(t in reading.referrers for t in types))
        context: list[str] = []
        links: list[Triple] = []
        if root.with_referrers:
            referrers = referrers or graph.referrers()
            context, links = _upwards(graph, s, referrers, reading)
        yield _item(graph, root, context, links, forms, limits, overfull)


class _TypedWith:
    """The record roots of a spooled feed as a container: nodes typed with a class of `tier`."""

    def __init__(self, graph: SpooledGraph, tier: frozenset[str]) -> None:
        self._graph, self._tier = graph, tier

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and any(t in self._tier for t in self._graph.types(node))


def _no_records(has_triples: bool, reading: RdfReading) -> str:
    return (
        f"the graph {'has no' if has_triples else 'is empty: no'} subject typed {reading.describe()}: "
        "no record to catalogue (an empty feed is refused, so that it cannot withdraw every "
        "course of its source)"
    )


def _upwards(
    graph: Graph | SpooledGraph, node: str, referrers: Referrers, reading: RdfReading
) -> tuple[list[str], list[Triple]]:
    """The nodes a record takes in above its root (`referrer_levels` levels of nodes pointing at
    it, without `referrers_excluded` classes) and the linking triples of the private nodes passed
    through on the way (see the module rules)."""
    taken: dict[str, None] = {}
    links: list[Triple] = []
    frontier = [node]
    seen = {node}
    for level in range(reading.referrer_levels):
        above: list[str] = []
        for below in frontier:
            for s in referrers.get(below, ()):
                if s in seen:
                    continue
                types = graph.types(s)
                if reading.referrers_excluded.intersection(types):
                    continue
                seen.add(s)
                if reading.private.intersection(types):
                    if level + 1 < reading.referrer_levels:  # a bridge to the level above
                        links.extend((s, p, below) for p, objects in graph.out[s].items() if below in objects)
                        above.append(s)
                    continue
                taken[s] = None
                above.append(s)
        frontier = above
    return list(taken), links


def _item(
    graph: Graph | SpooledGraph,
    root: _Root,
    context: list[str],
    links: list[Triple],
    forms: _Forms,
    limits: Limits,
    overfull: Overfull | LazyOverfull,
) -> Gathered:
    """The record of `root`, deferred (see `_Forms`): its raw form is known from the forms of the
    nodes its closure expands, and its N-Triples are written only when the item is asked for."""
    starts = [root.node, *context]
    reached, problem = _closure(graph, starts, forms, limits, overfull)
    if problem is not None:
        # Reported, not processed: the record would be cut arbitrarily (or huge), and since it
        # is not read, the run withdraws nothing (its identity counts as unknown).
        code, message = problem
        guid = root.node if not is_blank(root.node) else None
        issue = Issue(Severity.ERROR, message, None, guid, root.node, code)
        return Gathered(RawItem(b"", N_TRIPLES, root.node, guid), (issue,))
    issues: tuple[Issue, ...] = ()
    signatures = forms.signatures
    if is_blank(root.node):
        guid = "urn:catalogue:elm:blank:" + signatures(root.node)
        message = (
            "the record's node is a blank node: its id is a hash of its content and changes "
            "whenever the content does (give it an IRI)"
        )
        issues = (Issue(Severity.WARNING, message, None, guid, guid, "blank-node-id"),)
        root_key = "_:b" + signatures(root.node)
    else:
        guid = root_key = root.node
    labels: dict[str, str] = {}
    for form in reached:
        if form.labels:
            labels.update(form.labels)
    raw = [root_key.encode("utf-8", "surrogatepass"), b"\n", *sorted(form.digest for form in reached)]
    if links:
        for s, _, o in links:
            for t in (s, o):
                if isinstance(t, str) and is_blank(t) and t not in labels:
                    labels[t] = "_:b" + signatures(t)
        raw.append(_dumps(sorted(_relabel(links, labels))))
    nodes = [(form.node, form.props) for form in reached]
    return Gathered.deferred(
        b"".join(raw), N_TRIPLES, guid, guid, partial(_record, nodes, links, labels, root_key, guid), issues
    )


def _record(
    nodes: list[tuple[str, Props]], links: list[Triple], labels: dict[str, str], root_key: str, guid: str
) -> RawItem:
    """The item of a record whose closure expanded `nodes` (with their properties): its triples,
    blank nodes relabelled canonically, as sorted N-Triples (`record_document`)."""
    triples: list[Triple] = [
        (node, p, o) for node, props in nodes for p, objects in props.items() for o in objects
    ]
    triples.extend(links)
    if labels:
        triples = _relabel(triples, labels)
    content, parsed = record_document(triples, root_key)
    return RawItem(content, N_TRIPLES, guid, guid, parsed)


def _relabel(triples: list[Triple], labels: Mapping[str, str]) -> list[Triple]:
    get = labels.get
    return [(get(s, s), p, get(o, o) if isinstance(o, str) else o) for s, p, o in triples]


def _exact(value: Any) -> bytes:
    """Bytes that tell apart any two values made of strings, None, `Lit`s, lists, tuples and
    dicts: their JSON (a `Lit` as an array of three), or, for a string JSON cannot encode (a lone
    surrogate), a NUL byte and the repr (JSON never starts with NUL)."""
    try:
        return orjson.dumps(value, default=tuple)
    except TypeError:
        return b"\x00" + repr(value).encode("utf-8", "surrogatepass")


def _dumps(value: Any) -> bytes:
    """An injective text of nested lists, strings, None and literals (a `Lit` is a list of three)."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


class _Form:
    """What a record takes of one node of the feed, worked out once per node (shared organisations,
    places and outcomes are reached by many records): `digest` covers the node's triples with
    blank nodes relabelled canonically; `count` is their number; `children` the node objects in
    the order the closure meets them that it could expand (subjects, not record roots, not of a
    private class), each with whether it does from here (not through a `not_expanded` predicate:
    met that way first, a node is seen and not expanded; the others are never expanded, so
    whether they were seen changes nothing);
    `labels` the canonical labels of the blank nodes among the node and its objects; `props` the
    node's properties (the triples, for building the item)."""

    __slots__ = ("children", "count", "digest", "labels", "node", "props")

    def __init__(
        self,
        node: str,
        props: Props,
        digest: bytes,
        count: int,
        children: tuple[tuple[str, bool], ...],
        labels: tuple[tuple[str, str], ...],
    ) -> None:
        self.node, self.props, self.digest, self.count = node, props, digest, count
        self.children, self.labels = children, labels


_NO_PROPS: Props = {}


class _Forms:
    """The `_Form` of each node of one feed, computed on first use and remembered (up to `keep`
    nodes, then forgotten and recomputed alike: a spooled feed's memory stays bounded).

    A record's raw form (`Gathered.deferred`) is its root's key, the sorted digests of the forms
    of the nodes its closure expands, and its relabelled linking triples. The item's N-Triples are
    the sorted union of those nodes' triples (and links) with the same labels, so two records with
    equal raw forms are equal items; any change to a triple of any node a record reaches (its own,
    or a shared organisation's), or to which nodes it reaches, changes the raw form."""

    def __init__(
        self,
        graph: Graph | SpooledGraph,
        stops: Container[str],
        reading: RdfReading,
        signatures: BlankSignatures,
        keep: int | None = None,
    ) -> None:
        self._out: Mapping[str, Props] = graph.out
        self._stops = stops
        self._private = reading.private
        self._not_expanded = reading.not_expanded
        self.signatures = signatures
        self._memo: dict[str, _Form] = {}
        self._expand: dict[str, bool] = {}
        self._keep = keep

    def __call__(self, node: str) -> _Form:
        form = self._memo.get(node)
        if form is not None:
            return form
        if self._keep is not None and len(self._memo) >= self._keep:
            self._memo.clear()
            self._expand.clear()
        props = self._out.get(node) or _NO_PROPS
        children: list[tuple[str, bool]] = []
        blanks: list[str] = [node] if node.startswith("_:") else []
        count = 0
        expandable, not_expanded = self._expandable, self._not_expanded
        for p, objects in props.items():
            count += len(objects)
            through = p not in not_expanded
            for o in objects:
                if o.__class__ is str:
                    if o.startswith("_:"):
                        blanks.append(o)
                    if expandable(o):
                        children.append((o, through))
        if blanks:
            labels = {b: "_:b" + self.signatures(b) for b in blanks}
            get = labels.get
            shown: Any = (
                get(node, node),
                [
                    (p, [get(o, o) if o.__class__ is str else o for o in objects])
                    for p, objects in props.items()
                ],
            )
            pairs = tuple(labels.items())
        else:
            shown, pairs = (node, props), ()
        digest = hashlib.blake2b(_exact(shown), digest_size=16).digest()
        form = self._memo[node] = _Form(node, props, digest, count, tuple(children), pairs)
        return form

    def _expandable(self, node: str) -> bool:
        """Whether the closure expands `node` when it meets it through an expanding predicate: a
        subject, not a record root, not of a private class (remembered: concepts recur)."""
        known = self._expand.get(node)
        if known is None:
            below = self._out.get(node)
            known = self._expand[node] = (
                below is not None
                and node not in self._stops
                and not self._private.intersection(below.get(RDF_TYPE, ()))
            )
        return known


def _closure(
    graph: Graph | SpooledGraph,
    starts: list[str],
    forms: _Forms,
    limits: Limits,
    overfull: Overfull | LazyOverfull,
) -> tuple[list[_Form], tuple[str, str] | None]:
    """The forms of the nodes reachable from `starts` whose triples the record takes; nodes that
    are record roots (the starts aside: they are already seen), of a private class, or reached
    through `not_expanded` predicates are not expanded (see `_Form.children`). The second value
    is (code, message) when the record is over a limit: a subject with more values of a property
    than `limits.values`, or more than `limits.triples` triples."""
    reached: list[_Form] = []
    seen = set(starts)
    queue = list(starts)
    count = 0
    while queue:
        node = queue.pop()
        crowded = overfull.get(node)
        if crowded:
            message = (
                f"{node} has more than {limits.values} values of {next(iter(crowded))} "
                "(reader.max_values_per_property): the record was not processed"
            )
            return reached, ("too-many-values", message)
        form = forms(node)
        reached.append(form)
        count += form.count
        for o, expand in form.children:
            if o not in seen:
                seen.add(o)
                if expand:
                    queue.append(o)
        if count > limits.triples:
            message = (
                f"the record's subgraph has more than {limits.triples} triples "
                "(reader.max_record_triples): the record was not processed"
            )
            return reached, ("record-too-large", message)
    return reached, None
