"""Run reports as terminal text: counts, issue totals by kind, the first issues and the coverage.

Every count printed is exact: issue counts come from the run's totals (`RunReport.totals()`), not
from the issues it kept, which are a sample of each kind when a run had many.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import click

from course_catalogue.catalogue.runs import Coverage, Outcome, RunReport, RunStatus, Severity

KINDS_SHOWN = 8
PATHS_SHOWN = 20
_WOULD = {
    Outcome.ADDED: "would add",
    Outcome.UPDATED: "would update",
    Outcome.UNCHANGED: "unchanged",
    Outcome.WITHDRAWN: "would withdraw",
    Outcome.FAILED: "failed",
}


def outcome_line(report: RunReport) -> str:
    """ "added 4, updated 0, ..." (a dry run: "would add 4, would update 0, ...")."""
    if report.dry_run:
        return ", ".join(f"{_WOULD[o]} {report.counts.get(o, 0)}" for o in Outcome)
    return ", ".join(f"{o.value} {report.counts.get(o, 0)}" for o in Outcome)


def _issue_lines(report: RunReport, limit: int = 10) -> Iterator[str]:
    """The exact count per severity, the commonest issue kinds, then the first issues (errors first)."""
    by_severity = report.severity_totals()
    summary = ", ".join(
        f"{by_severity[s]} {s.value}{'s' if by_severity[s] != 1 else ''}" for s in Severity if by_severity[s]
    )
    yield f"Issues: {summary or 'none'}"
    totals = report.totals()
    for (severity, code, field), n in totals.most_common(KINDS_SHOWN):
        yield f"  {n:7} x {severity.value} {code} ({field or '-'})"
    if len(totals) > KINDS_SHOWN:
        yield f"  ... {len(totals) - KINDS_SHOWN} more kinds"
    rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    first = sorted(report.issues, key=lambda i: rank[i.severity])[:limit]
    if first:
        kept = " (a sample of each kind is kept; the counts above are exact)" if report.truncated else ""
        yield f"First issues{kept}:"
    for issue in first:
        where = " ".join(p for p in (issue.pointer, issue.record_ref and f"[{issue.record_ref}]") if p)
        field = f" {issue.field}:" if issue.field else ""
        yield f"  {issue.severity.value.upper():7} {where}{field} {issue.message}"
    if len(report.issues) > limit and report.run_id is not None:
        yield f"  ... {len(report.issues) - limit} more: `catalogue runs show {report.run_id}` or --json"
    elif len(report.issues) > limit:
        yield f"  ... {len(report.issues) - limit} more: run again with --json"


def coverage_lines(coverage: Coverage | None, limit: int = PATHS_SHOWN) -> Iterator[str]:
    """What the feed published that nothing maps (gaps), and what the spec ignores on purpose."""
    if coverage is None:
        return
    unmapped, ignored = coverage.unmapped, coverage.ignored
    mapped = len(coverage.paths) - len(unmapped) - len(ignored)
    yield (
        f"Coverage: {len(coverage.paths)} source paths with values in {coverage.records} records: "
        f"{mapped} mapped, {len(ignored)} ignored by the mapping, {len(unmapped)} unmapped"
    )
    if unmapped:
        yield "Unmapped (values no rule reads: map them or add them to the mapping's `ignore`):"
        for entry in sorted(unmapped, key=lambda p: (-p.records, p.path))[:limit]:
            yield f"  {entry.records:7} records  {entry.path}  e.g. {entry.example!r}"
        if len(unmapped) > limit:
            yield f"  ... {len(unmapped) - limit} more: --json"
    if ignored:
        yield "Ignored (the mapping's `ignore` list):"
        for entry in sorted(ignored, key=lambda p: (-p.records, p.path))[:limit]:
            yield f"  {entry.records:7} records  {entry.path}  (ignore {entry.ignore!r})"
        if len(ignored) > limit:
            yield f"  ... {len(ignored) - limit} more: --json"


def echo_report(report: RunReport, *, as_json: bool, issue_limit: int = 10) -> None:
    """Print a run report: JSON, or a summary with counts, the first issues and the coverage."""
    if as_json:
        # The kept issues are a sample of each kind when a run had many: the summary's counts are exact.
        data = report.to_dict()
        data["issue_summary"] = report.issue_summary()
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    label = " (dry run: nothing was changed or recorded)" if report.dry_run and report.run_id is None else ""
    label = label or (" (dry run: nothing was changed)" if report.dry_run else "")
    run = f"Run {report.run_id}" if report.run_id is not None else "Dry run"
    click.echo(f"{run} of source {report.source_id!r}: {report.status.value}{label}")
    click.echo("  " + outcome_line(report))
    if report.error:
        click.echo(f"Error: {report.error}", err=True)
    if report.status is RunStatus.HELD:
        click.echo(
            f"Withdrawals held: too many courses would disappear at once. Check the feed, then run "
            f"`catalogue runs confirm {report.run_id}` to apply them."
        )
    for line in _issue_lines(report, issue_limit):
        click.echo(line)
    for line in coverage_lines(report.coverage):
        click.echo(line)
