"""Labels for synthetic sample data: which courses come from a source registered as made-up
(`catalogue.sources.is_synthetic`, e.g. the bundled first-run sample feed). The course page shows a
banner, result cards a badge and the API a `synthetic` field, so nobody takes them for real offers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from flask import Flask, current_app

from course_catalogue.catalogue.errors import StoreError
from course_catalogue.catalogue.sources import is_synthetic
from course_catalogue.services.runtime import get_services

log = logging.getLogger(__name__)

# Why a cache per app rather than a query per request: a search must not read the whole source
# registry on every request (thousands of sources in a registry), and a source's synthetic mark
# changes only when an operator registers it. Thirty seconds bounds how long a change goes unseen.
SOURCES_TTL = 30.0


def synthetic_sources() -> frozenset[str]:
    """Ids of the registered sources marked synthetic (cached per app for SOURCES_TTL seconds).

    A store that cannot be read gives no ids (a warning in the log): labels are lost for that
    moment, but search, which answers from the index, keeps working.
    """
    cached: tuple[float, frozenset[str]] | None = current_app.extensions.get("synthetic_sources")
    now = time.monotonic()
    if cached is not None and now - cached[0] < SOURCES_TTL:
        return cached[1]
    try:
        ids = frozenset(s.id for s in get_services().store.list_sources() if is_synthetic(s))
    except StoreError as exc:
        log.warning("synthetic sources unknown (store unavailable): %s", exc)
        return frozenset()
    current_app.extensions["synthetic_sources"] = (now, ids)
    return ids


def synthetic_courses(course_ids: Iterable[str]) -> set[str]:
    """Those of `course_ids` that are synthetic sample data (no store query when no source is)."""
    sources = synthetic_sources()
    if not sources:
        return set()
    return get_services().store.courses_from(set(course_ids), sources)


def init_app(app: Flask) -> None:
    """`synthetic_courses(ids)` for templates: a result list asks once for all its cards."""
    app.jinja_env.globals["synthetic_courses"] = synthetic_courses
