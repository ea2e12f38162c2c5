"""What the provider dashboard and the run pages show, in the reader's language.

Template helpers (registered as Jinja globals and filters by `init_app`), so the views in
`web.dashboard` and `web.ui` pass domain objects and the templates ask for words:

* issue fields as standard elements in words ("EQF level", not `eqf_level`), grouped;
* issue kinds by code in words (the engine's message, with its values, stays beside it in English);
* run statuses, record outcomes and severities in words; "line 47" pointers localised;
* the mapping specs a provider can choose, with the format each reads;
* a source's run history for the charts (`web.charts`);
* before-and-after values of a changed field, shortened for a preview.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from babel.numbers import format_percent
from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from course_catalogue.catalogue.quality import ELEMENTS
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus, Severity
from course_catalogue.services.runtime import get_services
from course_catalogue.web.charts import Series, legend, stacked_bars
from course_catalogue.web.labels import count, lang

# Course fields (as issue fields name them) in words. The standard elements come first; the rest
# are the other fields of a record. A dotted field takes the label of its longest known prefix.
FIELD_LABELS: dict[str, Any] = {
    "title": _l("Title"),
    "provider": _l("Provider"),
    "provider.name": _l("Provider"),
    "provider.country": _l("Country of the provider"),
    "provider.homepage": _l("Provider's website"),
    "awarding_bodies": _l("Awarding body"),
    "learning_outcomes": _l("Learning outcomes"),
    "learning_outcomes.esco_uri": _l("Learning outcomes (ESCO skills)"),
    "workload": _l("Notional workload (ECTS)"),
    "eqf_level": _l("EQF level"),
    "assessment": _l("Type of assessment"),
    "modes": _l("Form of participation"),
    "quality_assurance": _l("Quality assurance"),
    "prerequisites": _l("Prerequisites"),
    "identity_verification": _l("Supervision and identity verification"),
    "grade": _l("Grade achieved"),
    "stackability": _l("Integration and stackability"),
    "further_information": _l("Further information"),
    "optional": _l("Optional standard elements"),
    "description": _l("Description"),
    "duration": _l("Duration"),
    "schedule": _l("Learning schedule"),
    "start_date": _l("Start date"),
    "end_date": _l("End date"),
    "price": _l("Price"),
    "url": _l("Course web page"),
    "languages": _l("Language of instruction"),
    "isced_f": _l("Field of study"),
    "keywords": _l("Keywords"),
    "locations": _l("Place"),
    "country": _l("Country"),
    "status": _l("Status"),
    "funding": _l("Funding"),
}
RECORD = _l("The record as a whole")

# Issue codes in words: what kind of problem it is. The engine's message keeps the specifics.
ISSUE_KINDS: dict[str, Any] = {
    "ambiguous-award": _l("An award that names no level"),
    "ambiguous-schedule": _l("A schedule that can be read two ways"),
    "coverage-limited": _l("Coverage only partly measured"),
    "duplicate-key": _l("A key given twice"),
    "duplicate-record": _l("The same course twice in the feed"),
    "duplicate-ref": _l("An id used twice in the feed"),
    "ects-converted": _l("Credits converted to ECTS"),
    "ects-estimated": _l("ECTS estimated from hours"),
    "extra-values": _l("More values than the element takes"),
    "feed-too-large": _l("The feed is too large"),
    "feed-unchanged": _l("The same feed as last time, not read again"),
    "ignored-but-read": _l("A value the mapping ignores"),
    "implausible-duration": _l("An implausible duration"),
    "incomplete-group": _l("An incomplete group of values"),
    "internal-error": _l("An internal error"),
    "invalid-dates": _l("Dates that contradict each other"),
    "invalid-duration": _l("A duration that cannot be read"),
    "invalid-price": _l("A price that cannot be read"),
    "invalid-url": _l("A web address that cannot be used"),
    "level-crosswalk": _l("A level read through a framework"),
    "missing-description": _l("No description"),
    "missing-element": _l("A mandatory standard element is missing"),
    "missing-optional": _l("Optional standard elements are missing"),
    "missing-source": _l("The source is not registered"),
    "not-an-object": _l("A record that is not an object"),
    "not-modified": _l("The feed has not changed"),
    "provider-from-source": _l("Provider details taken from the registration"),
    "range-midpoint": _l("A range read as its midpoint"),
    "raw-missing": _l("The provider's original is missing"),
    "record-too-large": _l("A record that is too large"),
    "ref-changed": _l("A record whose id changed"),
    "schedule-implied": _l("A schedule read from its wording"),
    "sink-failed": _l("The search index could not be updated"),
    "unconvertible-credits": _l("Credits without an ECTS rate"),
    "unknown-level": _l("A level that is not an EQF level"),
    "unknown-mode": _l("An unknown form of participation"),
    "unknown-schedule": _l("An unknown learning schedule"),
    "unstorable-value": _l("A value that cannot be stored"),
    "withdrawals-skipped": _l("Withdrawals skipped"),
}

STATUS_LABELS: dict[str, Any] = {
    RunStatus.RUNNING: _l("running"),
    RunStatus.SUCCEEDED: _l("succeeded"),
    RunStatus.FAILED: _l("failed"),
    RunStatus.HELD: _l("withdrawals held"),
}
OUTCOME_LABELS: dict[str, Any] = {
    Outcome.ADDED: _l("added"),
    Outcome.UPDATED: _l("updated"),
    Outcome.UNCHANGED: _l("unchanged"),
    Outcome.WITHDRAWN: _l("withdrawn"),
    Outcome.FAILED: _l("rejected"),
}
SEVERITY_LABELS: dict[str, Any] = {
    Severity.ERROR: _l("error"),
    Severity.WARNING: _l("warning"),
    Severity.INFO: _l("note"),
}

SEVERITY_PLURALS: dict[str, Any] = {
    Severity.ERROR: _l("errors"),
    Severity.WARNING: _l("warnings"),
    Severity.INFO: _l("notes"),
}
ROLE_LABELS: dict[str, Any] = {
    "admin": _l("administrator"),
    "provider": _l("provider"),
    "registry": _l("registry"),
}

_LINE = re.compile(r"\bline (\d+)\b")


def element_label(field: str | None) -> str:
    """A record field in words: its own label, else that of its longest labelled prefix, else the
    field name with its separators as spaces (a field added since this table was written)."""
    if not field:
        return str(RECORD)
    parts = field.split(".")
    for end in range(len(parts), 0, -1):
        label = FIELD_LABELS.get(".".join(parts[:end]))
        if label is not None:
            return str(label)
    return field.replace("_", " ").replace(".", ": ")


def issue_kind(code: str) -> str:
    """An issue code in words (the code itself when this table does not know it yet)."""
    label = ISSUE_KINDS.get(code)
    return str(label) if label is not None else code


def status_label(status: RunStatus | str) -> str:
    label = STATUS_LABELS.get(str(status))
    return str(label) if label is not None else str(status)


def outcome_label(outcome: Outcome | str) -> str:
    label = OUTCOME_LABELS.get(str(outcome))
    return str(label) if label is not None else str(outcome)


def severity_label(severity: Severity | str) -> str:
    label = SEVERITY_LABELS.get(str(severity))
    return str(label) if label is not None else str(severity)


def severity_plural(severity: Severity | str) -> str:
    label = SEVERITY_PLURALS.get(str(severity))
    return str(label) if label is not None else str(severity)


def role_label(role: str) -> str:
    label = ROLE_LABELS.get(str(role))
    return str(label) if label is not None else str(role)


def percent(value: float | int | None) -> str:
    """A whole percentage (87 for 87 %) as the interface language writes it: 87%, 87 %, 87 %."""
    if value is None:
        return ""
    return format_percent(value / 100, locale=lang())


def pointer_text(pointer: str | None) -> str:
    """Where an issue is, with "line N" in the reader's language (paths and JMESPath stay)."""
    if not pointer:
        return ""
    return _LINE.sub(lambda m: _("line %(number)s", number=m.group(1)), pointer)


@dataclass(frozen=True)
class ElementIssues:
    """Issues of one standard element (or other record field), per severity."""

    label: str
    fields: tuple[str, ...]
    error: int
    warning: int
    info: int

    @property
    def total(self) -> int:
        return self.error + self.warning + self.info


def issues_by_element(rows: Iterable[Mapping[str, Any]]) -> list[ElementIssues]:
    """Rows of `web.dashboard.issues_by_field` (field, error, warning, info) grouped by the
    element they concern in words, most errors then most warnings first."""
    counts: dict[str, Counter[str]] = {}
    fields: dict[str, list[str]] = {}
    for row in rows:
        field = row.get("field")
        label = element_label(None if field in (None, "(record)") else field)
        counts.setdefault(label, Counter()).update({s.value: int(row.get(s.value, 0)) for s in Severity})
        fields.setdefault(label, []).append(str(field))
    grouped = [
        ElementIssues(label, tuple(fields[label]), c["error"], c["warning"], c["info"])
        for label, c in counts.items()
    ]
    return sorted(grouped, key=lambda g: (-g.error, -g.warning, -g.info, g.label))


@cache
def mapping_choices() -> tuple[tuple[str, str], ...]:
    """(name, format) of every bundled mapping spec, by name: what the registration form offers."""
    specs = resources.files("course_catalogue.mappings") / "specs"
    found = []
    for entry in specs.iterdir():
        if not entry.name.endswith(".toml"):
            continue
        match = re.search(r'(?m)^format\s*=\s*"([^"]+)"', entry.read_text(encoding="utf-8"))
        found.append((entry.name.removesuffix(".toml"), match.group(1) if match else ""))
    return tuple(sorted(found))


def published_message(report: RunReport) -> str:
    """The confirmation shown after publishing an upload: what the run did, in numbers."""
    counts = {o: count(report.counts.get(o, 0)) for o in Outcome}
    return _(
        "Published. Run %(run)s added %(added)s, updated %(updated)s and withdrew %(withdrawn)s "
        "courses; %(unchanged)s were unchanged and %(failed)s rejected.",
        run=report.run_id,
        added=counts[Outcome.ADDED],
        updated=counts[Outcome.UPDATED],
        withdrawn=counts[Outcome.WITHDRAWN],
        unchanged=counts[Outcome.UNCHANGED],
        failed=counts[Outcome.FAILED],
    )


@dataclass(frozen=True)
class RunPoint:
    """One finished run of a source, for the charts: records per outcome, issues per severity."""

    run_id: int
    started_at: datetime | None
    status: RunStatus
    counts: Mapping[Outcome, int]
    issues: Mapping[Severity, int]

    quality: int | None = None  # the quality score the run measured, in whole percent

    @property
    def records(self) -> int:
        """Records the feed held (every outcome but withdrawals)."""
        return sum(n for outcome, n in self.counts.items() if outcome is not Outcome.WITHDRAWN)


MANDATORY = tuple(e.name for e in ELEMENTS if e.mandatory)


def run_quality(report: RunReport) -> int | None:
    """The quality score of the records a run stored (whole percent, rounded down), from its
    issue totals: the harvest reports each mandatory standard element a stored record lacks as a
    `missing-element` warning on that element, so the filled share of mandatory slots is
    1 - missing / (records x mandatory elements), the score `catalogue.quality` computes over
    the stored courses. None when the run stored no record."""
    stored = sum(report.counts.get(o, 0) for o in (Outcome.ADDED, Outcome.UPDATED, Outcome.UNCHANGED))
    if not stored:
        return None
    missing = sum(
        n
        for (_, code, field), n in report.totals().items()
        if code == "missing-element" and field in MANDATORY
    )
    return int((1 - missing / (stored * len(MANDATORY))) * 100)


HISTORY_RUNS = 20


def run_history(source_id: str, limit: int = HISTORY_RUNS) -> list[RunPoint]:
    """The source's last `limit` real (not dry) runs that finished, oldest first."""
    reports: Sequence[RunReport] = get_services().store.list_runs(
        source_id, limit=limit, include_dry_runs=False
    )
    points = [
        RunPoint(
            run_id=r.run_id,
            started_at=r.started_at,
            status=r.status,
            counts={o: r.counts.get(o, 0) for o in Outcome},
            issues=r.severity_totals(),
            quality=run_quality(r),
        )
        for r in reports
        if r.run_id is not None and r.status is not RunStatus.RUNNING
    ]
    return sorted(points, key=lambda p: p.run_id)


@dataclass(frozen=True)
class HistoryCharts:
    """The charts of a source's run history and the points they draw (for the table beside)."""

    points: list[RunPoint]
    records: Markup
    records_legend: Markup
    issues: Markup
    issues_legend: Markup
    quality: Markup


def history_charts(source_id: str) -> HistoryCharts | None:
    """Records per outcome and issues per severity across the source's runs (None: no runs)."""
    points = run_history(source_id)
    if not points:
        return None
    labels = [str(p.run_id) for p in points]
    record_series = [
        Series(outcome_label(o), f"chart-{o.value}", [p.counts[o] for p in points])
        for o in (Outcome.ADDED, Outcome.UPDATED, Outcome.UNCHANGED, Outcome.FAILED)
    ]
    issue_series = [
        Series(severity_label(s), f"chart-{s.value}", [p.issues[s] for p in points])
        for s in (Severity.ERROR, Severity.WARNING)
    ]
    return HistoryCharts(
        points=points,
        records=stacked_bars(
            labels,
            record_series,
            title=_("Records per run"),
            description=_("Records each run added, updated, left unchanged or rejected, by run number."),
            number=count,
        ),
        records_legend=legend(record_series),
        issues=stacked_bars(
            labels,
            issue_series,
            title=_("Issues per run"),
            description=_("Errors and warnings each run reported, by run number."),
            number=count,
        ),
        issues_legend=legend(issue_series),
        quality=stacked_bars(
            labels,
            [Series(_("Quality score"), "chart-quality", [p.quality or 0 for p in points])],
            title=_("Quality score per run"),
            description=_(
                "Share of the mandatory standard elements filled in the records of each run, in percent."
            ),
            number=percent,
            top=100,
        ),
    )


VALUE_CHARS = 160


def value_text(value: Any) -> str:
    """A record value (as `course_to_dict` gives it) as short text for a before/after table:
    language maps show their texts, lists are joined, anything long is cut with an ellipsis."""
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
        text = " / ".join(f"{v} [{k}]" if len(value) > 1 else v for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = "; ".join(value_text(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1].rstrip() + "…"


def init_app(app: Flask) -> None:
    app.add_template_filter(element_label, "element")
    app.add_template_filter(issue_kind, "issue_kind")
    app.add_template_filter(status_label, "run_status")
    app.add_template_filter(outcome_label, "outcome")
    app.add_template_filter(severity_label, "severity")
    app.add_template_filter(pointer_text, "pointer")
    app.add_template_filter(severity_plural, "severity_plural")
    app.add_template_filter(role_label, "account_role")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(value_text, "value_text")
    app.jinja_env.globals.update(
        issues_by_element=issues_by_element,
        mapping_choices=mapping_choices,
        run_history=run_history,
        history_charts=history_charts,
    )
