"""Labels for synthetic sample data: which courses come from a source registered as made-up
(`catalogue.sources.is_synthetic`, e.g. the bundled first-run sample feed). The course page shows a
banner, result cards a badge and the API a `synthetic` field, so nobody takes them for real offers.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, g

from course_catalogue.catalogue.sources import is_synthetic
from course_catalogue.services.runtime import get_services


def synthetic_sources() -> frozenset[str]:
    """Ids of the registered sources marked synthetic, read once per request."""
    cached: frozenset[str] | None = g.get("synthetic_sources")
    if cached is None:
        cached = frozenset(s.id for s in get_services().store.list_sources() if is_synthetic(s))
        g.synthetic_sources = cached
    return cached


def synthetic_courses(course_ids: Iterable[str]) -> set[str]:
    """Those of `course_ids` that are synthetic sample data (no store query when no source is)."""
    sources = synthetic_sources()
    if not sources:
        return set()
    return get_services().store.courses_from(set(course_ids), sources)


def init_app(app: Flask) -> None:
    """`synthetic_courses(ids)` for templates: a result list asks once for all its cards."""
    app.jinja_env.globals["synthetic_courses"] = synthetic_courses
