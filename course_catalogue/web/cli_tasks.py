"""The background-job commands of `catalogue`: `worker` (Celery worker with beat), `schedule`,
and `schemes` (define, change and list eligibility schemes, decide on a course, and run, resume
and list scheme evaluation jobs inline). The scheme operations are `services.schemes`' (the
operator may do all of them); this module reads options and prints.

Registered on the `catalogue` group in web/cli.py; like every command there they run in the app
context of `create_app()`, so the worker gets the same config layers as the web app.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from course_catalogue.catalogue.eligibility_jobs import JobRun, SchemeJob
from course_catalogue.catalogue.eligibility_store import CourseEligibility
from course_catalogue.catalogue.errors import CatalogueError
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.jobs import ScheduleEntry, schedule
from course_catalogue.services.runtime import Services, get_services
from course_catalogue.services.schemes import SchemeFields


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
    from course_catalogue.web.celery_setup import celery_init_app  # Celery loads only for this command

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
    """Eligibility schemes: define, change, list, decide on a course; their evaluation jobs
    (normally run by `catalogue worker`)."""


def _opened() -> Services:
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    return svc


def _rules(path: Path | None) -> Any:
    """The rules of a scheme from a JSON file (a list of rules, as the API takes them)."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read the rules from {path}: {exc}") from None


def _fields(**given: Any) -> SchemeFields:
    """The options the user gave (None: not given) as the service's input."""
    return SchemeFields(**{key: value for key, value in given.items() if value is not None})


def _evaluate(svc: Services, job: SchemeJob, queue: bool) -> None:
    """Run the evaluation job here (the default) or leave it to a worker."""
    if queue:
        click.echo(f"Evaluation job {job.id} queued for a worker.")
        return
    run = svc.scheme_jobs.run(job.id)
    if run.claimed:
        svc.after_scheme_jobs()
    click.echo(_job_line(run.job))


_RULES_HELP = "A JSON file holding the scheme's rules (a list, as POST /api/v1/schemes takes them)."
_QUEUE_HELP = "Leave the evaluation to a worker instead of running it here."


@schemes_group.command("list")
@click.option("--owner", help="Only the schemes of this account.")
@with_appcontext
def schemes_list(owner: str | None) -> None:
    """List schemes: id, owner, when last evaluated, name."""
    for scheme in _opened().schemes.schemes(owner):
        evaluated = _when(scheme.evaluated_at) if scheme.evaluated_at else "not evaluated"
        click.echo(f"{scheme.id:20} {scheme.owner or '-':16} {evaluated:25}  {scheme.name}")


@schemes_group.command("create")
@click.argument("scheme_id")
@click.option("--name", required=True, help="The scheme's name.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), required=True, help=_RULES_HELP)
@click.option("--accredited", multiple=True, help="An accredited provider name or identifier; repeatable.")
@click.option("--description", help="What the scheme funds, for readers.")
@click.option("--owner", help="The owning (registry) account; default: none.")
@click.option("--queue", is_flag=True, help=_QUEUE_HELP)
@with_appcontext
def schemes_create(
    scheme_id: str,
    name: str,
    rules_file: Path,
    accredited: tuple[str, ...],
    description: str | None,
    owner: str | None,
    queue: bool,
) -> None:
    """Define a scheme and evaluate every course for it."""
    svc = _opened()
    given = _fields(
        id=scheme_id,
        name=name,
        rules=_rules(rules_file),
        accredited=list(accredited) or None,
        description=description,
        owner=owner,
    )
    try:
        submitted = svc.schemes.create(Actor.operator(), given)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Scheme {submitted.scheme.id!r} defined.")
    _evaluate(svc, submitted.job, queue)


@schemes_group.command("change")
@click.argument("scheme_id")
@click.option("--name", help="A new name.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), help=_RULES_HELP)
@click.option("--accredited", multiple=True, help="The accredited providers (replaces the list); repeatable.")
@click.option("--description", help="A new description.")
@click.option("--queue", is_flag=True, help=_QUEUE_HELP)
@with_appcontext
def schemes_change(
    scheme_id: str,
    name: str | None,
    rules_file: Path | None,
    accredited: tuple[str, ...],
    description: str | None,
    queue: bool,
) -> None:
    """Change a scheme: name and description at once; rules or accredited providers through an
    evaluation of every course (readers see the previous one until it completes)."""
    svc = _opened()
    given = _fields(
        name=name, rules=_rules(rules_file), accredited=list(accredited) or None, description=description
    )
    try:
        changed = svc.schemes.change(Actor.operator(), scheme_id, given)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Scheme {scheme_id!r} changed.")
    if changed.job is not None:
        _evaluate(svc, changed.job, queue)


def _standing(found: CourseEligibility) -> str:
    verdict = "eligible" if found.eligible else "not eligible"
    how = " (manual decision)" if found.manual else ""
    reasons = "; ".join(reason.message or reason.rule for reason in found.reasons)
    return f"{found.course_id}: {verdict}{how}" + (f": {reasons}" if reasons else "")


@schemes_group.command("decide")
@click.argument("scheme_id")
@click.argument("course_id")
@click.option(
    "--eligible/--not-eligible", "eligible", default=None, help="The decision, overriding the rules."
)
@click.option("--clear", is_flag=True, help="Drop the manual decision: the rules decide again.")
@click.option("--note", default="", help="Why (shown to readers).")
@with_appcontext
def schemes_decide(scheme_id: str, course_id: str, eligible: bool | None, clear: bool, note: str) -> None:
    """Decide by hand whether a course is eligible for a scheme, or drop that decision."""
    if clear == (eligible is not None):
        raise click.UsageError("give --eligible, --not-eligible or --clear")
    svc = _opened()
    try:
        found = svc.schemes.decide(Actor.operator(), scheme_id, course_id, eligible, note)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from None
    if found is None:
        click.echo("Recorded; the scheme's first evaluation is still running and will apply it.")
    else:
        click.echo(_standing(found))


@schemes_group.command("eligibility")
@click.argument("course_id")
@with_appcontext
def schemes_eligibility(course_id: str) -> None:
    """A course's standing in every scheme, and why."""
    try:
        found = _opened().schemes.course_eligibility(course_id)
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from None
    for entry in found:
        click.echo(f"{entry.scheme_id:20} {_standing(entry)}")


@schemes_group.command("jobs")
@click.argument("scheme_id", required=False)
@with_appcontext
def schemes_jobs(scheme_id: str | None) -> None:
    """List evaluation jobs (of one scheme, or of every scheme), newest first."""
    svc = get_services()
    click.get_current_context().call_on_close(svc.close)
    ids = [scheme_id] if scheme_id else [s.id for s in svc.schemes.schemes()]
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
