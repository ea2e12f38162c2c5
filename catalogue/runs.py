"""Harvest runs and their reports: outcomes per record and item-level issues.

Run-level problems (feed cannot be fetched or parsed) raise `catalogue.errors.FeedError` and fail
the run; item-level problems become `Issue` entries in the report and never raise.
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

    def count(self, outcome: Outcome, n: int = 1) -> None:
        self.counts[outcome] += n

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
        }
