"""Run reports as terminal text: counts, the commonest issue kinds and the first issues."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import click

from catalogue.runs import Outcome, RunReport, RunStatus, Severity


def _issue_lines(report: RunReport, limit: int = 10) -> Iterator[str]:
    """A count per severity, the commonest issue kinds, then the first issues (errors first)."""
    by_severity = Counter(i.severity for i in report.issues)
    summary = ", ".join(
        f"{by_severity[s]} {s.value}{'s' if by_severity[s] != 1 else ''}" for s in Severity if by_severity[s]
    )
    yield f"Issues: {summary or 'none'}"
    kinds = Counter((i.severity.value, i.code, i.field or "-") for i in report.issues)
    for (severity, code, field), n in kinds.most_common(8):
        yield f"  {n:7} x {severity} {code} ({field})"
    rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    first = sorted(report.issues, key=lambda i: rank[i.severity])[:limit]
    if first:
        yield "First issues:"
    for issue in first:
        where = " ".join(p for p in (issue.pointer, issue.record_ref and f"[{issue.record_ref}]") if p)
        field = f" {issue.field}:" if issue.field else ""
        yield f"  {issue.severity.value.upper():7} {where}{field} {issue.message}"
    if len(report.issues) > limit:
        yield f"  ... {len(report.issues) - limit} more: `catalogue runs show {report.run_id}` or --json"


def echo_report(report: RunReport, *, as_json: bool, issue_limit: int = 10) -> None:
    """Print a run report: JSON, or a summary with counts and the first issues."""
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    label = " (dry run: nothing was changed)" if report.dry_run else ""
    click.echo(f"Run {report.run_id} of source {report.source_id!r}: {report.status.value}{label}")
    click.echo("  " + ", ".join(f"{o.value} {report.counts.get(o, 0)}" for o in Outcome))
    if report.error:
        click.echo(f"Error: {report.error}", err=True)
    if report.status is RunStatus.HELD:
        click.echo(
            f"Withdrawals held: too many courses would disappear at once. Check the feed, then run "
            f"`catalogue runs confirm {report.run_id}` to apply them."
        )
    for line in _issue_lines(report, issue_limit):
        click.echo(line)
