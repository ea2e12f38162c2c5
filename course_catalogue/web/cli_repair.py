"""`catalogue repair`: after a crash, fail the runs nobody is running and make the index match the store.

`catalogue repair --source ID` repairs one source through the harvest service instead
(`services.harvests.HarvestService.repair`: also its records that disagree with their hash).

Registered on the `catalogue` group in web/cli.py. Safe to run at any time, also while harvests
run: a run is only failed while its source's lock is free (no live process owns it); pending
index outbox entries (changes a killed process committed but did not deliver) are delivered
first, as any process that starts would; then the index is compared with the store and whatever
still differs (an index restored from a backup, written by hand) is upserted or deleted. The
delivery and the comparison hold the drain lock (`Services.repair_index`): a delivery made
meanwhile could otherwise be overwritten by the repair's older read.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.services.actors import Actor
from course_catalogue.services.harvests import SourceRepair
from course_catalogue.services.jobs import reap_stale_runs
from course_catalogue.services.runtime import get_services


@click.command("repair")
@click.option("--dry-run", is_flag=True, help="Report what would be fixed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--source",
    "source_id",
    help="Repair this source only: its stuck runs, its records that disagree with their content "
    "hash (remapped from their stored payloads), its missing or stale index documents.",
)
@with_appcontext
def repair_command(dry_run: bool, as_json: bool, source_id: str | None) -> None:
    """Mark runs left RUNNING by a killed process FAILED, deliver pending index outbox entries,
    then upsert/delete the index documents that still differ from the store (missing, stale
    version or status, orphans). With --dry-run, list all three (the runs it would fail, the
    pending index updates, the drift it would fix) and change nothing. Exit 0 either way.
    JSON: `stale_runs` (found), `reaped_runs` (failed now; empty on a dry run), `outbox`
    (pending before, delivered now) and the drift."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    if source_id is not None:
        _repair_source(svc.harvests.repair(Actor.operator(), source_id, dry_run=dry_run), as_json)
        return
    # Every harvest holds its source's lock while RUNNING, so "lock free" = "owner dead": no age
    # threshold is needed. A dry run lists the runs found that way without failing them.
    stale = reap_stale_runs(svc.store, svc.locks, datetime.now(UTC), dry_run=dry_run)
    reaped = [] if dry_run else stale
    stats = Outbox(svc.store).stats()
    delivered, report = svc.repair_index(dry_run=dry_run)
    outbox = {
        "pending_entries": stats.entries,
        "pending_courses": stats.courses,
        "oldest": stats.oldest.isoformat() if stats.oldest else None,
        "delivered": delivered.delivered,
        "delivered_courses": delivered.courses,
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
    verb = "Would fix" if dry_run else "Fixed"
    click.echo(
        f"Checked {report.checked} courses against {report.indexed} indexed documents. "
        f"{verb} {report.drift}: {report.missing} missing, {report.stale} stale, {report.orphans} orphaned."
    )


def _repair_source(found: SourceRepair, as_json: bool) -> None:
    index = found.index
    if as_json:
        data = {
            "source_id": found.source_id,
            "dry_run": found.dry_run,
            "stale_runs": found.stale_runs,
            "inconsistent_records": found.inconsistent,
            "remap_run": found.remap.run_id if found.remap is not None else None,
            "still_inconsistent": found.left,
            "index": None if index is None else asdict(index),
        }
        click.echo(json.dumps(data))
        return
    would = found.dry_run
    if found.stale_runs:
        verb = "Would mark" if would else "Marked"
        click.echo(f"{verb} interrupted run(s) {', '.join(map(str, found.stale_runs))} FAILED.")
    if found.inconsistent:
        verb = "would be remapped" if would else "remapped"
        click.echo(f"{len(found.inconsistent)} record(s) disagreeing with their content hash {verb}.")
    if found.remap is not None:
        click.echo(f"Remap run {found.remap.run_id}: {found.remap.status.value}.")
    if found.left and not would:
        click.echo(f"Still inconsistent (no stored payload?): {', '.join(found.left)}")
    if index is None and found.left:
        click.echo("Some records do not decode: the index is checked once they are readable.")
    if index is not None:
        verb = "Would fix" if would else "Fixed"
        click.echo(
            f"Checked {index.checked} courses of {found.source_id!r} against the index. "
            f"{verb} {index.missing} missing, {index.stale} stale."
        )


COMMANDS = (repair_command,)
