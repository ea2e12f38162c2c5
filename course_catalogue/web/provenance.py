"""Where values came from: provider originals beside normalised values, and a provider's feeds.

`differences` pairs each value the provider wrote (`Course.originals`) with what we publish, so
the course page can show both where normalisation changed something. `provider_feeds` finds the
sources that feed some courses and the latest run report of each, with the issues that concern
those courses: what a provider can act on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.model import Course
from course_catalogue.catalogue.runs import Issue, RunReport, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore

MAX_ISSUES = 200


@dataclass(frozen=True)
class Original:
    """One provider value: the field path, what the feed said, what we publish (None: dropped)."""

    field: str
    original: str
    published: str | None

    @property
    def changed(self) -> bool:
        return self.published is None or self.published.strip() != self.original.strip()


def _published(data: Any, path: str) -> str | None:
    """The value at a dotted path of the course dict ("workload.ects"), rendered as text."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    if data is None or data in ({}, []):
        return None
    if isinstance(data, dict):
        return "; ".join(str(v) for v in data.values() if v not in (None, "", [], {}))
    if isinstance(data, list):
        return ", ".join(str(v) for v in data)
    return str(data)


def differences(course: Course) -> list[Original]:
    """Every original value with the published one, changed ones first."""
    data = course_to_dict(course)
    pairs = [
        Original(name, value, _published(data, name)) for name, value in sorted(course.originals.items())
    ]
    return sorted(pairs, key=lambda o: not o.changed)


@dataclass(frozen=True)
class Feed:
    """A source feeding a provider's courses and its latest run, with the issues about them."""

    source: Source
    run: RunReport | None
    issues: tuple[Issue, ...]
    issues_total: int
    by_severity: tuple[tuple[str, int], ...] = ()
    """(severity, count) of every issue about the provider's records, most severe first: the
    public provider page shows this summary; the issues themselves are on the run report."""


def provider_feeds(store: CatalogueStore, course_ids: Iterable[str]) -> list[Feed]:
    """The feeds of `course_ids` (courses of one provider) and their latest runs."""
    refs: dict[str, set[str]] = {}
    for course_id in course_ids:
        try:
            prov = store.get_course(course_id).course.provenance
        except NotFound:  # withdrawn or replaced since the index was read
            continue
        refs.setdefault(prov.source_id, set()).add(prov.provider_ref)
    feeds = []
    for source_id, provider_refs in sorted(refs.items()):
        try:
            source = store.get_source(source_id)
        except NotFound:
            continue
        runs = store.list_runs(source_id, limit=1, include_dry_runs=False)  # a public page
        run = store.get_run(runs[0].run_id) if runs and runs[0].run_id is not None else None
        issues = _concerning(run.issues if run else (), provider_refs)
        counts = Counter(i.severity.value for i in issues)
        ordered = tuple((s.value, counts[s.value]) for s in Severity if counts[s.value])
        feeds.append(Feed(source, run, tuple(issues[:MAX_ISSUES]), len(issues), ordered))
    return feeds


def _concerning(issues: Sequence[Issue], refs: set[str]) -> list[Issue]:
    return [i for i in issues if i.record_ref in refs]
