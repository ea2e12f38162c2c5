"""A course as ELM for HTTP: which format a request asks for, and the response carrying it.

`negotiate` reads `?format=` first (json, jsonld, turtle: links and downloads need no headers),
then the Accept header; our JSON stays the default for `*/*` and for clients that name it.
Node IRIs of the graph are the course's public page URL (`/courses/<id>` on this host).
"""

from __future__ import annotations

import json

from flask import Request, Response, url_for

from course_catalogue.catalogue.elm import to_jsonld, to_turtle
from course_catalogue.catalogue.model import Course
from course_catalogue.search.errors import QueryError

JSON = "application/json"
JSONLD = "application/ld+json"
TURTLE = "text/turtle"
FORMATS = {"json": JSON, "jsonld": JSONLD, "turtle": TURTLE}
EXTENSIONS = {JSONLD: "jsonld", TURTLE: "ttl"}


def negotiate(request: Request) -> str:
    """The media type to answer with; QueryError (400) for an unknown `format` or parameter."""
    unknown = sorted(set(request.args) - {"format", "lang"})
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; parameters are format, lang")
    asked = request.args.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise QueryError(f"format must be one of {', '.join(FORMATS)}")
        return FORMATS[asked]
    best = request.accept_mimetypes.best_match([JSON, JSONLD, TURTLE], default=JSON)
    return best or JSON


def base_iri() -> str:
    """The IRI prefix of our course records: this host's course pages."""
    return url_for("ui.course", course_id="x", _external=True)[:-1]


def elm_response(course: Course, media_type: str) -> Response:
    """The course's ELM graph as JSON-LD or Turtle, offered as a download named after the id."""
    if media_type == JSONLD:
        body = json.dumps(to_jsonld(course, base_iri()), ensure_ascii=False, indent=1).encode()
    else:
        body = to_turtle(course, base_iri())
    # text/* gets "; charset=utf-8" from werkzeug; JSON-LD is UTF-8 by definition
    response = Response(body, mimetype=media_type)
    response.headers["Content-Disposition"] = f'inline; filename="{course.id}.{EXTENSIONS[media_type]}"'
    response.vary.add("Accept")
    return response
