"""A JSON-LD document's top-level `@graph` read node by node, for the RDF reader's spooled path.

A JSON-LD feed is one JSON document: read whole, a 226 MB feed is a few gigabytes of Python
objects before the RDF parser sees it. The common shape of a large feed, one object holding a
`@context` and a `@graph` list of node objects, can be read a node at a time instead (ijson over
the bytes) and handed to the RDF parser in chunks of nodes, each chunk a document
`{"@context": <the same context>, "@graph": [<nodes>]}`. That gives the same triples as the whole
document: the context is the one the whole document's nodes are expanded with; a labelled blank
node (`"_:b0"`) keeps its label across chunks (pyoxigraph keeps labels unless told to rename
them), and an unlabelled one gets a fresh random label per parse in either case.

`GraphStream` accepts exactly that shape: a top-level object whose keys are `@context` (optional,
first) and `@graph` (a list), nothing else. Any other shape (a top-level list, a single node, a
`@graph` before its `@context`, another top-level key such as a named graph's `@id`) raises
`NotStreamable` with the reason, possibly only after the last node (a key after `@graph`): the
caller has consumed nothing irrevocable by then (every triple is indexed before a record is cut)
and reads the document whole instead.

Limits, as the whole-document reader applies them: nesting deeper than `max_depth` levels (the
top-level object is level 1) is a ParseError as soon as the parser reaches it (ijson's event
prefixes grow with the depth, so a deeper document is never built); a JSON syntax error, bytes
that are not UTF-8 and lone surrogate escapes (`"\\ud800"`, which the parser would silently turn
into "?") are ParseErrors. Memory: one chunk of nodes and its parse, whatever the document's size
(a single huge node is held whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.harvesters.base import Feed, MappedFeed, feed_stream

CHUNK_NODES = 1000
"""Top-level `@graph` nodes per document handed to the RDF parser (the context is processed once
per chunk: ~0.1% of a chunk's parse for ELM's context)."""

_EVENT = tuple[str, str, Any]
_SURROGATE = re.compile(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")  # a literal prefix: searched at C speed
_LOW = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


_BREAK = re.compile(rb"[^\\uU0-9a-fA-F]")  # a byte no surrogate escape (or backslash run) holds
_SCAN_BYTES = 8 << 20


class NotStreamable(Exception):
    """The document's shape does not allow reading it node by node; the message says why."""


def lone_surrogate(data: Feed) -> bool:
    """Whether a string of the JSON document escapes a lone UTF-16 surrogate (a high one without
    its low one, or a low one alone). A C-speed search for `\\uD800`-`\\uDFFF` over windows of
    the bytes, each cut just after a byte that no escape is made of (so no escape or run of
    backslashes is split); the pages of a mapped feed are released as it goes (touched whole, they
    would all count in the resident set)."""
    size, start, released = len(data), 0, 0
    try:
        while start < size:
            cut = _BREAK.search(data, min(size, start + _SCAN_BYTES))
            end = cut.end() if cut is not None else size
            if _lone_in(data[start:end]):
                return True
            start = end
            if isinstance(data, MappedFeed) and start >= released + _SCAN_BYTES * 4:
                data.release()
                released = start
        return False
    finally:
        if isinstance(data, MappedFeed):
            data.release()


def _lone_in(window: bytes) -> bool:
    paired_until = 0  # the end of the last low surrogate that completed a pair
    for match in _SURROGATE.finditer(window):
        at = match.start()
        if at < paired_until:
            continue
        backslashes = 0
        while at - backslashes > 0 and window[at - backslashes - 1] == 0x5C:
            backslashes += 1
        if backslashes % 2:
            continue  # "\\\\uD800": an escaped backslash, then the text "uD800"
        if match.group(1) in b"cdefCDEF":
            return True  # a low surrogate not right after a high one
        low = _LOW.match(window, match.end())
        if low is None:
            return True
        paired_until = low.end()
    return False


class GraphStream:
    """The `@context` of a document of the accepted shape (see the module docstring), read on
    construction, and its `@graph` nodes in chunks (`chunks()`, once). NotStreamable or
    ParseError as the module docstring says."""

    def __init__(self, data: Feed, max_depth: int) -> None:
        source: BinaryIO = feed_stream(data)
        if data.startswith(b"\xef\xbb\xbf"):
            source.read(3)
        self._max_depth = max_depth
        self._events = self._checked(ijson.parse(source, use_float=True))
        self.context: Any = None
        self.has_context = False
        self._head()

    def chunks(self, size: int | None = None) -> Iterator[list[Any]]:
        """The `@graph` nodes, `size` (CHUNK_NODES) at a time, in document order."""
        size = size or CHUNK_NODES
        chunk: list[Any] = []
        try:
            for node in ijson.items(self._events, "@graph.item", use_float=True):
                chunk.append(node)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
        except ijson.JSONError as exc:
            raise ParseError(f"not valid JSON-LD: {_message(exc)}") from None
        except UnicodeDecodeError as exc:
            raise ParseError(f"not valid JSON-LD: {exc}") from None
        if chunk:
            yield chunk

    def _head(self) -> None:
        """Read up to the start of the `@graph` list, the `@context` on the way."""
        try:
            events = self._events
            prefix, event, value = next(events)
            if (prefix, event) != ("", "start_map"):
                raise NotStreamable("the document is not one JSON object")
            prefix, event, value = next(events)
            if event == "map_key" and value == "@context":
                self.context, self.has_context = self._value(events), True
                prefix, event, value = next(events)
            if event != "map_key" or value != "@graph":
                found = f"key {value!r}" if event == "map_key" else "its end"
                raise NotStreamable(f"the top-level object has {found} where @graph is expected")
            prefix, event, value = next(events)
            if event != "start_array":
                raise NotStreamable("the top-level @graph is not a list")
        except StopIteration:
            raise ParseError("not valid JSON-LD: the document ends early") from None
        except ijson.JSONError as exc:
            raise ParseError(f"not valid JSON-LD: {_message(exc)}") from None
        except UnicodeDecodeError as exc:
            raise ParseError(f"not valid JSON-LD: {exc}") from None

    @staticmethod
    def _value(events: Iterator[_EVENT]) -> Any:
        """The JSON value whose events come next (the `@context`: small)."""
        builder = ijson.ObjectBuilder()
        depth = 0
        for _, event, value in events:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            if depth == 0:
                return builder.value
        raise ParseError("not valid JSON-LD: the document ends early")

    def _checked(self, events: Iterator[_EVENT]) -> Iterator[_EVENT]:
        """The parser's events, refused past `max_depth` levels, and NotStreamable on a top-level
        key after `@graph` (the head reads the ones before it)."""
        depth, limit = 0, self._max_depth
        graph_seen = False
        for item in events:
            event = item[1]
            if event == "start_map" or event == "start_array":
                depth += 1
                if depth > limit:
                    raise ParseError(f"not valid JSON-LD: nested deeper than {limit} levels")
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif event == "map_key" and depth == 1:
                if graph_seen:
                    raise NotStreamable(f"the top-level object has key {item[2]!r} after @graph")
                graph_seen = item[2] == "@graph"
            yield item


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:300]
