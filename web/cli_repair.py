"""`catalogue repair`: after a crash, fail the runs nobody is running and make the index match the store.

Registered on the `catalogue` group in web/cli.py. Safe to run at any time, also while harvests
run: a run is only failed while its source's lock is free (no live process owns it), and the
index repair upserts what the store holds now.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from catalogue.eligibility_store import EligibilityStore
from harvesters.jobs import reap_stale_runs
from search.sync import repair
from web.services import get_services


@click.command("repair")
@click.option("--dry-run", is_flag=True, help="Report the drift; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@with_appcontext
def repair_command(dry_run: bool, as_json: bool) -> None:
    """Mark runs left RUNNING by a killed process FAILED, then upsert/delete the index documents
    that differ from the store (missing, stale seq or status, orphans). With --dry-run, list
    both (the runs it would fail, the drift it would fix) and change nothing. Exit 0 either way.
    JSON: `stale_runs` (found), `reaped_runs` (failed now; empty on a dry run) and the drift."""
    svc = get_services()
    # Every harvest holds its source's lock while RUNNING, so "lock free" = "owner dead": no age
    # threshold is needed. A dry run lists the runs found that way without failing them.
    stale = reap_stale_runs(svc.store, svc.locks, datetime.now(UTC), dry_run=dry_run)
    reaped = [] if dry_run else stale
    report = repair(svc.store, svc.backend, dry_run=dry_run, eligibility=EligibilityStore(svc.store))
    if as_json:
        findings = {"stale_runs": stale, "reaped_runs": reaped, **asdict(report), "drift": report.drift}
        click.echo(json.dumps(findings))
        return
    if stale:
        would = "Would mark" if dry_run else "Marked"
        click.echo(f"{would} interrupted run(s) {', '.join(map(str, stale))} FAILED.")
    verb = "Would fix" if dry_run else "Fixed"
    click.echo(
        f"Checked {report.checked} courses against {report.indexed} indexed documents. "
        f"{verb} {report.drift}: {report.missing} missing, {report.stale} stale, {report.orphans} orphaned."
    )


COMMANDS = (repair_command,)
