"""RDF selector language: SPARQL-property-path-like `path` expressions over one record's subgraph.

Syntax (whitespace is ignored between tokens):

    path     := seq ( "|" seq )*                 alternatives: values of every branch, in order
    seq      := step ( "/" step )*               sequence
    step     := "^"? primary "?"? filter*        ^ inverse, ? zero-or-one (also stay where you are)
              | "." filter*                      the current node itself
    primary  := iri | "a" | "(" path ")"         "a" is rdf:type
    filter   := "[" path ( ("=" | "!=" | "^=") value )? "]"
                                                 keep nodes where the inner path (from that node)
                                                 gives the value (=), never gives it (!=), gives an
                                                 IRI or text starting with a quoted string (^=), or
                                                 gives anything at all (no operator)
    value    := iri | '"text"' ( "@" lang )?     a literal matches on its lexical form (and on its
                                                 language when @lang is given)
    iri      := "<" absolute IRI ">" | prefix ":" local

Prefixes: the built-in standard ones (`BUILTIN_PREFIXES`) plus those a spec declares. Example:
`elm:learningAchievementSpecification?/elm:creditPoint[elm:framework=<http://data.europa.eu/snb/education-credit/6fcec5c5af>]/elm:point`.

A path starts at the record's root subject (or at a given node, for the members of a repeating
group). Results keep document order without duplicates; an IRI result is its IRI string, a
literal its lexical form with its language tag (`mappings.values.LangValue`), a blank node gives no value.
Paths are compiled once into closures over the dict index of `mappings.rdf_graph` (no SPARQL).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from course_catalogue.mappings import rdf_reader
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.rdf_graph import N_TRIPLES, RDF_TYPE, Graph, Lit, Term, parse_ntriples
from course_catalogue.mappings.rdf_reader import BUILTIN_PREFIXES
from course_catalogue.mappings.selection import Select, SelectNodes
from course_catalogue.mappings.values import Published, tagged

Step = Callable[[Graph, list[Term]], list[Term]]
"""A compiled path piece: the terms reached from a list of terms."""
Test = Callable[[Graph, Term], bool]
"""A compiled filter: does this term pass?"""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<iri><[^<>"{}|^`\\\s]*>)
      | (?P<string>"(?:[^"\\]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*)?)
      | (?P<pname>[A-Za-z][\w.-]*:(?:[\w%-]|\.(?=[\w%-]))*)
      | (?P<punct>!=|\^=|[/|^?()\[\]=.])
      | (?P<word>[A-Za-z]\w*)
    )""",
    re.VERBOSE,
)


class _Parser:
    """Recursive descent over the token list; ValueError says what is wrong and where."""

    def __init__(
        self, expression: str, prefixes: Mapping[str, str], marks: set[tuple[str, str]] | None = None
    ) -> None:
        self.expression = expression
        self.prefixes = prefixes
        self.marks = marks  # when given, every (node, predicate) a step follows is noted there
        self.tokens = self._tokenise(expression)
        self.pos = 0

    def _tokenise(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.lastgroup is None:
                raise ValueError(f"unexpected {text[pos:].strip()[:20]!r} at character {pos + 1}")
            tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ValueError("the path ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        _, value = self.take()
        if value != text:
            raise ValueError(f"expected {text!r}, found {value!r}")

    def parse(self) -> Step:
        if not self.tokens:
            raise ValueError("a path cannot be empty")
        step = self.alternatives()
        if self.pos < len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos][1]!r}")
        return step

    def alternatives(self, inverse: bool = False) -> Step:
        branches = [self.sequence(inverse)]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence(inverse))
        return branches[0] if len(branches) == 1 else _alternatives(branches)

    def sequence(self, inverse: bool) -> Step:
        steps = [self.step(inverse)]
        while self.peek() == "/":
            self.take()
            steps.append(self.step(inverse))
        if inverse:
            steps.reverse()  # ^(a/b) == ^b/^a
        return steps[0] if len(steps) == 1 else _sequence(steps, fuse=self.marks is None)

    def step(self, inverse: bool) -> Step:
        if self.peek() == ".":
            self.take()
            step: Step = _self
        else:
            if self.peek() == "^":
                self.take()
                inverse = not inverse
            step = self.primary(inverse)
            if self.peek() == "?":
                self.take()
                step = _optional(step)
        while self.peek() == "[":
            if inverse:
                raise ValueError("filters cannot be used inside an inverted group")
            step = _filtered(step, self.condition())
        return step

    def primary(self, inverse: bool) -> Step:
        kind, value = self.take()
        if value == "(":
            inner = self.alternatives(inverse)
            self.expect(")")
            return inner
        if kind == "word" and value == "a":
            return _predicate(RDF_TYPE, inverse, self.marks)
        if kind in ("iri", "pname"):
            return _predicate(self.iri(kind, value), inverse, self.marks)
        raise ValueError(f"expected a property, found {value!r}")

    def iri(self, kind: str, value: str) -> str:
        if kind == "iri":
            iri = value[1:-1]
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", iri):
                raise ValueError(f"{value} is not an absolute IRI")
            return iri
        prefix, _, local = value.partition(":")
        if prefix not in self.prefixes:
            known = ", ".join(sorted(self.prefixes))
            raise ValueError(f"unknown prefix {prefix!r} in {value!r}; declared: {known}")
        return self.prefixes[prefix] + local

    def condition(self) -> Test:
        self.expect("[")
        inner = self.alternatives()
        operator = self.peek()
        if operator not in ("=", "!=", "^="):
            self.expect("]")
            return _exists(inner)
        self.take()
        kind, value = self.take()
        if operator == "^=":
            if kind != "string":
                raise ValueError(f"^= takes a quoted string, found {value!r}")
            self.expect("]")
            return _starts(inner, _literal(value).value)
        if kind in ("iri", "pname"):
            wanted: Term = self.iri(kind, value)
        elif kind == "string":
            wanted = _literal(value)
        else:
            raise ValueError(f"expected an IRI or a quoted literal after {operator}, found {value!r}")
        self.expect("]")
        return _equals(inner, wanted, negate=operator == "!=")


def _literal(token: str) -> Lit:
    text, _, lang = token[1:].rpartition('"')
    value = re.sub(r"\\(.)", r"\1", text)
    return Lit(value, lang[1:].lower() if lang.startswith("@") else None)


# -- compiled pieces -----------------------------------------------------------------------


def _unique(terms: list[Term]) -> list[Term]:
    return list(dict.fromkeys(terms)) if len(terms) > 1 else terms


def _predicate(iri: str, inverse: bool, marks: set[tuple[str, str]] | None = None) -> Step:
    if marks is not None:
        return _noted(iri, inverse, marks)
    if inverse:

        def backward(graph: Graph, terms: list[Term]) -> list[Term]:
            found: list[Term] = []
            for t in terms:
                if isinstance(t, str):
                    found.extend(graph.subjects(iri, t))
            return _unique(found)

        return backward

    def forward(graph: Graph, terms: list[Term]) -> list[Term]:
        out = graph.out
        if len(terms) == 1:  # the common case; the index's own list is returned, never mutated
            props = out.get(terms[0]) if isinstance(terms[0], str) else None
            return props.get(iri, []) if props else []
        found: list[Term] = []
        for t in terms:
            props = out.get(t) if isinstance(t, str) else None
            if props:
                found.extend(props.get(iri, ()))
        return _unique(found)

    forward.forward_iri = iri  # type: ignore[attr-defined]  # lets `_sequence` fuse a chain
    return forward


def _noted(iri: str, inverse: bool, marks: set[tuple[str, str]]) -> Step:
    """A predicate step that notes each (subject, predicate) it follows (coverage)."""

    def noted(graph: Graph, terms: list[Term]) -> list[Term]:
        found: list[Term] = []
        for t in terms:
            if not isinstance(t, str):
                continue
            if inverse:
                subjects = graph.subjects(iri, t)
                marks.update((s, iri) for s in subjects)
                found.extend(subjects)
            else:
                props = graph.out.get(t)
                objects = props.get(iri) if props else None
                if objects:
                    marks.add((t, iri))
                    found.extend(objects)
        return _unique(found)

    return noted


def _forward_chain(iris: list[str]) -> Step:
    """`p1/p2/...` of plain forward predicates as one step: the same lookups as a sequence of
    `forward` steps (single terms follow the index's own lists, several are merged without
    duplicates), without a call per predicate."""

    def chain(graph: Graph, terms: list[Term]) -> list[Term]:
        out = graph.out
        for iri in iris:
            if len(terms) == 1:
                term = terms[0]
                props = out.get(term) if isinstance(term, str) else None
                terms = props.get(iri, []) if props else []
                if not terms:
                    return terms
                continue
            found: list[Term] = []
            for t in terms:
                props = out.get(t) if isinstance(t, str) else None
                if props:
                    found.extend(props.get(iri, ()))
            terms = _unique(found)
            if not terms:
                return terms
        return terms

    chain.forward_iri = None  # type: ignore[attr-defined]
    return chain


def _self(graph: Graph, terms: list[Term]) -> list[Term]:
    return terms


def _sequence(steps: list[Step], fuse: bool = True) -> Step:
    iris = [getattr(step, "forward_iri", None) for step in steps]
    if fuse and all(iri is not None for iri in iris):
        return _forward_chain([iri for iri in iris if iri is not None])

    def sequence(graph: Graph, terms: list[Term]) -> list[Term]:
        for step in steps:
            if not terms:
                return terms
            terms = step(graph, terms)
        return terms

    return sequence


def _alternatives(branches: list[Step]) -> Step:
    def alternatives(graph: Graph, terms: list[Term]) -> list[Term]:
        return _unique([found for branch in branches for found in branch(graph, terms)])

    return alternatives


def _optional(step: Step) -> Step:
    def optional(graph: Graph, terms: list[Term]) -> list[Term]:
        return _unique(terms + step(graph, terms))

    return optional


def _filtered(step: Step, keep: Test) -> Step:
    def filtered(graph: Graph, terms: list[Term]) -> list[Term]:
        return [t for t in step(graph, terms) if keep(graph, t)]

    return filtered


def _exists(inner: Step) -> Test:
    return lambda graph, t: bool(inner(graph, [t]))


def _starts(inner: Step, prefix: str) -> Test:
    def keep(graph: Graph, t: Term) -> bool:
        return any((f.value if isinstance(f, Lit) else f).startswith(prefix) for f in inner(graph, [t]))

    return keep


def _equals(inner: Step, wanted: Term, negate: bool) -> Test:
    if isinstance(wanted, Lit):
        text, lang = wanted.value, wanted.lang

        def matches(found: Term) -> bool:
            return isinstance(found, Lit) and found.value == text and (lang is None or found.lang == lang)

    else:

        def matches(found: Term) -> bool:
            return found == wanted

    def keep(graph: Graph, t: Term) -> bool:
        hit = any(matches(found) for found in inner(graph, [t]))
        return hit != negate

    return keep


# -- public API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RdfPath:
    """A compiled path. `nodes` gives the terms reached; `values` their published values."""

    expression: str
    step: Step

    def nodes(self, graph: Graph, start: Term | None = None) -> list[Term]:
        """Terms reached from `start` (default: the graph's root subject)."""
        origin = graph.root if start is None else start
        return [] if origin is None else self.step(graph, [origin])

    def values(self, graph: Graph, start: Term | None = None) -> list[Published]:
        """IRIs as strings and literals as language-tagged values; blank nodes are skipped."""
        return published(self.nodes(graph, start))


def published(terms: list[Term]) -> list[Published]:
    """The published values of `terms`: IRIs as strings, literals as language-tagged values;
    blank nodes are skipped."""
    found: list[Published] = []
    for t in terms:
        if isinstance(t, Lit):
            found.append(tagged(t.value, t.lang))
        elif not t.startswith("_:"):
            found.append(t)
    return found


def compile_path(
    expression: str, namespaces: Mapping[str, str] | None = None, marks: set[tuple[str, str]] | None = None
) -> RdfPath:
    """Compile `expression`; ValueError (with the reason) when it is not a valid path. With
    `marks`, the path notes in that set every (node, predicate IRI) it follows (coverage)."""
    prefixes = {**BUILTIN_PREFIXES, **(namespaces or {})}
    return RdfPath(expression, _Parser(expression, prefixes, marks).parse())


# -- the selector language -----------------------------------------------------------------

BLANK_GUID = "urn:catalogue:elm:blank:"
"""Prefix of the id the harvester gives a blank-node record ("_:b<hash>" in the item's N-Triples)."""
SYNTAX_NAMES = ("turtle", "rdf-xml", "json-ld", "html")


class Focus(NamedTuple):
    """An RDF document for selectors: a record graph and the node paths start from (the record's
    root subject, or one member node of a repeating group)."""

    graph: Graph
    node: Term


def _check_syntax(value: Any) -> str | None:
    return None if value in SYNTAX_NAMES else f"must be one of {', '.join(SYNTAX_NAMES)}"


def _check_base(value: Any) -> str | None:
    ok = isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None
    return None if ok else "must be an absolute http(s) IRI (the feed's own URL)"


def _check_seconds(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return None if ok else "must be a number of seconds >= 0"


def _check_positive(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


@dataclass(frozen=True)
class RdfRecords:
    """N-Triples record subgraphs (from the ELM harvester); selectors are `path` expressions."""

    media_type: str = N_TRIPLES
    keys: tuple[str, ...] = ("path",)
    namespaces: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    reader: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    record_classes: tuple[str, ...] = ()
    """The spec's record classes (`[reader].records`, fallback order): what `parse` takes as the
    root of a stored record whose guid is not one of its subjects. Empty: the default reading's."""
    reader_checks: ClassVar[Mapping[str, Callable[[Any], str | None]]] = MappingProxyType(
        {
            "syntax": _check_syntax,
            # the harvester's limits (harvesters/elm.py): values of one subject and property, and
            # triples of one record, beyond which the record is reported, not processed
            "max_values_per_property": _check_positive,
            "max_record_triples": _check_positive,
            # web pages harvester (harvesters/pages.py): pages read, size cap per page, politeness
            "base": _check_base,
            "max_pages": _check_positive,
            "max_page_bytes": _check_positive,
            "delay_seconds": _check_seconds,
            # record classes, how far a record reaches, local JSON-LD contexts (mappings/rdf_reader.py)
            **{key: functools.partial(rdf_reader.check_shape, key) for key in rdf_reader.KEYS},
        }
    )

    def configure(self, namespaces: Mapping[str, str], reader: Mapping[str, Any]) -> RdfRecords:
        """A copy whose paths may use the spec's `[namespaces]` prefixes besides the built-in ones;
        ValueError when the reader's classes or predicates use an undeclared prefix."""
        prefixes = {**BUILTIN_PREFIXES, **namespaces}
        try:
            reading = rdf_reader.resolve({k: v for k, v in reader.items() if k != "contexts"}, prefixes, None)
        except ValueError as exc:
            raise ValueError(f"reader: {exc}") from exc
        return replace(
            self,
            namespaces=MappingProxyType(dict(namespaces)),
            reader=MappingProxyType(dict(reader)),
            record_classes=reading.record_classes,
        )

    def located(self, folder: Path) -> RdfRecords:
        """Check that the local JSON-LD contexts the reader registers exist in `folder` (the
        spec's) and are contexts; ValueError naming the one that is not."""
        if "contexts" in self.reader:
            try:
                rdf_reader.resolve(self.reader, {**BUILTIN_PREFIXES, **self.namespaces}, folder)
            except ValueError as exc:
                raise ValueError(f"reader: {exc}") from exc
        return self

    def compile(self, key: str, expression: str) -> Select:
        step = compile_path(expression, self.namespaces).step

        def select(doc: Focus) -> list[Published] | None:  # RdfPath.values, without the nodes() call
            graph, node = doc
            if node is None:
                node = graph.root
                if node is None:
                    return []
            return published(step(graph, [node]))

        return select

    def compile_nodes(self, key: str, expression: str) -> SelectNodes:
        path = compile_path(expression, self.namespaces)

        def nodes(doc: Focus) -> list[Any] | None:
            graph = doc.graph
            return [Focus(graph, t) for t in path.nodes(graph, doc.node) if isinstance(t, str)]

        return nodes

    def coverage_tracker(self, uses: Iterable[Any]) -> RdfCoverage:
        """What the spec's paths (`mappings.coverage.SelectorUse`s) read, per record."""
        return RdfCoverage(self, uses)

    def parse(self, item: RawItem) -> Any:
        """The record graph focused on its root: the harvester's cached graph, else the N-Triples."""
        graph = item.parsed if isinstance(item.parsed, Graph) else parse_ntriples(item.content)
        classes = self.record_classes or rdf_reader.default_reading().record_classes
        root = graph.root or _root(graph, item.guid, classes)
        if root is None:
            raise ValueError("no record root: the guid is no subject and no subject has a record class")
        graph.root = root
        return Focus(graph, root)


def _root(graph: Graph, guid: str | None, classes: tuple[str, ...]) -> str | None:
    """The record's subject: the guid when it is a subject, else the first typed with a record
    class (in the spec's order)."""
    if guid:
        node = "_:b" + guid[len(BLANK_GUID) :] if guid.startswith(BLANK_GUID) else guid
        if node in graph.out:
            return node
    for wanted in classes:
        for subject, props in graph.out.items():
            if wanted in props.get(RDF_TYPE, ()):
                return subject
    return None


# -- coverage ------------------------------------------------------------------------------


class RdfCoverage:
    """Coverage of RDF records (see `mappings.coverage`).

    Paths: predicate paths from the record's root subject, with the spec's and the built-in
    prefixes (`<iri>` otherwise): `dc:title`, `elm:learningAchievementSpecification/elm:EQFLevel`.
    A node of the record reached only backwards (a credential's achievement pointing at the
    specification) is named with inverse steps, `^elm:specifiedBy/elm:provenBy/...`. Each node
    is named by the first (shortest) path that reaches it, forward steps first. Values: literals
    and IRIs (a vocabulary concept, a homepage, an organisation); the properties of a node are
    values at longer paths (`elm:mode/skos:prefLabel`); blank nodes are structure only.

    Reads: every path is evaluated with steps that note each (node, predicate) they follow, so
    what filters test (`[elm:framework = <...>]`) counts as read; a value is read when its
    (subject, predicate) was followed."""

    def __init__(self, language: RdfRecords, uses: Iterable[Any]) -> None:
        self.prefixes = {**BUILTIN_PREFIXES, **language.namespaces}
        self._by_iri = sorted(((iri, p) for p, iri in self.prefixes.items()), key=lambda pair: -len(pair[0]))
        self._names: dict[str, str] = {}
        self.marks: set[tuple[str, str]] = set()
        self._plain: list[RdfPath] = []
        self._groups: dict[str, tuple[RdfPath, list[RdfPath]]] = {}
        problems: list[str] = []
        for use in uses:
            try:
                path = compile_path(use.expression, language.namespaces, self.marks)
                if use.nodes:
                    self._groups.setdefault(use.expression, (path, []))
                elif use.each is not None:
                    group = self._groups.get(use.each)
                    if group is None:
                        each = compile_path(use.each, language.namespaces, self.marks)
                        group = self._groups[use.each] = (each, [])
                    group[1].append(path)
                else:
                    self._plain.append(path)
            except ValueError as exc:
                problems.append(f"path {use.expression!r}: {exc}")
        self.problems = tuple(problems)

    def name(self, iri: str) -> str:
        name = self._names.get(iri)
        if name is None:
            name = f"<{iri}>"
            for base, prefix in self._by_iri:
                local = iri[len(base) :]
                if iri.startswith(base) and re.match(r"^[\w-]+$", local):
                    name = f"{prefix}:{local}"
                    break
            self._names[iri] = name
        return name

    def values(self, doc: Any) -> tuple[dict[str, str], Any]:
        graph, root = doc
        out = graph.out
        named: dict[str, str] = {root: ""}
        order = [root]
        values: dict[str, str] = {}
        sites: dict[tuple[str, str], str] = {}
        while True:
            index = 0
            while index < len(order):  # forward, breadth first
                node = order[index]
                index += 1
                base = named[node]
                for predicate, objects in out.get(node, {}).items():
                    where = f"{base}/{self.name(predicate)}" if base else self.name(predicate)
                    for o in objects:
                        if isinstance(o, Lit):
                            if o.value.strip():
                                values.setdefault(where, o.value)
                                sites[node, predicate] = where
                        elif o in out or o.startswith("_:"):
                            if not o.startswith("_:"):  # an IRI with properties: a value too
                                values.setdefault(where, o)
                                sites[node, predicate] = where
                            if o not in named:
                                named[o] = where
                                order.append(o)
                        else:
                            values.setdefault(where, o)
                            sites[node, predicate] = where
            back = [
                (s, f"{named[o]}/^{self.name(p)}" if named[o] else f"^{self.name(p)}")
                for s, props in out.items()
                if s not in named
                for p, objects in props.items()
                for o in objects
                if isinstance(o, str) and o in named
            ]
            if not back:
                return values, sites
            for s, where in back:
                if s not in named:
                    named[s] = where
                    order.append(s)

    def reads(self, doc: Any, state: Any) -> set[str]:
        sites: dict[tuple[str, str], str] = state
        graph, root = doc
        marks = self.marks
        marks.clear()
        for path in self._plain:
            path.nodes(graph, root)
        for each, subs in self._groups.values():
            for node in each.nodes(graph, root):
                if isinstance(node, str):
                    for path in subs:
                        path.nodes(graph, node)
        read = {sites[mark] for mark in marks if mark in sites}
        marks.clear()
        return read
