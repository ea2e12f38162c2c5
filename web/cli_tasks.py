"""The scheduling commands of `catalogue`: `worker` (Celery worker with beat) and `schedule`.

Registered on the `catalogue` group in web/cli.py; like every command there they run in the app
context of `create_app()`, so the worker gets the same config layers as the web app.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from harvesters.jobs import ScheduleEntry, schedule
from web.services import get_services


@click.command("worker")
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Harvests run at the same time (worker processes).",
)
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Embed the scheduler: dispatch due harvests every minute and reap stale runs. Several "
    "beats are harmless (dispatches are idempotent), but one is enough.",
)
@click.option("--loglevel", "-l", default="info", show_default=True, help="Celery log level.")
@with_appcontext
def worker_command(concurrency: int, beat: bool, loglevel: str) -> None:
    """Run a Celery worker for scheduled harvests (broker: BROKER_URL, default the filesystem).

    The same as `celery -A web.celery_app:celery_app worker [-B]`. Stops on Ctrl-C or SIGTERM,
    letting running harvests finish (a second Ctrl-C stops at once).
    """
    from web.celery_app import celery_init_app  # Celery loads only for this command

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    celery = celery_init_app(app)
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}"]
    if beat:
        argv.append("--beat")
    try:
        celery.worker_main(argv)
    finally:
        get_services(app).close()


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def _entry_json(entry: ScheduleEntry, now: datetime) -> dict[str, object]:
    return {
        "source_id": entry.source_id,
        "every_minutes": int(entry.every.total_seconds() // 60),
        "last_started": _when(entry.last_started) if entry.last_started else None,
        "next_due": _when(entry.next_due) if entry.next_due else None,
        "due": entry.due(now),
    }


@click.command("schedule")
@click.option("--due", "only_due", is_flag=True, help="Only the sources due now.")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
@with_appcontext
def schedule_command(only_due: bool, as_json: bool) -> None:
    """Show the scheduled sources: interval, last start, next pull, and which are due now."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    now = datetime.now(UTC)
    entries = [e for e in schedule(svc.store) if e.due(now) or not only_due]
    if as_json:
        click.echo(json.dumps([_entry_json(e, now) for e in entries], indent=2))
        return
    if not entries:
        click.echo(
            "Nothing due." if only_due else "No scheduled sources (`catalogue sources add --schedule`)."
        )
        return
    for entry in entries:
        minutes = int(entry.every.total_seconds() // 60)
        state = "due now" if entry.due(now) else f"next {_when(entry.next_due)}"
        click.echo(
            f"{entry.source_id:20} every {minutes:>5} min  last {_when(entry.last_started):25}  {state}"
        )


COMMANDS = (worker_command, schedule_command)
