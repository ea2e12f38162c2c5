"""Mapping specs: TOML files that say how one feed format fills a Course, loaded and compiled once.

`load_spec` reads `mappings/specs/<name>.toml` (or a path), checks every key, transform name,
argument and target field, and compiles selectors and transform chains, so `engine.apply` does
no parsing, regex compilation or table building per record. The language is described for
users in the README ("Mapping specs"); every problem raises `ConfigurationError` naming the
file and the key.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.sources import SourceParameters
from course_catalogue.mappings.coverage import IgnoreRules, SelectorUse, check_ignore_entry
from course_catalogue.mappings.csv_options import CsvOptions, ReaderOptionError
from course_catalogue.mappings.rules import FieldRule, GroupRule, Step, compile_runner
from course_catalogue.mappings.selection import Select, SelectorLanguage
from course_catalogue.mappings.selectors import FORMAT_MEDIA_TYPES, LANGUAGES
from course_catalogue.mappings.targets import GROUPS, TARGETS, Group, Target
from course_catalogue.mappings.transforms import REGISTRY, Result, TransformDef
from course_catalogue.mappings.transforms.languages import language
from course_catalogue.mappings.transforms.result import fold

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "format",
        "reader",
        "id",
        "default_language",
        "null_values",
        "fields",
        "namespaces",
        "ignore",
    }
)
_RULE_KEYS = frozenset(
    {
        "constant",
        "join",
        "split",
        "template",
        "map",
        "transform",
        "args",
        "default",
        "lang",
        "required",
        "fallback",
    }
)
_ID_KEYS = frozenset({"join", "template", "transform", "args", "map"})
_GROUP_KEYS = frozenset({"each", "fields", "required", "fallback"})
_CACHE_SIZE = 4096


@dataclass(frozen=True, eq=False)
class MappingSpec:
    """A compiled mapping spec. `fields` keeps spec order, except that `languages` comes first
    because it decides the language of the record's text. Specs compare and hash by identity
    (the engine caches its per-spec evaluation plan on that)."""

    name: str
    path: str
    format: str
    media_type: str
    reader: Mapping[str, Any]
    id_rule: FieldRule | None
    default_language: str | None
    null_values: frozenset[str]
    fields: tuple[tuple[Target, tuple[FieldRule, ...]], ...]
    description: str = ""
    longest_null: int = 0  # length of the longest null value: longer cells skip the lookup
    selector_language: SelectorLanguage = field(default=LANGUAGES[FORMAT_MEDIA_TYPES["csv"]], compare=False)
    groups: tuple[tuple[Group, tuple[GroupRule, ...]], ...] = ()  # repeating groups, spec order
    namespaces: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # every selector the rules use (id, fields, each, sub-fields): what coverage probes
    uses: tuple[SelectorUse, ...] = ()
    ignore: tuple[str, ...] = ()  # source paths deliberately left unmapped (mappings.coverage)
    ignore_rules: IgnoreRules = field(default_factory=lambda: IgnoreRules(()), compare=False)
    default_country: str | None = None  # the provider's country when a record gives none
    # blake2b of the spec file's bytes (load_spec): what item digests key on (services.recall)
    digest: str = ""


def _spec_path(name_or_path: str) -> Path:
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        return Path(name_or_path)
    if not _NAME.match(name_or_path):
        raise ConfigurationError(f"invalid mapping name {name_or_path!r}")
    return Path(str(resources.files("course_catalogue.mappings") / "specs" / f"{name_or_path}.toml"))


def load_spec(name_or_path: str) -> MappingSpec:
    """Load and compile a spec by name (mappings/specs/<name>.toml) or by file path.

    Raises ConfigurationError (naming the file and key) for a missing file, bad TOML, unknown
    keys, targets, transforms or arguments, and transform chains whose types do not fit.
    """
    path = _spec_path(name_or_path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"mapping spec {name_or_path!r} not found ({path})") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read mapping spec: {exc}") from exc
    return _compiled(str(path), hashlib.blake2b(text, digest_size=16).hexdigest(), text)


@functools.lru_cache(maxsize=64)
def _compiled(path: str, digest: str, text: bytes) -> MappingSpec:
    """The spec compiled from the file at `path` holding `text`: once per file content, so each
    run of a source does not compile it again (~0.4 s for XCRI-CAP) and the caches keyed on a
    spec's identity (`bind_parameters`, the engine's plans) serve every run."""
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read mapping spec: {exc}") from exc
    return replace(_Compiler(Path(path)).spec(data), digest=digest)


class _Compiler:
    """Turns the TOML document of one spec file into a MappingSpec; errors name `self.path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.language: SelectorLanguage = LANGUAGES[FORMAT_MEDIA_TYPES["csv"]]
        self.uses: list[SelectorUse] = []
        self._each: str | None = None  # the `each` of the group whose sub-fields are compiled

    def fail(self, key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self.path}: {key}: {problem}")

    def spec(self, data: dict[str, Any]) -> MappingSpec:
        self._no_unknown("(top level)", data, _TOP_KEYS)
        fmt = data.get("format")
        if not isinstance(fmt, str) or fmt not in FORMAT_MEDIA_TYPES:
            known = ", ".join(sorted(FORMAT_MEDIA_TYPES))
            raise self.fail("format", f"{fmt!r} has no selector language (known: {known})")
        media_type = FORMAT_MEDIA_TYPES[fmt]
        self.language = LANGUAGES[media_type]
        reader = self._reader(fmt, data.get("reader", {}))
        namespaces = self._namespaces(data.get("namespaces", {}))
        self._configure(namespaces, reader)
        fields = data.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise self.fail("fields", "a spec needs a [fields.<target>] table")
        groups = [(GROUPS[t], self._group_rules(t, e)) for t, e in fields.items() if self._is_group(t, e)]
        compiled = [
            (self._target(t), self._rules(f"fields.{t}", self._target(t), e))
            for t, e in fields.items()
            if not self._is_group(t, e)
        ]
        self._no_mixing(groups, fields)
        compiled.sort(key=lambda pair: pair[0].path != "languages")
        id_table = data.get("id")
        id_rule = None if id_table is None else self._id_rule(id_table)
        nulls = [fold(v) for v in self._strings("null_values", data.get("null_values", []))]
        ignore = self._ignore(data.get("ignore", []))
        return MappingSpec(
            name=self._string("name", data.get("name", self.path.stem)),
            path=str(self.path),
            format=fmt,
            media_type=media_type,
            reader=MappingProxyType(reader),
            id_rule=id_rule,
            default_language=self._language("default_language", data.get("default_language")),
            null_values=frozenset(nulls),
            longest_null=max(map(len, nulls), default=-1),
            fields=tuple(compiled),
            description=self._string("description", data.get("description", "")),
            selector_language=self.language,
            groups=tuple(groups),
            namespaces=MappingProxyType(namespaces),
            uses=tuple(dict.fromkeys(self.uses)),
            ignore=ignore,
            ignore_rules=IgnoreRules(ignore),
        )

    def _ignore(self, value: Any) -> tuple[str, ...]:
        entries = self._strings("ignore", value)
        for entry in entries:
            problem = check_ignore_entry(entry)
            if problem:
                raise self.fail("ignore", problem)
        if len(set(entries)) != len(entries):
            raise self.fail("ignore", "an entry is listed twice")
        return entries

    # -- small checks ----------------------------------------------------------------------

    def _no_unknown(self, key: str, table: Any, allowed: frozenset[str]) -> None:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table")
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                key, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )

    def _string(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        return value

    def _strings(self, key: str, value: Any) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.fail(key, f"must be a string or a list of strings, not {value!r}")
        return tuple(values)

    def _language(self, key: str, value: Any) -> str | None:
        if value is None:
            return None
        code = language(self._string(key, value)).value
        if code is None:
            raise self.fail(key, f"unknown language {value!r}")
        return code

    def _reader(self, fmt: str, table: Any) -> dict[str, Any]:
        if fmt == "csv":  # the CSV reader's own schema (mappings.csv_options), checked once
            try:
                CsvOptions.from_reader(table)
            except ReaderOptionError as exc:
                key = "reader" if exc.option is None else f"reader.{exc.option}"
                raise self.fail(key, exc.problem) from None
            return dict(table)
        checks = getattr(self.language, "reader_checks", {})
        self._no_unknown("reader", table, frozenset(checks))
        for key, value in table.items():
            problem = checks[key](value)
            if problem:
                raise self.fail(f"reader.{key}", problem)
        return dict(table)

    def _target(self, path: str) -> Target:
        if path in GROUPS and path not in TARGETS:
            raise self.fail(
                f"fields.{path}", f"is a group: give its sub-fields in [fields.{path}.fields.<name>]"
            )
        if path not in TARGETS:
            known = ", ".join([*TARGETS, *(f"{g} (group)" for g in GROUPS)])
            raise self.fail(f"fields.{path}", f"unknown target field; known: {known}")
        return TARGETS[path]

    # -- rules -----------------------------------------------------------------------------

    def _rules(self, key: str, target: Target, entry: Any) -> tuple[FieldRule, ...]:
        entries = entry if isinstance(entry, list) else [entry]
        if not entries:
            raise self.fail(key, "needs at least one entry")
        return tuple(
            self._rule(key + (f"[{i}]" if len(entries) > 1 else ""), target, e) for i, e in enumerate(entries)
        )

    # -- namespaces and groups -------------------------------------------------------------

    def _namespaces(self, table: Any) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.fail("namespaces", "must be a table of prefix = namespace IRI")
        for prefix, iri in table.items():
            if not isinstance(iri, str) or not iri:
                raise self.fail(f"namespaces.{prefix}", f"must be a namespace IRI, not {iri!r}")
        return dict(table)

    def _configure(self, namespaces: dict[str, str], reader: dict[str, Any]) -> None:
        configure = getattr(self.language, "configure", None)
        if configure is None:
            if namespaces:
                raise self.fail("namespaces", f"{self.language.media_type} selectors take no namespaces")
            return
        try:
            self.language = configure(MappingProxyType(namespaces), MappingProxyType(reader))
            located = getattr(self.language, "located", None)  # files the reader names, next to the spec
            if located is not None:
                self.language = located(self.path.parent)
        except ValueError as exc:
            raise self.fail("namespaces/reader", str(exc)) from exc

    @staticmethod
    def _is_group(path: str, entry: Any) -> bool:
        """A group entry is a table with `fields` or `each` (or a list of such tables)."""
        first = entry[0] if isinstance(entry, list) and entry else entry
        return path in GROUPS and isinstance(first, dict) and ("fields" in first or "each" in first)

    def _no_mixing(self, groups: list[tuple[Group, tuple[GroupRule, ...]]], fields: dict[str, Any]) -> None:
        for group, _ in groups:
            flat = [p for p in group.flat if p in fields and not self._is_group(p, fields[p])]
            entries = fields[group.path]
            if flat or (
                isinstance(entries, list) and not all(self._is_group(group.path, [e]) for e in entries)
            ):
                names = ", ".join(flat or [group.path])
                raise self.fail(
                    f"fields.{group.path}", f"use either the group (fields/each) or the flat field(s) {names}"
                )

    def _group_rules(self, path: str, entry: Any) -> tuple[GroupRule, ...]:
        entries = entry if isinstance(entry, list) else [entry]
        return tuple(
            self._group_rule(f"fields.{path}" + (f"[{i}]" if len(entries) > 1 else ""), GROUPS[path], e)
            for i, e in enumerate(entries)
        )

    def _group_rule(self, key: str, group: Group, table: Any) -> GroupRule:
        self._no_unknown(key, table, _GROUP_KEYS)
        each = source = None
        if "each" in table:
            expression = self._string(f"{key}.each", table["each"])
            compile_nodes = getattr(self.language, "compile_nodes", None)
            if compile_nodes is None:
                raise self.fail(
                    f"{key}.each",
                    f"{self.language.media_type} items have no sub-nodes to repeat over; "
                    "leave out `each` (one group from the record) or use the flat fields",
                )
            try:
                each = compile_nodes("each", expression)
            except ValueError as exc:
                raise self.fail(f"{key}.each", str(exc)) from exc
            source = f"each {expression!r}"
            self.uses.append(SelectorUse(expression, nodes=True))
        subs = table.get("fields")
        if not isinstance(subs, dict) or not subs:
            raise self.fail(f"{key}.fields", f"needs sub-fields: {', '.join(group.fields)}")
        compiled = []
        self._each = table.get("each")
        try:
            for name, sub in subs.items():
                if name not in group.fields:
                    raise self.fail(
                        f"{key}.fields.{name}", f"unknown sub-field; known: {', '.join(group.fields)}"
                    )
                compiled.append(
                    (group.fields[name], self._rules(f"{key}.fields.{name}", group.fields[name], sub))
                )
        finally:
            self._each = None
        return GroupRule(
            group=group,
            source=source,
            each=each,
            fields=tuple(compiled),
            required=self._bool(f"{key}.required", table.get("required", False)),
            fallback=self._bool(f"{key}.fallback", table.get("fallback", False)),
        )

    def _selector_keys(self) -> frozenset[str]:
        return frozenset(self.language.keys) | {k + "s" for k in self.language.keys}

    def _selectors(self, key: str, table: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Select, ...]]:
        sources: list[str] = []
        selectors: list[Select] = []
        for name in self.language.keys:
            for expression in self._strings(f"{key}.{name}", table[name]) if name in table else ():
                sources.append(f"{name} {expression!r}")
                selectors.append(self._compile_selector(f"{key}.{name}", name, expression))
            for expression in (
                self._strings(f"{key}.{name}s", table[name + "s"]) if name + "s" in table else ()
            ):
                sources.append(f"{name} {expression!r}")
                selectors.append(self._compile_selector(f"{key}.{name}s", name, expression))
        return tuple(sources), tuple(selectors)

    def _compile_selector(self, key: str, name: str, expression: str) -> Select:
        try:
            compiled = self.language.compile(name, expression)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from exc
        self.uses.append(SelectorUse(expression, each=self._each))
        return compiled

    def _rule(self, key: str, target: Target, table: Any) -> FieldRule:
        self._no_unknown(key, table, _RULE_KEYS | self._selector_keys())
        sources, selectors = self._selectors(key, table)
        constant = self._strings(f"{key}.constant", table["constant"]) if "constant" in table else None
        if bool(selectors) == (constant is not None):
            raise self.fail(
                key, f"give either a selector ({', '.join(sorted(self._selector_keys()))}) or a constant"
            )
        steps, whole, names, args = self._steps(key, target, table, constant is not None)
        lang = self._language(f"{key}.lang", table.get("lang"))
        if lang and target.kind not in ("text", "texts"):
            raise self.fail(
                f"{key}.lang", f"only text fields take a language; {target.path} is {target.kind}"
            )
        return self._compiled(
            target=target.path,
            sources=sources,
            selectors=selectors,
            constant=constant,
            join=self._string(f"{key}.join", table["join"]) if "join" in table else None,
            split=self._split(key, table),
            template=self._template(key, table, len(selectors)),
            mapping=self._mapping(f"{key}.map", table.get("map")),
            steps=steps,
            default=self._strings(f"{key}.default", table["default"]) if "default" in table else None,
            lang=lang,
            required=self._bool(f"{key}.required", table.get("required", False)),
            fallback=self._bool(f"{key}.fallback", table.get("fallback", False)),
            whole=whole,
            transforms=names,
            args=MappingProxyType(args),
        )

    def _id_rule(self, table: Any) -> FieldRule:
        self._no_unknown("id", table, _ID_KEYS | self._selector_keys())
        sources, selectors = self._selectors("id", table)
        if not selectors:
            raise self.fail("id", f"needs a selector ({', '.join(sorted(self._selector_keys()))})")
        identity = Target("id", "code", None)
        steps, whole, _, _ = self._steps("id", identity, table, False)
        return self._compiled(
            target="id",
            sources=sources,
            selectors=selectors,
            join=self._string("id.join", table.get("join", "|")),
            template=self._template("id", table, len(selectors)),
            mapping=self._mapping("id.map", table.get("map")),
            steps=steps,
            whole=whole,
        )

    @staticmethod
    def _compiled(**parts: Any) -> FieldRule:
        rule = FieldRule(**parts)
        return replace(rule, run=compile_runner(rule))

    def _bool(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def _split(self, key: str, table: dict[str, Any]) -> str | None:
        if "split" not in table:
            return None
        separator = self._string(f"{key}.split", table["split"])
        if not separator:
            raise self.fail(f"{key}.split", "the separator cannot be empty")
        return separator

    def _template(self, key: str, table: dict[str, Any], selectors: int) -> str | None:
        if "template" not in table:
            return None
        template = self._string(f"{key}.template", table["template"])
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        except ValueError as exc:
            raise self.fail(f"{key}.template", str(exc)) from exc
        allowed = {"value", *map(str, range(selectors))}
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise self.fail(
                f"{key}.template", f"placeholders must be {{value}} or {{0}}..{{{selectors - 1}}}"
            )
        return template

    def _mapping(self, key: str, table: Any) -> Mapping[str, tuple[str, ...]] | None:
        if table is None:
            return None
        if not isinstance(table, dict) or not table:
            raise self.fail(key, "must be a non-empty table of published value = normalised value")
        compiled: dict[str, tuple[str, ...]] = {}
        for published, normalised in table.items():
            if isinstance(normalised, bool) or not isinstance(normalised, str | int | float | list):
                raise self.fail(
                    f"{key}.{published}", f"map values are strings, numbers or lists, not {normalised!r}"
                )
            values = normalised if isinstance(normalised, list) else [normalised]
            folded = fold(published)
            if folded in compiled:
                raise self.fail(f"{key}.{published}", "duplicate key (keys match case-insensitively)")
            compiled[folded] = tuple(str(v) for v in values)
        return MappingProxyType(compiled)

    def _steps(
        self, key: str, target: Target, table: dict[str, Any], constant: bool
    ) -> tuple[tuple[Step, ...], bool, tuple[str, ...], dict[str, Any]]:
        """The bound transform chain, whether it reads the selection whole, the transform names
        and the arguments the spec sets."""
        names = self._strings(f"{key}.transform", table["transform"]) if "transform" in table else None
        if names is None:
            names = (target.default_transform,) if target.default_transform else ()
            if target.kind == "workload" and target.default_transform is None:
                raise self.fail(key, "workload needs a transform (e.g. effort_hours, ects, hours)")
        defs = [self._transform(f"{key}.transform", n) for n in names]
        args = self._args(f"{key}.args", table.get("args", {}), defs)
        self._check_chain(key, target, defs, table, constant)
        steps = tuple(_bind(d, args) for d in defs)
        return steps, bool(defs) and defs[0].reads == "slots", tuple(names), args

    def _transform(self, key: str, name: str) -> TransformDef:
        if name not in REGISTRY:
            raise self.fail(key, f"unknown transform {name!r}; known: {', '.join(sorted(REGISTRY))}")
        return REGISTRY[name]

    def _args(self, key: str, table: Any, defs: list[TransformDef]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table")
        accepted = frozenset().union(*(d.arg_names for d in defs)) if defs else frozenset()
        unknown = sorted(set(table) - accepted)
        if unknown:
            raise self.fail(
                key, f"unknown argument(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
            )
        args = {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in table.items()}
        for d in defs:
            own = {k: v for k, v in args.items() if k in d.arg_names}
            problem = d.check(own) if d.check else None
            if problem:
                raise self.fail(key, f"{d.name}: {problem}")
        return args

    def _check_chain(
        self, key: str, target: Target, defs: list[TransformDef], table: dict[str, Any], constant: bool
    ) -> None:
        produced = "str"
        for i, d in enumerate(defs):
            if d.reads == "slots":
                if i or constant or any(k in table for k in ("join", "split", "template", "map", "default")):
                    raise self.fail(
                        f"{key}.transform",
                        f"{d.name} reads the selected values as a whole: it must come first, "
                        "with selectors and without join, split, template, map or default",
                    )
            elif d.reads != produced:
                raise self.fail(f"{key}.transform", f"{d.name} reads {d.reads} but gets {produced}")
            produced = d.returns
        if produced != target.value_type:
            raise self.fail(
                f"{key}.transform",
                f"{target.path} needs a {target.value_type} value, the transforms give {produced}",
            )


def _bind(definition: TransformDef, args: Mapping[str, Any]) -> Step:
    own = {k: v for k, v in args.items() if k in definition.arg_names}
    call: Callable[[Any], Result[Any]] = functools.partial(definition.fn, **own) if own else definition.fn
    if definition.cache:
        call = functools.lru_cache(maxsize=_CACHE_SIZE)(call)
    return Step(definition.name, call, definition.many)


PARAMETER_ARGS = ("framework", "currency", "hours_per_ects")
"""Source parameters that are transform arguments of the same name and meaning."""


@functools.lru_cache(maxsize=64)
def bind_parameters(spec: MappingSpec, parameters: SourceParameters) -> MappingSpec:
    """`spec` as a source with these parameters maps its feed; compiled once per (spec, parameters).

    A transform argument the spec does not set for a field takes the source parameter of that
    name (`framework` for eqf, `currency` for price, `hours_per_ects` for ects and
    estimate_ects); one the spec sets explicitly wins (the SCQF credit level of xcri-cap stays
    SCQF). The source's `language` replaces the spec's `default_language`, and its `country`
    is the provider's country when a record gives none. Raises ConfigurationError when a
    parameter does not suit a transform.
    """
    if parameters == SourceParameters():
        return spec
    values = {name: getattr(parameters, name) for name in PARAMETER_ARGS}
    given = {name: value for name, value in values.items() if value is not None}

    def rules(pairs: tuple[tuple[Target, tuple[FieldRule, ...]], ...]) -> Any:
        return tuple((target, tuple(_with_args(rule, given) for rule in found)) for target, found in pairs)

    groups = tuple(
        (group, tuple(replace(rule, fields=rules(rule.fields)) for rule in group_rules))
        for group, group_rules in spec.groups
    )
    return replace(
        spec,
        fields=rules(spec.fields),
        groups=groups,
        default_language=parameters.language or spec.default_language,
        default_country=parameters.country or spec.default_country,
    )


def _with_args(rule: FieldRule, given: Mapping[str, Any]) -> FieldRule:
    """The rule with the source's arguments its transforms accept and the spec left unset."""
    defs = [REGISTRY[name] for name in rule.transforms]
    extra = {k: v for k, v in given.items() if k not in rule.args and any(k in d.arg_names for d in defs)}
    if not extra:
        return rule
    args = {**extra, **rule.args}
    for d in defs:
        problem = d.check({k: v for k, v in args.items() if k in d.arg_names}) if d.check else None
        if problem:
            raise ConfigurationError(f"source parameters do not suit {rule.target} ({d.name}): {problem}")
    bound = replace(rule, steps=tuple(_bind(d, args) for d in defs))
    return replace(bound, run=compile_runner(bound))
