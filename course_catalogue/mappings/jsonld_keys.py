"""JSON-LD keys that expansion drops because no context defines them.

JSON-LD expansion silently drops every key of a node object that does not expand to an IRI: a term
the active context does not define, when the context has no `@vocab`. A CTDL property newer than
the local copy of the registry's context, or a provider's own key, would vanish from the graph
without a trace, so coverage could not report it either. `UndefinedKeys` walks the document (its
remote contexts already replaced by local copies) as expansion would and collects those keys, so
that a run reports them as unmapped paths with a WARNING (see `mappings/coverage.py`).

What counts as defined (the key is kept by expansion): a keyword (`@id`, ...); a term of the active
context (whatever it maps to, `null` included: a context that nulls a term drops it on purpose); a
key with a colon (a compact IRI, or an absolute IRI when its prefix is not declared, which
JSON-LD 1.1 keeps as is); any key while the active context has a `@vocab`.

The active context is tracked as expansion tracks it: embedded `@context` entries (a list applies
in order, `null` resets), property-scoped contexts for the value of their term, type-scoped
contexts for the node whose `@type` names their term. It errs towards "defined": a type-scoped
context is treated as propagating to nested nodes (JSON-LD 1.1 says it does not, unless
`@propagate`), so a key is only reported when expansion certainly drops it.

Values are walked as expansion reads them: a value object (`@value`), a `@json` value and a
language map (`@container: @language`) hold no keys; index, id, type and graph maps hold nodes
under their keys (the map keys are not properties); `@graph`, `@list`, `@set`, `@included`,
`@nest` and `@reverse` hold nodes. A path names the keys from a top-level node object (a member
of the document's list or of its top-level `@graph`) down to the dropped key, `/`-separated, lists
transparent: `fooBar`, or `ceterms:estimatedCost/fooBar` for a key inside an inline cost profile.
`records` counts the top-level node objects with the path, the nearest thing to records a JSON-LD
document has before its graph is cut (each CTDL `@graph` member, each schema.org block).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_PATHS = 1000
"""Distinct undefined-key paths collected per run; more (generated keys) are counted, not listed."""
_DERIVED = 32
"""Derived contexts memoised per context (type- and property-scoped ones recur; inline ones may not)."""
_NODE_KEYWORDS = frozenset({"@graph", "@list", "@set", "@included", "@nest"})
_MAP_CONTAINERS = frozenset({"@index", "@id", "@type", "@graph"})


@dataclass(frozen=True)
class UnreadPath:
    """A source path a reader saw but could not pass on to the records, so no rule can read it:
    `records` that had it, one `example` value, the `reason` (said in the run's WARNING)."""

    path: str
    records: int
    example: str
    reason: str
    code: str = "jsonld-undefined-key"


class _Context:
    """An active context as far as keys go: its terms, whether it has a `@vocab`, the terms that
    alias `@type`. Contexts derived from it are memoised by the `@context` value applied (the
    same type-scoped context recurs on every node of its type)."""

    __slots__ = ("_derived", "terms", "type_aliases", "vocab")

    def __init__(self, terms: dict[str, Any], vocab: bool) -> None:
        self.terms = terms
        self.vocab = vocab
        self.type_aliases = tuple(term for term, definition in terms.items() if definition == "@type")
        self._derived: dict[int, tuple[Any, _Context]] = {}

    def merged(self, value: Any) -> _Context:
        """This context with `value` (a local `@context` value: object, list of them, or null)
        applied, as JSON-LD context processing applies it."""
        known = self._derived.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        derived = self._merge(value)
        if len(self._derived) < _DERIVED:  # bounded: a feed may embed a context in every node
            self._derived[id(value)] = (value, derived)  # the value is kept: its id stays its own
        return derived

    def _merge(self, value: Any) -> _Context:
        entries = value if isinstance(value, list) else [value]
        terms, vocab = self.terms, self.vocab
        copied = False
        for entry in entries:
            if entry is None:
                terms, vocab, copied = {}, False, True
                continue
            if not isinstance(entry, Mapping):
                continue  # a remote IRI left unresolved: the parser reports it
            if not copied:
                terms, copied = dict(terms), True
            for key, definition in entry.items():
                if key == "@vocab":
                    vocab = definition is not None
                elif not key.startswith("@"):
                    terms[key] = definition
        return self if not copied else _Context(terms, vocab)


class UndefinedKeys:
    """Collects, over one or more JSON-LD documents (the pages of a listing), the keys expansion
    drops (see the module docstring). `scan` each document, then `paths()`."""

    def __init__(self) -> None:
        self._records: dict[str, int] = {}
        self._examples: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self.untracked = 0  # occurrences at paths beyond MAX_PATHS

    def scan(self, document: Any) -> None:
        """Walk one document (contexts already local)."""
        root = _Context({}, False)
        tops: list[tuple[Any, _Context]] = []
        for member in document if isinstance(document, list) else [document]:
            if not isinstance(member, dict):
                continue
            context = root.merged(member["@context"]) if "@context" in member else root
            graph = member.get("@graph")
            if graph is not None and not (set(member) - {"@context", "@graph", "@id"}):
                tops.extend((node, context) for node in (graph if isinstance(graph, list) else [graph]))
            else:
                tops.append((member, root))
        for node, context in tops:
            found: dict[str, str] = {}
            self._node(node, context, "", found)
            for path, example in found.items():
                self._add(path, example)

    def paths(self) -> list[UnreadPath]:
        """The undefined keys found, by path."""
        return [
            UnreadPath(
                path,
                self._records[path],
                self._examples[path],
                f"the key {self._keys[path]!r} is not defined by the JSON-LD context, so JSON-LD "
                "expansion dropped its values: add it to a local context of the spec's "
                "[reader.contexts] to read it, or to `ignore`",
            )
            for path in sorted(self._records)
        ]

    def _add(self, path: str, example: str) -> None:
        known = self._records.get(path)
        if known is not None:
            self._records[path] = known + 1
        elif len(self._records) < MAX_PATHS:
            self._records[path] = 1
            self._examples[path] = example
            self._keys[path] = path.rsplit("/", 1)[-1]
        else:
            self.untracked += 1

    def _node(self, node: dict[str, Any], context: _Context, prefix: str, found: dict[str, str]) -> None:
        if "@context" in node:
            context = context.merged(node["@context"])
        if "@value" in node:
            return
        context = self._type_scoped(node, context)
        for key, value in node.items():
            if key == "@context":
                continue
            definition = context.terms.get(key, _MISSING)
            target = _keyword(key, definition)
            if target is not None:
                if target in _NODE_KEYWORDS:
                    self._value(value, context, prefix, found)
                elif target == "@reverse" and isinstance(value, dict):
                    self._node(value, context, prefix, found)
                continue
            path = f"{prefix}{key}"
            if definition is _MISSING and ":" not in key and not context.vocab:
                found.setdefault(path, _example(value))
                continue
            if not isinstance(definition, Mapping):
                self._value(value, context, path + "/", found)
                continue
            scoped = context.merged(definition["@context"]) if "@context" in definition else context
            if definition.get("@type") == "@json":
                continue
            containers = definition.get("@container")
            containers = set(containers if isinstance(containers, list) else [containers])
            if "@language" in containers:
                continue
            if containers & _MAP_CONTAINERS and isinstance(value, dict):
                for member in value.values():
                    self._value(member, scoped, path + "/", found)
                continue
            self._value(value, scoped, path + "/", found)

    def _value(self, value: Any, context: _Context, prefix: str, found: dict[str, str]) -> None:
        if isinstance(value, list):
            for member in value:
                self._value(member, context, prefix, found)
        elif isinstance(value, dict):
            self._node(value, context, prefix, found)

    @staticmethod
    def _type_scoped(node: dict[str, Any], context: _Context) -> _Context:
        types = node.get("@type", ())
        for alias in context.type_aliases:  # a term aliasing @type ("type")
            if alias in node:
                types = node[alias]
        for name in types if isinstance(types, list) else [types]:
            definition = context.terms.get(name) if isinstance(name, str) else None
            if isinstance(definition, Mapping) and "@context" in definition:
                context = context.merged(definition["@context"])
        return context


_MISSING = object()


def _keyword(key: str, definition: Any) -> str | None:
    """The keyword `key` is or aliases, else None."""
    if key.startswith("@"):
        return key
    if isinstance(definition, str) and definition.startswith("@"):
        return definition
    if isinstance(definition, Mapping):
        target = definition.get("@id")
        if isinstance(target, str) and target.startswith("@"):
            return target
    return None


def _example(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1:
        return _example(value[0])
    if isinstance(value, dict) and "@value" in value:
        return _example(value["@value"])
    return json.dumps(value, ensure_ascii=False)[:200]
