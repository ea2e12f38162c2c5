"""Reading a pushed feed from a request: a raw body with a Content-Type, or a multipart file.

Each source format accepts a set of media types (415 otherwise). Size is capped twice: the
request's body stream (`web.bodies`) refuses one byte past MAX_CONTENT_LENGTH (= MAX_UPLOAD_BYTES)
whatever the transfer encoding, and the feed itself is checked against the limit (413 either way).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from flask import current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from course_catalogue.catalogue.sources import Source

_XML = frozenset({"application/xml", "text/xml"})
_RDF = frozenset(
    {"text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples", *_XML}
)
MEDIA_TYPES: dict[str, frozenset[str]] = {
    "csv": frozenset({"text/csv"}),
    "xcri-cap": _XML,
    "qdr-loq": _XML,
    "xml": _XML,
    "elm-rdf": _RDF,
    "rdf": _RDF | {"text/html", "application/json"},  # an HTML page's JSON-LD; JSON-LD served as JSON
    "jsonld-pages": frozenset({"text/plain", "application/xml", "text/xml"}),  # a listing of page URLs
    "json": frozenset({"application/json", "application/x-ndjson", "application/jsonl"}),
}
"""Media types a feed of each source format may be pushed as."""

_EXTENSIONS = {
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".ttl": "text/turtle",
    ".jsonld": "application/ld+json",
    ".rdf": "application/rdf+xml",
    ".nt": "application/n-triples",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/x-ndjson",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}
_UNTYPED = {"", "application/octet-stream"}  # what browsers send for an unknown extension


@dataclass(frozen=True)
class Upload:
    content: bytes
    media_type: str
    filename: str | None = None


def accepted(source: Source) -> list[str]:
    return sorted(MEDIA_TYPES.get(source.format, ()))


def _check_type(source: Source, media_type: str) -> None:
    if media_type not in MEDIA_TYPES.get(source.format, ()):
        raise UnsupportedMediaType(
            description=f"A {source.format} feed must be sent as one of {', '.join(accepted(source))} "
            f"(or as a multipart/form-data file upload), not {media_type or 'an untyped body'}."
        )


def _file_type(mimetype: str, filename: str | None) -> str:
    """A file part's type; browsers often send octet-stream, so fall back on the extension."""
    if mimetype not in _UNTYPED or not filename:
        return mimetype
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _EXTENSIONS.get(suffix) or mimetypes.guess_type(filename)[0] or mimetype


def read_feed(source: Source, field: str = "file") -> Upload:
    """The pushed feed of the current request. 415 for a type the source's format does not
    take (checked before the body is read), 413 when too large, 400 when empty or missing."""
    limit = int(current_app.config["MAX_UPLOAD_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(description=f"The feed is larger than the limit of {limit} bytes.")
    if request.mimetype == "multipart/form-data":
        part = request.files.get(field)
        if part is None or not part.filename:
            raise BadRequest(description=f"The multipart upload needs a file in the '{field}' field.")
        media_type = _file_type(part.mimetype, part.filename)
        _check_type(source, media_type)
        content, filename = part.read(), part.filename
    else:
        media_type = request.mimetype
        _check_type(source, media_type)
        content, filename = request.get_data(cache=False), None
    if len(content) > limit:
        raise RequestEntityTooLarge(description=f"The feed is larger than the limit of {limit} bytes.")
    if not content:
        raise BadRequest(description="The feed is empty.")
    return Upload(content, media_type, filename)
