"""The `[reader]` table of an RDF spec: which nodes of a graph are records, and how far a record
reaches. Shared by the spec loader (checked when the spec loads) and the RDF harvester.

Keys (every class or predicate is a CURIE with the spec's or the built-in prefixes, or `<IRI>`):

* `records`: the record classes in fallback order. Each entry is a class, or a list of classes
  that rank alike; the first entry of which the graph has any subject gives the records, one per
  subject typed with one of its classes (document order). Example, ELM:
  `records = ["elm:LearningOpportunity", ["elm:LearningAchievementSpecification",
  "elm:Qualification"], "elm:LearningActivitySpecification"]`.
* `referrers`: record classes whose records also take in, one level up, the nodes that point at
  them (a credential's achievement pointing at the specification it is specified by).
* `referrer_levels`: how many levels up `referrers` reach (default 1; nodes of a `private` class
  on the way are passed through, keeping only the linking triple).
* `referrers_excluded`: classes of such pointing nodes that are never taken in (the credential
  document itself, whose subgraph would be every record's).
* `private`: classes of nodes never expanded into a record (a learner's personal data): they
  appear only as objects.
* `not_expanded`: predicates whose object nodes are not expanded (`skos:inScheme`: the scheme
  node says nothing a mapping needs beyond its IRI).
* `dropped`: predicates whose values are dropped while reading (embedded base64 files); in
  JSON-LD the keys naming them (IRI, CURIE with a declared prefix, or bare local name) are
  dropped before parsing, so the parser never copies them around.
* `contexts`: a table of remote JSON-LD context IRI = local file, relative to the spec's folder.
  JSON-LD is never read from the network: a document naming a context without a local copy is a
  ParseError naming it. The IRI matches with or without a trailing "/" or "#". A file outside the
  spec's folder (`../`, an absolute path elsewhere) is refused.
* `syntax`, `max_values_per_property`, `max_record_triples`: see `harvesters/elm.py`.

A spec that gives no `records` reads like the built-in `elm-rdf` spec (its `[reader]` table, with
its contexts), so that ELM feeds keep working with specs written before record classes were
configurable. Nothing else about ELM is in code.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from course_catalogue.catalogue.errors import ParseError

BUILT_IN_SPECS = Path(str(resources.files("course_catalogue.mappings") / "specs"))
DEFAULT_SPEC = BUILT_IN_SPECS / "elm-rdf.toml"
"""The spec whose `[reader]` a spec without `records` reads with."""

_LISTS = ("referrers", "referrers_excluded", "private", "not_expanded", "dropped")
KEYS = frozenset({"records", "contexts", "referrer_levels", *_LISTS})
_PNAME = re.compile(r"^([A-Za-z][\w.-]*):(.*)$")


@dataclass(frozen=True)
class RdfReading:
    """A resolved `[reader]` table (see the module docstring); every class and predicate an IRI."""

    tiers: tuple[tuple[str, ...], ...]
    referrers: frozenset[str] = frozenset()
    referrers_excluded: frozenset[str] = frozenset()
    private: frozenset[str] = frozenset()
    not_expanded: frozenset[str] = frozenset()
    dropped: frozenset[str] = frozenset()
    dropped_keys: frozenset[str] = frozenset()
    contexts: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    names: tuple[tuple[str, ...], ...] = ()  # the record classes as the spec writes them
    referrer_levels: int = 1

    @property
    def record_classes(self) -> tuple[str, ...]:
        return tuple(c for tier in self.tiers for c in tier)

    def describe(self) -> str:
        """The record classes as a reader sees them, for error messages."""
        return ", then ".join(" or ".join(tier) for tier in self.names or self.tiers)

    def local_context(self, iri: str) -> Any:
        """The `@context` value of the local copy of remote context `iri`; ParseError if none."""
        path = self.contexts.get(iri.rstrip("/#"))
        if path is None:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise ParseError(
                f"JSON-LD context {iri!r} is not available offline (remote contexts are never fetched; "
                f"the spec's [reader.contexts] has local copies of: {known})"
            )
        return _context_file(str(path))


def check_shape(key: str, value: Any) -> str | None:
    """The problem with `[reader].<key>` as TOML data, or None (prefixes are checked by `resolve`)."""
    if key == "records":
        if not isinstance(value, list) or not value:
            return "must be a non-empty list of classes (a class, or a list of classes that rank alike)"
        for entry in value:
            tier = entry if isinstance(entry, list) else [entry]
            if not tier or not all(isinstance(c, str) and c for c in tier):
                return f"entry {entry!r} is not a class or a non-empty list of classes"
        return None
    if key == "referrer_levels":
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4
        return None if ok else "must be an integer from 1 to 4"
    if key == "contexts":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
        ):
            return "must be a table of remote context IRI = local file (relative to the spec)"
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "must be a list of CURIEs or <IRI>s"
    return None


def resolve(reader: Mapping[str, Any], prefixes: Mapping[str, str], base: Path | None) -> RdfReading:
    """The reading `reader` describes, its names expanded with `prefixes` and its context files
    resolved against `base` (the spec's folder). ValueError names what is wrong: an undeclared
    prefix, a context file that is missing or not a JSON-LD context."""
    if "records" not in reader:
        return default_reading()

    def iri(name: str) -> str:
        if name.startswith("<") and name.endswith(">"):
            return name[1:-1]
        match = _PNAME.match(name)
        if match is None or match.group(1) not in prefixes:
            raise ValueError(f"{name!r} is neither <IRI> nor a CURIE with a declared prefix")
        return prefixes[match.group(1)] + match.group(2)

    tiers = tuple(
        tuple(iri(c) for c in (entry if isinstance(entry, list) else [entry])) for entry in reader["records"]
    )
    lists = {key: frozenset(iri(v) for v in reader.get(key, ())) for key in _LISTS}
    contexts: dict[str, Path] = {}
    for remote, local in reader.get("contexts", {}).items():
        folder = (base or Path(".")).resolve()
        path = (folder / local).resolve()
        if not path.is_relative_to(folder):
            raise ValueError(f"contexts.{remote!r}: {local!r} is outside the spec's folder")
        try:
            _context_file(str(path))
        except ParseError as exc:
            raise ValueError(f"contexts.{remote!r}: {exc}") from None
        contexts[remote.rstrip("/#")] = path
    return RdfReading(
        tiers=tiers,
        names=tuple(tuple(entry if isinstance(entry, list) else [entry]) for entry in reader["records"]),
        dropped_keys=frozenset(_keys(lists["dropped"], prefixes)),
        contexts=MappingProxyType(contexts),
        referrer_levels=int(reader.get("referrer_levels", 1)),
        **lists,
    )


def _keys(predicates: frozenset[str], prefixes: Mapping[str, str]) -> set[str]:
    keys: set[str] = set()
    for predicate in predicates:
        keys.add(predicate)
        for prefix, namespace in prefixes.items():
            if predicate.startswith(namespace):
                local = predicate[len(namespace) :]
                keys.update((f"{prefix}:{local}", local))
    return keys


@lru_cache(maxsize=1)
def default_reading() -> RdfReading:
    """The reading of the built-in elm-rdf spec (see the module docstring)."""
    from course_catalogue.mappings.rdf_paths import BUILTIN_PREFIXES

    data = tomllib.loads(DEFAULT_SPEC.read_text(encoding="utf-8"))
    prefixes = {**BUILTIN_PREFIXES, **data.get("namespaces", {})}
    return resolve(data["reader"], prefixes, DEFAULT_SPEC.parent)


@lru_cache(maxsize=64)
def _context_file(path: str) -> Any:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParseError(f"local JSON-LD context file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"local JSON-LD context file {path} cannot be read: {exc}") from None
    if not isinstance(document, dict) or "@context" not in document:
        raise ParseError(f"local JSON-LD context file {path} has no top-level @context")
    return document["@context"]
