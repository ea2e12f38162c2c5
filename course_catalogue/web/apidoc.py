"""The OpenAPI 3.1 document of /api/v1, merged from JSON fragments in `web/openapi/`.

`_base.json` holds `openapi`, `info`, `servers` and the shared components (the error shape,
common parameters and responses). Every other `*.json` file describes one surface (search,
courses, sources ...) with its own `paths`, `components` and `tags`, so each surface is
documented next to nothing else and new routes add a file instead of editing someone else's.
Merging refuses a path or component defined twice with different content (ConfigurationError),
so fragments cannot silently override each other. See /tmp/brief/OPENAPI.md.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from course_catalogue.catalogue.errors import ConfigurationError

FRAGMENTS = Path(__file__).resolve().parent / "openapi"
BASE = "_base.json"


def _merge_section(target: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for name, value in extra.items():
        if name in target and target[name] != value:
            raise ConfigurationError(f"OpenAPI fragments disagree on {where}/{name}")
        target[name] = value


def merge(base: dict[str, Any], fragments: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """`base` with the paths, components and tags of each (name, fragment) added."""
    document = json.loads(json.dumps(base))  # a deep copy
    document.setdefault("paths", {})
    components = document.setdefault("components", {})
    tags = document.setdefault("tags", [])
    for name, fragment in fragments:
        unknown = set(fragment) - {"paths", "components", "tags", "x-fragment"}
        if unknown:
            raise ConfigurationError(f"OpenAPI fragment {name} has unsupported keys {sorted(unknown)}")
        _merge_section(document["paths"], fragment.get("paths", {}), f"{name}: paths")
        for section, entries in fragment.get("components", {}).items():
            _merge_section(components.setdefault(section, {}), entries, f"{name}: components/{section}")
        known = {tag["name"] for tag in tags}
        tags.extend(tag for tag in fragment.get("tags", []) if tag["name"] not in known)
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


@cache
def openapi_document(folder: Path = FRAGMENTS) -> dict[str, Any]:
    """The merged document (read once per process)."""
    base = json.loads((folder / BASE).read_text(encoding="utf-8"))
    fragments = [
        (path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.json"))
        if path.name != BASE
    ]
    return merge(base, fragments)
