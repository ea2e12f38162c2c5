"""Shared helpers for the registry tests: courses with chosen fields, published through the store and
the eligibility sink, so eligibility follows exactly as it does after a real harvest."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from course_catalogue.catalogue.changes import Candidate, ChangeSink, HarvestDiff
from course_catalogue.catalogue.codec import content_hash
from course_catalogue.catalogue.model import (
    Course,
    Organisation,
    Price,
    Provenance,
    Workload,
    course_id,
    lang_text,
)
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from tests.store_writes import apply_harvest

SOURCE = "reg-src"


def make_course(ref: str, source_id: str = SOURCE, **fields: Any) -> Course:
    """A course with sensible defaults (EQF 5, 5 ECTS, QA stated, 100 EUR, provider in FRA)."""
    course = Course(
        id=course_id(source_id, ref),
        title=lang_text({"en": f"Course {ref}"}),
        provider=Organisation(name=lang_text({"en": "Uni Zed"}), country="FRA"),
        provenance=Provenance(source_id=source_id, provider_ref=ref, harvested_at=datetime.now(UTC)),
        eqf_level=5,
        workload=Workload(ects=Decimal("5")),
        quality_assurance=lang_text({"en": "Accredited by HCERES"}),
        price=Price(Decimal("100"), "EUR"),
        languages=("en", "fr"),
    )
    return replace(course, **fields)


def candidate(course: Course) -> Candidate:
    raw = json.dumps({"id": course.id, "hash": content_hash(course)}).encode()
    return Candidate(course=course, content_hash=content_hash(course), raw=raw, media_type="application/json")


def ensure_source(store: CatalogueStore, source_id: str = SOURCE) -> None:
    store.save_source(Source(source_id, "csv", name="Registry test source"))


def publish(
    store: CatalogueStore,
    courses: Mapping[str, Mapping[str, Any]] | Sequence[Course],
    sinks: Sequence[ChangeSink] = (),
    *,
    complete: bool = True,
    source_id: str = SOURCE,
) -> HarvestDiff:
    """One harvest of the given courses (ref -> fields, or Course objects), then the sinks."""
    ensure_source(store, source_id)
    made = (
        [make_course(ref, source_id, **fields) for ref, fields in courses.items()]
        if isinstance(courses, Mapping)
        else list(courses)
    )
    report = store.start_run(source_id)
    diff = apply_harvest(
        store,
        report,
        [candidate(c) for c in made],
        seen_refs={c.provenance.provider_ref for c in made},
        complete=complete,
        max_withdraw_share=None,
    )
    store.finish_run(report)
    for sink in sinks:
        sink.apply(diff.changed)
    return diff
