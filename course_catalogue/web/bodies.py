"""Request bodies: one byte-counting limit for every body, and JSON bodies read strictly.

**Size.** Every body the app reads (raw feeds, multipart uploads, forms, JSON) comes through
`request.stream`, which `CatalogueRequest` replaces with a `CountedStream`: it counts the bytes
actually read and raises 413 (`RequestEntityTooLarge`, answered in the one error shape) as soon
as one byte more than the limit (`MAX_CONTENT_LENGTH` = `MAX_UPLOAD_BYTES`) has been read,
whatever the transfer encoding. A declared Content-Length over the limit is refused before
reading. Werkzeug's own guard is not used: for a body without Content-Length (chunked) it
stops reading *at* the limit without an error, so a chunked feed over the limit arrived cut
and was processed as if complete (issue 22, class 1). Servers that do not say they terminate
the input (`wsgi.input_terminated`) and send no Content-Length still give an empty body, as
werkzeug does: an unbounded stream is never read.

**JSON.** `request.get_json()` parses with `strict_loads`: orjson (nesting deeper than 1024
levels, lone UTF-16 surrogates such as ``"\\ud800"``, invalid UTF-8 and NaN are errors), and no
NUL character in any string or key (no database column can hold one). Such a body is a 400 like
any other malformed JSON instead of a RecursionError or an encoding error later (a 500).
`json_object()` is what the API's write routes read their body with.
"""

from __future__ import annotations

import io
from typing import IO, Any

import orjson
from flask import Request, json, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream


def too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(description=f"The request body is larger than the limit of {limit} bytes.")


class CountedStream(io.RawIOBase):
    """A readable stream over `stream` that raises `too_large(limit)` once more than `limit`
    bytes have been read from it. It reads at most one byte past the limit, so the check
    does not depend on the client telling the size in advance."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._read = 0
        self.limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._read > self.limit:
            raise too_large(self.limit)
        wanted = min(len(buffer), self.limit + 1 - self._read)
        data = self._stream.read(wanted)
        size = len(data)
        buffer[:size] = data
        self._read += size
        if self._read > self.limit:
            raise too_large(self.limit)
        return size


class _StrictJson:
    """The `json_module` of `CatalogueRequest`: strict parsing, Flask's encoder."""

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        return strict_loads(data)

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        return json.dumps(value, **kwargs)


def strict_loads(data: str | bytes) -> Any:
    """Parse untrusted JSON text; ValueError (with the reason) for anything orjson refuses (see
    the module docstring) and for a NUL character in a string or key."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    if _holds_nul(value):
        raise ValueError("a string holds a NUL character (U+0000)")
    return value


def _holds_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            if "\x00" in current:
                return True
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False


class CatalogueRequest(Request):
    """Flask's request with the body limit of `CountedStream` and strict JSON (module docstring)."""

    @property
    def json_module(self) -> Any:
        return _StrictJson

    @json_module.setter
    def json_module(self, value: Any) -> None:
        # Flask assigns the app's JSON provider to every request (flask.ctx); request bodies
        # are untrusted, so they are always parsed by `strict_loads` instead.
        pass

    @cached_property
    def stream(self) -> IO[bytes]:
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True': its body cannot be read.")
        limit = self.max_content_length
        if limit is not None and self.content_length is not None and self.content_length > limit:
            raise too_large(limit)
        # Bounded by Content-Length, or the server-terminated stream, or empty (never unbounded).
        raw = get_input_stream(self.environ, max_content_length=None)
        if limit is None:
            return raw
        counted: IO[bytes] = CountedStream(raw, limit)  # type: ignore[assignment]  # a RawIOBase is a binary IO
        return counted

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise BadRequest(description="The request body must be JSON (Content-Type: application/json).")
        raise BadRequest(description=f"The request body is not valid JSON: {e}")


def json_object(*, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request's JSON object body; 400 (with the reason) when it is not JSON, not strictly
    valid, or not an object. An empty body gives `empty` when one is given."""
    if empty is not None and not request.get_data():
        return empty
    data = request.get_json()
    if not isinstance(data, dict):
        raise BadRequest(description="The request body must be a JSON object.")
    return data
