"""Interactive API documentation: /api/v1/docs renders the OpenAPI document with Swagger UI.

The viewer comes from the PyPI package `swagger-ui-py` (Swagger UI 5, which reads OpenAPI 3.1),
served from our own origin under /vendor/swagger-ui/ (no CDN; the page's CSP allows only
'self'). Without JavaScript the page still lists every operation, server-rendered from the same
document, with a link to the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory
from flask.typing import ResponseReturnValue

from course_catalogue.web.apidoc import openapi_document

bp = Blueprint("api_docs", __name__)

# Only the files the page loads: the package also ships an editor and source maps we do not serve.
VIEWER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"})
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


@cache
def viewer_dir() -> Path:
    """The folder of the packaged Swagger UI build."""
    import swagger_ui  # imported late: only this page needs it

    return Path(swagger_ui.__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    needs_token: bool


def operations() -> list[Operation]:
    """Every documented operation, in the document's path order."""
    document = openapi_document()
    found = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = item[method]
            needs_token = bool(op.get("security", document.get("security")))
            tags = op.get("tags") or [""]
            found.append(Operation(method.upper(), path, op.get("summary", ""), tags[0], needs_token))
    return found


@bp.get("/api/v1/docs")
def docs() -> ResponseReturnValue:
    """The documentation page (Swagger UI over /api/v1/openapi.json; a plain list without JS)."""
    document = openapi_document()
    return render_template("api_docs.html", info=document["info"], operations=operations())


@bp.get("/vendor/swagger-ui/<name>")
def viewer(name: str) -> ResponseReturnValue:
    """A file of the bundled Swagger UI build."""
    if name not in VIEWER_FILES:
        abort(404)
    return send_from_directory(viewer_dir(), name, max_age=86400)
