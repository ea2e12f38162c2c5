"""The background-job commands of `catalogue`: `worker` (Celery worker with beat), `schedule`,
and `schemes` (run, resume and list scheme evaluation jobs inline).

Registered on the `catalogue` group in web/cli.py; like every command there they run in the app
context of `create_app()`, so the worker gets the same config layers as the web app.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from course_catalogue.catalogue.eligibility_jobs import JobRun, SchemeJob
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.services.jobs import ScheduleEntry, schedule
from course_catalogue.services.runtime import get_services


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
    from course_catalogue.web.celery_app import celery_init_app  # Celery loads only for this command

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


def _job_line(job: SchemeJob) -> str:
    return (
        f"{job.id:6} {job.scheme_id:20} {job.kind:7} {job.status.value:11} "
        f"{job.done:>8}/{job.total:<8} attempts {job.attempts}  {job.error or ''}"
    ).rstrip()


def _run_json(run: JobRun) -> dict[str, object]:
    job = run.job
    return {
        "id": job.id,
        "scheme": job.scheme_id,
        "status": job.status.value,
        "claimed": run.claimed,
        "evaluated": run.evaluated,
        "batches": run.batches,
        "done": job.done,
        "total": job.total,
        "changed": job.changed,
    }


@click.group("schemes")
def schemes_group() -> None:
    """Eligibility scheme evaluation jobs (normally run by `catalogue worker`)."""


@schemes_group.command("jobs")
@click.argument("scheme_id", required=False)
@with_appcontext
def schemes_jobs(scheme_id: str | None) -> None:
    """List evaluation jobs (of one scheme, or of every scheme), newest first."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    ids = [scheme_id] if scheme_id else [s.id for s in EligibilityStore(svc.store).list_schemes()]
    for sid in ids:
        for job in svc.scheme_jobs.history(sid):
            click.echo(_job_line(job))


@schemes_group.command("run")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print what the run did as JSON.")
@with_appcontext
def schemes_run(job_id: int, as_json: bool) -> None:
    """Run one job here until it is done (or resume it, when its runner died), then update the
    search index and the webhook queue. Exit 3 when another live runner holds it."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    run = svc.scheme_jobs.run(job_id)
    if run.claimed:
        svc.after_scheme_jobs()
    if as_json:
        click.echo(json.dumps(_run_json(run)))
    else:
        click.echo(_job_line(run.job))
    if not run.claimed and run.job.active:
        raise SystemExit(3)


@schemes_group.command("resume")
@click.option("--json", "as_json", is_flag=True, help="Print what was resumed as JSON.")
@with_appcontext
def schemes_resume(as_json: bool) -> None:
    """Run every job nobody is running (its runner died, or no worker took it within
    SCHEME_JOB_STALE_SECONDS), each from where it stopped."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    runs = svc.scheme_jobs.resume()
    if any(run.claimed for run in runs):
        svc.after_scheme_jobs()
    if as_json:
        click.echo(json.dumps({"jobs": [_run_json(run) for run in runs]}))
        return
    for run in runs:
        click.echo(_job_line(run.job))
    if not runs:
        click.echo("No abandoned jobs.")


COMMANDS = (worker_command, schedule_command, schemes_group)
