"""Harvest runs and their reports: outcomes per record, item-level issues and source coverage.

Run-level problems (feed cannot be fetched or parsed) raise `catalogue.errors.FeedError` and fail
the run; item-level problems become `Issue` entries in the report and never raise.

A report keeps a bounded sample of its issues (the first ones of each kind, see
`services.intake`) but counts every one: `RunReport.totals()` gives the exact number per
(severity, code, field), whatever was kept, and every count a report shows comes from it.
`RunReport.coverage` says, per source path that carried a value, in how many records it did and
whether a mapping rule read it (see `mappings.coverage`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """ERROR: the record was rejected. WARNING: stored, but a value was dropped or doubtful.
    INFO: stored, with a note (e.g. an ECTS figure was estimated)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Outcome(StrEnum):
    """What a run did to one record."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every record landed or was reported
    FAILED = "failed"  # feed-level failure: nothing in the catalogue changed
    HELD = "held"  # records landed, withdrawals held for confirmation (mass-drop guard)


@dataclass(frozen=True)
class Issue:
    """One problem a provider can act on.

    `record_ref` is the provider's id of the record (None for feed-level notes), `field` the
    normalised field name, `pointer` where in the feed (``line 12``, an XPath, a subject IRI).
    """

    severity: Severity
    message: str
    field: str | None = None
    record_ref: str | None = None
    pointer: str | None = None
    code: str = "invalid"
    value: str | None = None  # the offending value as published, truncated

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "record_ref": self.record_ref,
            "pointer": self.pointer,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            severity=Severity(data["severity"]),
            message=data["message"],
            field=data.get("field"),
            record_ref=data.get("record_ref"),
            pointer=data.get("pointer"),
            code=data.get("code", "invalid"),
            value=data.get("value"),
        )


IssueKind = tuple[Severity, str, str | None]
"""(severity, code, field): what issue totals are counted by."""


class PathStatus(StrEnum):
    """What became of the values a feed published at one source path."""

    MAPPED = "mapped"  # a mapping rule reads it
    UNMAPPED = "unmapped"  # nothing reads it and the spec does not say why: a gap
    IGNORED = "ignored"  # the spec's `ignore` list names it: a decision


@dataclass(frozen=True)
class PathCoverage:
    """One source path: the records that had a non-blank value there (exact), one example value
    (truncated), what became of it and, when ignored, the `ignore` entry that matched."""

    path: str
    records: int
    status: PathStatus
    example: str | None = None
    ignore: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "records": self.records, "example": self.example}
        if self.ignore is not None:
            data["ignore"] = self.ignore
        return data


@dataclass(frozen=True)
class Coverage:
    """What a run's records published and what the mapping read of it.

    `records`: records examined (every item the mapping could parse); `paths`: every source path
    with a value in at least one of them, sorted by path."""

    records: int = 0
    paths: tuple[PathCoverage, ...] = ()

    def of(self, status: PathStatus) -> list[PathCoverage]:
        return [p for p in self.paths if p.status is status]

    @property
    def unmapped(self) -> list[PathCoverage]:
        return self.of(PathStatus.UNMAPPED)

    @property
    def ignored(self) -> list[PathCoverage]:
        return self.of(PathStatus.IGNORED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "unmapped": [p.to_dict() for p in self.unmapped],
            "ignored": [p.to_dict() for p in self.ignored],
            "mapped": [p.to_dict() for p in self.of(PathStatus.MAPPED)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Coverage:
        paths = [
            PathCoverage(
                path=entry["path"],
                records=int(entry["records"]),
                status=status,
                example=entry.get("example"),
                ignore=entry.get("ignore"),
            )
            for status in PathStatus
            for entry in data.get(status.value, ())
        ]
        return cls(int(data.get("records", 0)), tuple(sorted(paths, key=lambda p: p.path)))


@dataclass
class RunReport:
    """Everything a run did, as shown on the CLI, in the API and on the provider pages."""

    source_id: str
    run_id: int | None = None
    status: RunStatus = RunStatus.RUNNING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: Counter[Outcome] = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)
    error: str | None = None  # the feed-level failure, when status is FAILED
    dry_run: bool = False
    # issues counted but not kept (beyond the per-kind sample): totals() = kept + dropped
    dropped: Counter[IssueKind] = field(default_factory=Counter)
    coverage: Coverage | None = None

    def count(self, outcome: Outcome, n: int = 1) -> None:
        self.counts[outcome] += n

    def totals(self) -> Counter[IssueKind]:
        """The exact number of issues per (severity, code, field), kept or not."""
        totals: Counter[IssueKind] = Counter((i.severity, i.code, i.field) for i in self.issues)
        totals.update(self.dropped)
        return totals

    def severity_totals(self) -> dict[Severity, int]:
        """The exact number of issues per severity (every severity present, 0 when none)."""
        by_severity = dict.fromkeys(Severity, 0)
        for (severity, _, _), n in self.totals().items():
            by_severity[severity] += n
        return by_severity

    @property
    def truncated(self) -> bool:
        """Some issues were counted but not kept."""
        return any(self.dropped.values())

    def issue_summary(self) -> dict[str, Any]:
        """Exact issue counts per severity and per (severity, code, field), commonest first: what a
        provider fixes first. `kept` says how many of a kind the report lists (a sample when a run
        had many); `truncated` whether any kind was cut."""
        kept = Counter((i.severity, i.code, i.field) for i in self.issues)
        return {
            "by_severity": {s.value: n for s, n in self.severity_totals().items()},
            "by_kind": [
                {
                    "severity": severity.value,
                    "code": code,
                    "field": field,
                    "count": n,
                    "kept": kept[severity, code, field],
                }
                for (severity, code, field), n in self.totals().most_common()
            ],
            "truncated": self.truncated,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source_id": self.source_id,
            "status": self.status.value,
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": {o.value: self.counts.get(o, 0) for o in Outcome},
            "error": self.error,
            "issues": [i.to_dict() for i in self.issues],
            "coverage": self.coverage.to_dict() if self.coverage is not None else None,
        }
