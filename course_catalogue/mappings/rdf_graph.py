"""In-memory RDF graph index (subject -> predicate -> objects) and its N-Triples form.

The ELM harvester indexes a whole feed once, cuts one bounded subgraph per record and stores it
as N-Triples; the RDF selector language (`mappings.rdf_paths`) evaluates paths on the same index.
Plain dicts, not a triple store: a record's subgraph is small and path evaluation is a few dict
lookups per step, which is what keeps mapping fast.

Term conventions (shared by harvester and paths):

* a node is a `str`: an IRI as is, a blank node as "_:label" (no absolute IRI starts with "_:");
* a literal is a `Lit` (lexical form exactly as published, lower-case language tag or None,
  datatype IRI). Lexical forms are never normalised ("PT60H" stays "PT60H").

Blank-node labels are made canonical per record (`canonical_labels`): a parser invents random
labels on every run, and the stored bytes of an unchanged record must not change between runs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple, Protocol

import pyoxigraph as ox

from course_catalogue.catalogue import formats

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
N_TRIPLES = formats.N_TRIPLES  # the media types are named in the one formats table
_SCAN = 8  # values of one subject and property de-duplicated by a list scan; beyond, by a set


class Lit(NamedTuple):
    """An RDF literal: lexical form as published, language tag (lower case) or None, datatype IRI."""

    value: str
    lang: str | None = None
    datatype: str = XSD_STRING


Term = str | Lit
Triple = tuple[str, str, Term]


def is_blank(node: str) -> bool:
    return node.startswith("_:")


class Graph:
    """Triples indexed subject -> predicate -> objects (insertion order kept, duplicates dropped).

    `root` is the record's subject when the graph is one record's subgraph. The inverse index
    (object node -> predicate -> subjects) is built on first use, since most paths never go
    backwards.
    """

    __slots__ = ("_crowded", "_inverse", "out", "root")

    def __init__(self, root: str | None = None) -> None:
        self.root = root
        self.out: dict[str, dict[str, list[Term]]] = {}
        self._inverse: dict[str, dict[str, list[str]]] | None = None  # predicate -> object -> subjects
        self._crowded: dict[int, set[Term]] = {}  # id(objects list) -> its members, past _SCAN

    def add(self, s: str, p: str, o: Term) -> None:
        """Add a triple unless the graph holds it. Linear in the values of (s, p): a list scan
        while there are few, then a set kept beside the list (`add` must then be the list's only
        writer, as it is for `parse_ntriples`)."""
        objects = self.out.setdefault(s, {}).setdefault(p, [])
        if len(objects) < _SCAN:
            if o in objects:
                return
        else:
            members = self._crowded.get(id(objects))
            if members is None:
                members = self._crowded[id(objects)] = set(objects)
            if o in members:
                return
            members.add(o)
        objects.append(o)
        self._inverse = None

    def objects(self, s: str, p: str) -> list[Term]:
        props = self.out.get(s)
        return props.get(p, []) if props else []

    def subjects(self, p: str, o: str) -> list[str]:
        """Subjects of (?, p, o). The inverse index is built per predicate on first use: a record's
        paths go backwards through one or two predicates, not through all of them."""
        if self._inverse is None:
            self._inverse = {}
        by_object = self._inverse.get(p)
        if by_object is None:
            by_object = self._inverse[p] = {}
            for s, props in self.out.items():
                for obj in props.get(p, ()):
                    if isinstance(obj, str):
                        by_object.setdefault(obj, []).append(s)
        return by_object.get(o, [])

    def referrers(self) -> dict[str, list[str]]:
        """Object node -> subjects with any triple pointing at it (document order, no duplicates)."""
        index: dict[str, dict[str, None]] = {}
        for s, props in self.out.items():
            for objects in props.values():
                for o in objects:
                    if isinstance(o, str) and o != s:
                        index.setdefault(o, {})[s] = None
        return {o: list(subjects) for o, subjects in index.items()}

    def types(self, s: str) -> list[Term]:
        return self.objects(s, RDF_TYPE)

    def triples(self) -> Iterator[Triple]:
        for s, props in self.out.items():
            for p, objects in props.items():
                for o in objects:
                    yield s, p, o

    def __len__(self) -> int:
        return sum(len(objects) for props in self.out.values() for objects in props.values())


# -- reading -------------------------------------------------------------------------------


def term(value: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> Term | None:
    """A pyoxigraph term in index form; None for RDF-star quoted triples (not used by ELM)."""
    if isinstance(value, ox.NamedNode):
        return value.value
    if isinstance(value, ox.BlankNode):
        return "_:" + value.value
    if isinstance(value, ox.Literal):
        return Lit(value.value, value.language, value.datatype.value)
    return None


def parse_ntriples(content: bytes) -> Graph:
    """The graph of an N-Triples document; ValueError with the parser's message when invalid."""
    graph = Graph()
    try:
        for quad in ox.parse(content, ox.RdfFormat.N_TRIPLES):
            s, o = term(quad.subject), term(quad.object)
            if isinstance(s, str) and o is not None:
                graph.add(s, quad.predicate.value, o)
    except SyntaxError as exc:
        raise ValueError(f"invalid N-Triples: {exc}") from exc
    return graph


# -- writing -------------------------------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


@functools.lru_cache(maxsize=1 << 16)  # concept and organisation IRIs recur in every record
def _nt(term: Term) -> str:
    if isinstance(term, Lit):
        text = '"' + term.value.translate(_ESCAPES) + '"'
        if term.lang:
            return f"{text}@{term.lang}"
        return text if term.datatype == XSD_STRING else f"{text}^^<{term.datatype}>"
    return term if is_blank(term) else f"<{term}>"


def record_document(triples: Iterable[Triple], root: str | None = None) -> tuple[bytes, Graph]:
    """The N-Triples bytes of `triples` (sorted, duplicates dropped) and their Graph, built in
    the same order `parse_ntriples` reads the bytes back, so a replay evaluates paths alike."""
    lines = {f"{_nt(s)} <{p}> {_nt(o)} .\n": (s, p, o) for s, p, o in triples}
    order = sorted(lines)  # the lines are unique: sorting them alone sorts the pairs
    graph = Graph(root)
    out = graph.out
    for line in order:
        s, p, o = lines[line]
        props = out.get(s)
        if props is None:
            props = out[s] = {}
        objects = props.get(p)
        if objects is None:
            props[p] = [o]
        else:
            objects.append(o)
    return "".join(order).encode("utf-8"), graph


# -- canonical blank-node labels -------------------------------------------------------------


class Indexed(Protocol):
    """A subject -> predicate -> objects index: `Graph`, or a feed's triples read from disk."""

    @property
    def out(self) -> Mapping[str, dict[str, list[Term]]]: ...


class BlankSignatures:
    """Content hashes of blank nodes over a graph: a blank node's signature hashes its outgoing
    triples, with blank objects replaced by their own signatures (cycles cut). Two runs over the
    same published data give the same signatures whatever labels the parser invented."""

    def __init__(self, graph: Indexed, keep: int | None = None) -> None:
        self.graph = graph
        self._memo: dict[str, str] = {}
        self._keep = keep  # forget the memo past this many (a long feed read from disk)

    def __call__(self, node: str) -> str:
        """The signature of `node`: depth first, children before parents, a blank node already on
        the path written as "_:cycle". An explicit stack, not recursion: a chain of thousands of
        nested blank nodes went past Python's recursion limit (an internal error)."""
        memo = self._memo
        known = memo.get(node)
        if known is not None:
            return known
        if self._keep is not None and len(memo) >= self._keep:
            memo.clear()  # only between signatures: each is recomputed alike when asked again
        out = self.graph.out
        visiting = {node}
        # frames: [node, its (predicate, object) pairs, their lines so far, predicate awaiting a child]
        stack: list[_Frame] = [_Frame(node, _pairs(out, node))]
        signature = ""
        while stack:
            frame = stack[-1]
            if frame.waiting is not None:  # a child's signature just came back
                frame.lines.append(f"{frame.waiting} _:{signature}")
                frame.waiting = None
            for p, o in frame.pairs:
                if isinstance(o, str) and is_blank(o):
                    if o in visiting:
                        frame.lines.append(f"{p} _:cycle")
                        continue
                    known = memo.get(o)
                    if known is None:
                        frame.waiting = p
                        visiting.add(o)
                        stack.append(_Frame(o, _pairs(out, o)))
                        break
                    frame.lines.append(f"{p} _:{known}")
                else:
                    frame.lines.append(f"{p} {_nt(o)}")
            else:
                stack.pop()
                visiting.discard(frame.node)
                digest = hashlib.sha1("\n".join(sorted(frame.lines)).encode("utf-8"), usedforsecurity=False)
                memo[frame.node] = signature = digest.hexdigest()[:24]
        return signature


class _Frame:
    """One blank node whose signature is being computed (see `BlankSignatures.__call__`)."""

    __slots__ = ("lines", "node", "pairs", "waiting")

    def __init__(self, node: str, pairs: Iterator[tuple[str, Term]]) -> None:
        self.node = node
        self.pairs = pairs
        self.lines: list[str] = []
        self.waiting: str | None = None


def _pairs(out: Mapping[str, dict[str, list[Term]]], node: str) -> Iterator[tuple[str, Term]]:
    for p, objects in out.get(node, {}).items():
        for o in objects:
            yield p, o


def canonical_labels(triples: list[Triple], signatures: BlankSignatures) -> list[Triple]:
    """`triples` with every blank node relabelled "_:b<signature>"."""
    labels: dict[str, str] = {}
    for s, _, o in triples:
        for t in (s, o):
            if isinstance(t, str) and t.startswith("_:") and t not in labels:
                labels[t] = "_:b" + signatures(t)
    if not labels:
        return triples
    get = labels.get
    return [(get(s, s), p, get(o, o) if isinstance(o, str) else o) for s, p, o in triples]
