"""`catalogue repair`: after a crash, fail the runs nobody is running and make the index match the store.

Registered on the `catalogue` group in web/cli.py. Safe to run at any time, also while harvests
run: a run is only failed while its source's lock is free (no live process owns it); pending
index outbox entries (changes a killed process committed but did not deliver) are delivered
first, as any process that starts would; then the index is compared with the store and whatever
still differs (an index restored from a backup, written by hand) is upserted or deleted.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.search.sync import DrainReport, repair
from course_catalogue.services.jobs import reap_stale_runs
from course_catalogue.services.runtime import get_services


@click.command("repair")
@click.option("--dry-run", is_flag=True, help="Report what would be fixed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@with_appcontext
def repair_command(dry_run: bool, as_json: bool) -> None:
    """Mark runs left RUNNING by a killed process FAILED, deliver pending index outbox entries,
    then upsert/delete the index documents that still differ from the store (missing, stale
    version or status, orphans). With --dry-run, list all three (the runs it would fail, the
    pending index updates, the drift it would fix) and change nothing. Exit 0 either way.
    JSON: `stale_runs` (found), `reaped_runs` (failed now; empty on a dry run), `outbox`
    (pending before, delivered now) and the drift."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    # Every harvest holds its source's lock while RUNNING, so "lock free" = "owner dead": no age
    # threshold is needed. A dry run lists the runs found that way without failing them.
    stale = reap_stale_runs(svc.store, svc.locks, datetime.now(UTC), dry_run=dry_run)
    reaped = [] if dry_run else stale
    stats = Outbox(svc.store).stats()
    delivered = DrainReport() if dry_run else svc.drain_outbox()
    report = repair(svc.store, svc.backend, dry_run=dry_run, eligibility=EligibilityStore(svc.store))
    outbox = {
        "pending_entries": stats.entries,
        "pending_courses": stats.courses,
        "oldest": stats.oldest.isoformat() if stats.oldest else None,
        "delivered": delivered.delivered,
        "delivered_courses": delivered.courses,
        "skipped": delivered.skipped,
    }
    if as_json:
        findings = {"stale_runs": stale, "reaped_runs": reaped, "outbox": outbox, **asdict(report)}
        click.echo(json.dumps({**findings, "drift": report.drift}))
        return
    if stale:
        would = "Would mark" if dry_run else "Marked"
        click.echo(f"{would} interrupted run(s) {', '.join(map(str, stale))} FAILED.")
    if dry_run and stats.entries:
        click.echo(f"Would deliver {stats.entries} pending index update(s) for {stats.courses} course(s).")
    elif delivered.delivered:
        done = f"{delivered.delivered} pending index update(s) for {delivered.courses} course(s)"
        click.echo(f"Delivered {done}.")
    elif delivered.skipped:
        click.echo("Another process is delivering the pending index updates.")
    verb = "Would fix" if dry_run else "Fixed"
    click.echo(
        f"Checked {report.checked} courses against {report.indexed} indexed documents. "
        f"{verb} {report.drift}: {report.missing} missing, {report.stale} stale, {report.orphans} orphaned."
    )


COMMANDS = (repair_command,)
