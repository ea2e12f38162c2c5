"""What an XPath 1.0 selector reads: its location paths rewritten as node-set "probes".

The coverage report (`mappings.coverage`) must know which nodes of a record a spec's selectors
read, and a selector is arbitrary XPath 1.0: `concat(...)`, predicates, unions, `ancestor::`
axes. Evaluating the selector only gives its result (a string, for `concat`), so this module
parses the expression (`parse`) and derives, once per spec, node-set expressions ("probes")
whose nodes the selector reads:

* a location path whose string value is used (the selector's own result, an argument of a string
  or number function, an operand of a comparison or of arithmetic) is a probe;
* the location paths a predicate compares or passes to a function are probes from the
  predicate's candidates, the nodes of its step: in `mlo:credit[credit:scheme = 'ECTS']/
  credit:value` the scheme of every credit is read, `(child::mlo:credit)/child::credit:scheme`;
* a location path only tested for existence (`not(x)`, `boolean(x)`, a predicate `[x]`, an
  `and` / `or` operand, `count(x)`) or for its name (`self::x`, `name(x)`) reads no value;
* a group's sub-field selectors are probes from the group's `each` nodes: `(each)/sub`.

What a rule points at, and what it takes: a predicate that tests values or the existence of
other nodes (`[credit:scheme = 'ECTS']`, `[not(@dtf)]`) decides, record by record, which of the
nodes the rule points at it takes; a probe leaves such predicates out, so it selects every node
the rule points at (every credit value, every `mlo:start`), and the predicate's own reads are
probes of their own. Only predicates that say where the rule points stay in a probe: positions
(`[1]`, `[last()]`) and name tests (`*[self::dc:description or self::dcterms:description]`).
So a spec's coverage does not depend on which alternative each record happened to take.

Limits (stated, not hidden): a filter expression whose primary is not a location path
(`id(...)`, a variable) gives no probe of its own nodes; extension functions are taken to read
their arguments' values; `lang()` reads no value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# -- syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    axis: str  # "child", "attribute", "self", "parent", "descendant-or-self", ...
    test: str  # "name", "p:name", "p:*", "*", "node()", "text()", ...
    predicates: tuple[Expr, ...] = ()

    def text(self, predicates: int | None = None) -> str:
        """The step with its first `predicates` predicates (None: all) that say where it points."""
        kept = self.predicates if predicates is None else self.predicates[:predicates]
        return f"{self.axis}::{self.test}" + "".join(f"[{render(p)}]" for p in kept if _locates(p))


@dataclass(frozen=True)
class Path:
    """A location path, or a filter expression followed by steps.

    `start`: "" (relative), "/" (absolute) or a filter expression (`(a | b)[1]`); `steps` are
    (separator, step) pairs, the separator "/" or "//" (the first one ignored when relative)."""

    start: str | Filter
    steps: tuple[tuple[str, Step], ...]


@dataclass(frozen=True)
class Filter:
    primary: Expr
    predicates: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Union:
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Neg:
    operand: Expr


@dataclass(frozen=True)
class Atom:
    """A literal, number or variable reference, as written."""

    text: str
    number: bool = False


Expr = Path | Filter | Call | Binary | Union | Neg | Atom

# -- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<literal>"[^"]*"|'[^']*')
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<op>//|::|\.\.|!=|<=|>=|[/()\[\]@,|+\-=<>*.$])
      | (?P<name>[A-Za-z_][\w.-]*(?::(?:[A-Za-z_][\w.-]*|\*))?)
    )""",
    re.VERBOSE,
)
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})
_OPERATOR_NAMES = frozenset({"and", "or", "div", "mod"})
# Functions whose node-set arguments are only counted, tested or named, never read for a value.
_NO_VALUE = frozenset({"not", "boolean", "count", "name", "local-name", "namespace-uri", "last", "position"})
# Functions that, called without arguments, take the string value of the context node.
_CONTEXT_VALUE = frozenset({"string", "string-length", "normalize-space", "number"})


def _tokens(expression: str) -> list[tuple[str, str]]:
    """(kind, text) tokens, with XPath 1.0's disambiguation (section 3.7): after a token that
    ends an operand, `*` is multiplication and `and`/`or`/`div`/`mod` are operators."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        if not expression[pos:].strip():
            break
        match = _TOKEN.match(expression, pos)
        if match is None or match.lastgroup is None:
            raise ValueError(f"cannot read the XPath at {expression[pos : pos + 20]!r}")
        kind, text = match.lastgroup, match.group(match.lastgroup)
        pos = match.end()
        previous = tokens[-1] if tokens else None
        operand_ended = previous is not None and not (
            previous[0] in ("op", "operator") and previous[1] not in (")", "]", ".", "..", "*")
        )
        if operand_ended and previous is not None and previous[1] in ("@", "::", "$"):
            operand_ended = False
        if (
            (kind == "op" and text == "*" and operand_ended)
            or (kind == "name" and operand_ended and text in _OPERATOR_NAMES)
            or (kind == "op" and text in ("=", "!=", "<", "<=", ">", ">=", "+", "-", "|"))
        ):
            kind = "operator"
        tokens.append((kind, text))
    return tokens


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def text(self, offset: int = 0) -> str | None:
        token = self.peek(offset)
        return None if token is None else token[1]

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ValueError("the XPath ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token[1] != text:
            raise ValueError(f"expected {text!r}, found {token[1]!r}")

    def parse(self) -> Expr:
        expr = self.expr()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos][1]!r}")
        return expr

    def expr(self) -> Expr:
        return self.binary(0)

    _LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))

    def binary(self, level: int) -> Expr:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (
            (token := self.peek()) is not None and token[0] == "operator" and token[1] in self._LEVELS[level]
        ):
            self.take()
            left = Binary(token[1], left, self.binary(level + 1))
        return left

    def unary(self) -> Expr:
        if self.peek() == ("operator", "-"):
            self.take()
            return Neg(self.unary())
        parts = [self.path_expr()]
        while self.peek() == ("operator", "|"):
            self.take()
            parts.append(self.path_expr())
        return parts[0] if len(parts) == 1 else Union(tuple(parts))

    def path_expr(self) -> Expr:
        token = self.peek()
        if token is None:
            raise ValueError("the XPath ends too early")
        kind, text = token
        if kind in ("literal", "number") or text in ("(", "$") or self._is_call():
            primary = self.primary()
            predicates = self.predicates()
            filtered = Filter(primary, predicates)
            if self.text() in ("/", "//"):
                return Path(filtered, self.relative(first_separator=self.take()[1]))
            return filtered if predicates else primary
        if text in ("/", "//"):
            self.take()
            if text == "/" and not self._starts_step():
                return Path("/", ())
            return Path("/", self.relative(first_separator=text))
        return Path("", self.relative(first_separator="/"))

    def _is_call(self) -> bool:
        token, after = self.peek(), self.text(1)
        return token is not None and token[0] == "name" and after == "(" and token[1] not in _NODE_TYPES

    def _starts_step(self) -> bool:
        token = self.peek()
        return token is not None and (token[0] == "name" or token[1] in (".", "..", "@", "*"))

    def primary(self) -> Expr:
        kind, text = self.take()
        if kind == "literal":
            return Atom(text)
        if kind == "number":
            return Atom(text, number=True)
        if text == "$":
            return Atom("$" + self.take()[1])
        if text == "(":
            inner = self.expr()
            self.expect(")")
            return Filter(inner)  # parenthesised: kept as a group when rendered
        self.expect("(")
        args: list[Expr] = []
        if self.text() != ")":
            args.append(self.expr())
            while self.text() == ",":
                self.take()
                args.append(self.expr())
        self.expect(")")
        return Call(text, tuple(args))

    def predicates(self) -> tuple[Expr, ...]:
        found = []
        while self.text() == "[":
            self.take()
            found.append(self.expr())
            self.expect("]")
        return tuple(found)

    def relative(self, first_separator: str) -> tuple[tuple[str, Step], ...]:
        steps = [(first_separator, self.step())]
        while self.text() in ("/", "//"):
            separator = self.take()[1]
            steps.append((separator, self.step()))
        return tuple(steps)

    def step(self) -> Step:
        text = self.text()
        if text == ".":
            self.take()
            return Step("self", "node()", self.predicates())
        if text == "..":
            self.take()
            return Step("parent", "node()", self.predicates())
        axis = "child"
        if text == "@":
            self.take()
            axis = "attribute"
        elif self.text(1) == "::":
            axis = self.take()[1]
            self.take()
        kind, name = self.take()
        if name == "*" or kind == "name":
            test = name
            if name in _NODE_TYPES and self.text() == "(":
                self.take()
                argument = self.take()[1] if self.text() != ")" else ""
                self.expect(")")
                test = f"{name}({argument})"
        else:
            raise ValueError(f"expected a step, found {name!r}")
        return Step(axis, test, self.predicates())


def parse(expression: str) -> Expr:
    """The syntax tree of an XPath 1.0 expression; ValueError when it cannot be read."""
    return _Parser(expression).parse()


# -- rendering -------------------------------------------------------------------------------


def render(expr: Expr, context: str | None = None) -> str:
    """`expr` as XPath text; with `context` (a node-set expression), its relative location paths
    start from those nodes instead of the context node."""
    if isinstance(expr, Atom):
        return expr.text
    if isinstance(expr, Neg):
        return f"-({render(expr.operand, context)})"
    if isinstance(expr, Binary):
        return f"({render(expr.left, context)}) {expr.op} ({render(expr.right, context)})"
    if isinstance(expr, Union):
        return " | ".join(render(part, context) for part in expr.parts)
    if isinstance(expr, Call):
        return f"{expr.name}({', '.join(render(arg, context) for arg in expr.args)})"
    if isinstance(expr, Filter):
        return _filter_text(expr, context, len(expr.predicates))
    return _path_text(expr, context, len(expr.steps), None)


def _filter_text(expr: Filter, context: str | None, predicates: int) -> str:
    kept = (p for p in expr.predicates[:predicates] if _locates(p))
    return f"({render(expr.primary, context)})" + "".join(f"[{render(p)}]" for p in kept)


_POSITION = frozenset({"position", "last"})


def _locates(predicate: Expr) -> bool:
    """Whether a predicate says where a path points (a position, a name test: kept in probes)
    rather than which of those nodes a record's values let through (left out of probes)."""
    if isinstance(predicate, Atom):
        return True
    if isinstance(predicate, Call):
        if predicate.name in _POSITION and not predicate.args:
            return True
        return predicate.name == "not" and len(predicate.args) == 1 and _locates(predicate.args[0])
    if isinstance(predicate, Binary):
        if predicate.op in ("and", "or"):
            return _locates(predicate.left) and _locates(predicate.right)
        return all(_positional(side) for side in (predicate.left, predicate.right))
    if isinstance(predicate, Path):
        return (
            predicate.start == ""
            and len(predicate.steps) == 1
            and predicate.steps[0][1].axis == "self"
            and not predicate.steps[0][1].predicates
        )
    return False


def _positional(expr: Expr) -> bool:
    if isinstance(expr, Atom):
        return True
    if isinstance(expr, Call):
        return expr.name in _POSITION and not expr.args
    if isinstance(expr, Binary) and expr.op not in ("and", "or"):
        return _positional(expr.left) and _positional(expr.right)
    return False


def _path_text(path: Path, context: str | None, steps: int, predicates: int | None) -> str:
    """The path's first `steps` steps, the last one with only its first `predicates` predicates
    (None: all), from `context` when the path is relative."""
    parts: list[str] = []
    if isinstance(path.start, Filter):
        parts.append(_filter_text(path.start, context, len(path.start.predicates)))
    elif path.start == "/":
        parts.append("")
    elif context is not None:
        parts.append(f"({context})")
    for index, (separator, step) in enumerate(path.steps[:steps]):
        kept = predicates if index == steps - 1 else None
        text = step.text(kept)
        if parts:
            parts.append(separator + text)
        else:
            parts.append(text)  # a relative path's first step
    text = "".join(parts)
    return text or "/"


# -- what is read ----------------------------------------------------------------------------

_VALUE, _EXISTS = "value", "exists"


@dataclass
class Probes:
    """The node-set expressions whose nodes a spec's selectors read, in the order found."""

    expressions: list[str] = field(default_factory=list)

    def add(self, expression: str) -> None:
        if expression not in self.expressions:
            self.expressions.append(expression)

    def selector(self, expression: str, context: str | None = None) -> None:
        """A selector whose result is taken as values (a field rule, an id rule, a sub-field)."""
        _reads(parse(expression), context, _VALUE, self)

    def nodes(self, expression: str, context: str | None = None) -> str:
        """A group's `each`: its predicates' reads; returns the node-set expression of the group's
        nodes, the context of its sub-field selectors."""
        tree = parse(expression)
        _reads(tree, context, _EXISTS, self)
        return render(tree, context)


def _reads(expr: Expr, context: str | None, mode: str, probes: Probes) -> None:
    """Add to `probes` what evaluating `expr` from `context` reads; `mode`: whether the value of
    a node-set `expr` stands for is taken (_VALUE) or only its existence (_EXISTS)."""
    if isinstance(expr, Atom):
        return
    if isinstance(expr, Neg):
        _reads(expr.operand, context, _VALUE, probes)
    elif isinstance(expr, Binary):
        inner = _EXISTS if expr.op in ("and", "or") else _VALUE
        _reads(expr.left, context, inner, probes)
        _reads(expr.right, context, inner, probes)
    elif isinstance(expr, Union):
        for part in expr.parts:
            _reads(part, context, mode, probes)
    elif isinstance(expr, Call):
        name = expr.name.rpartition(":")[2] if ":" in expr.name else expr.name
        inner = _EXISTS if name in _NO_VALUE else _VALUE
        if not expr.args and name in _CONTEXT_VALUE:
            probes.add(_here(context))
        for arg in expr.args:
            _reads(arg, context, inner, probes)
    elif isinstance(expr, Filter):
        _filter_reads(expr, context, mode, probes)
    else:
        _path_reads(expr, context, mode, probes)


def _here(context: str | None) -> str:
    return "self::node()" if context is None else f"({context})/self::node()"


def _filter_reads(expr: Filter, context: str | None, mode: str, probes: Probes) -> None:
    # The primary's own reads (a node-set's predicates; a function's arguments, whose values are
    # taken when the filter's is) ...
    nodes = _node_set(expr.primary)
    _reads(expr.primary, context, _EXISTS if nodes else mode, probes)
    # ... each predicate on the primary's nodes filtered by the predicates before it ...
    for index, predicate in enumerate(expr.predicates):
        _predicate_reads(predicate, _filter_text(expr, context, index), probes)
    # ... and the value of what it selects, when that is taken.
    if mode == _VALUE and nodes:
        probes.add(render(expr, context))


def _path_reads(path: Path, context: str | None, mode: str, probes: Probes) -> None:
    if isinstance(path.start, Filter):
        _filter_reads(path.start, context, _EXISTS, probes)
    for index, (_, step) in enumerate(path.steps):
        for number, predicate in enumerate(step.predicates):
            _predicate_reads(predicate, _path_text(path, context, index + 1, number), probes)
    if mode == _VALUE:
        probes.add(_path_text(path, context, len(path.steps), None))


def _predicate_reads(predicate: Expr, candidates: str, probes: Probes) -> None:
    if isinstance(predicate, Atom):
        return  # [1], [$n]: a position, nothing read
    _reads(predicate, candidates, _EXISTS, probes)


def _node_set(expr: Expr) -> bool:
    """Whether `expr` stands for a node-set (so its nodes can be a probe)."""
    if isinstance(expr, Path):
        return True
    if isinstance(expr, Union):
        return all(_node_set(part) for part in expr.parts)
    if isinstance(expr, Filter):
        return _node_set(expr.primary)
    return False
