"""Request parameters from untrusted clients: bounded ids in paths, whole numbers, no NUL.

* `<int:...>` in a route is `BoundedInt`: ASCII digits only, at most 2**63 - 1 (the largest id
  a 64-bit column holds). Anything else does not match the route: a 404, instead of an
  OverflowError from the database driver (a 500).
* `whole_number` reads a numeric query parameter: ASCII digits only (``str.isdigit`` also
  accepts "²" and "٣", which ``int`` then refuses or reads), within bounds, else a 400
  (`QueryError`, the one error shape).
* `refuse_nul` (a before-request hook): a NUL character in a path parameter is a 404 (no
  catalogue object has such an id), in a query parameter or a submitted form field a 400. No
  column can hold a NUL (PostgreSQL refuses them outright, which the store reported as
  "database unavailable", a 503). `/oai` answers its own arguments in the protocol's XML
  (`catalogue.oai.protocol`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter, Map

from course_catalogue.search.errors import QueryError

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
PROTOCOL_PATHS = frozenset({"/oai"})
"""Paths that answer bad arguments in their own protocol (OAI-PMH errors are XML, HTTP 200)."""


class BoundedInt(IntegerConverter):
    """werkzeug's `int` converter limited to ASCII digits and 0..MAX_ID."""

    regex = r"[0-9]+"

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = 0, max: int | None = MAX_ID
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def whole_number(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """The parameter `name` as an int in low..high (`default` when absent or blank); QueryError
    for anything but ASCII digits (surrounding blanks allowed) or a value out of bounds."""
    raw = args.get(name, "").strip()
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise QueryError(f"{name} must be a whole number between {low} and {high}, not {raw[:40]!r}")
    return int(raw)


def refuse_nul() -> None:
    """Before-request hook: see the module docstring."""
    if request.path in PROTOCOL_PATHS:
        return
    view_args: dict[str, Any] = request.view_args or {}
    if any(isinstance(value, str) and "\x00" in value for value in view_args.values()):
        raise NotFound(description="No such resource: identifiers never contain a NUL character.")
    if _holds_nul(request.args.items(multi=True)):
        raise QueryError("query parameters must not contain a NUL character")
    if request.mimetype == "application/x-www-form-urlencoded" and _holds_nul(request.form.items(multi=True)):
        raise BadRequest(description="Form fields must not contain a NUL character.")


def _holds_nul(pairs: Any) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def install_converters(app: Flask) -> None:
    """Before any route is added: `<int:...>` becomes `BoundedInt`."""
    app.url_map.converters["int"] = BoundedInt


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
