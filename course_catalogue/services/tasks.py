"""Celery tasks, thin wrappers over services/jobs.py: scheduled harvests, the dispatcher that
schedules them, and the reaper of runs a dead worker left RUNNING. The only module importing Celery.

The tasks are `shared_task`s, bound to whichever Celery app the process configures; that app
must be built by `web.celery_setup.celery_init_app`, which runs them in the Flask app context and
puts the app's harvest wiring (store, sinks, settings, locks) in `conf[WIRING]`. So a worker
harvests exactly as the CLI does, from the same config layers.

Why a dispatcher task rather than a beat schedule entry per source (or a database scheduler):
the source registry changes at run time (providers register feeds), and a fixed beat schedule
would need a restart or a database-backed scheduler package to follow it. A dispatcher that
beat fires every minute reads the registry and the run history itself, so it needs no extra
dependency, works on any broker (the filesystem one too), and keeps no schedule state of its own
to drift: the runs table is the schedule's memory. Each dispatch is idempotent, so two beats
(two `worker -B`) or a lost message cost nothing: the harvest task re-checks that its source is
still due and the source lock admits one run at a time.

Reliability: `acks_late` + `reject_on_worker_lost` put a harvest back on the queue when its
worker dies mid-run (Redis redelivers; the filesystem transport cannot, and the next dispatch
covers it); soft and hard time limits (HARVEST_SOFT_TIME_LIMIT, HARVEST_TIME_LIMIT) end a
stuck harvest, and the reaper fails any run the hard limit or a kill left RUNNING.

Consistency: scheme evaluations run as `evaluate_scheme` tasks (catalogue/eligibility_jobs.py);
`resume_scheme_jobs` re-queues those whose runner died, and `drain_index_outbox` delivers index
updates a killed process left (catalogue/outbox.py). A worker that starts sends both at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from celery import Task, shared_task
from celery.signals import worker_ready

from course_catalogue.catalogue.eligibility_jobs import SchemeJobs
from course_catalogue.catalogue.errors import ConfigurationError, NotFound
from course_catalogue.search.sync import DrainReport
from course_catalogue.services.jobs import (
    HarvestWiring,
    due_sources,
    harvest_registered,
    reap_stale_runs,
    retry_delay,
    schedule_entry,
)
from course_catalogue.services.webhook_delivery import WebhookSettings, deliver_due

logger = logging.getLogger(__name__)

HARVEST = "catalogue.harvest_source"
DISPATCH = "catalogue.dispatch_due_harvests"
REAP = "catalogue.reap_stale_runs"
DELIVER = "catalogue.deliver_webhooks"
EVALUATE = "catalogue.evaluate_scheme"
DRAIN = "catalogue.drain_index_outbox"
RESUME = "catalogue.resume_scheme_jobs"
WIRING = "catalogue_wiring"
"""Celery conf key: a callable returning the HarvestWiring, set by web.celery_setup."""
RETRIES = "catalogue_harvest_retries"
"""Celery conf key: how many times a transiently failed harvest is retried."""

DISPATCH_EVERY = 60.0  # seconds; the finest schedule granularity
REAP_EVERY = 300.0
DELIVER_EVERY = 30.0  # seconds; the first webhook retry waits 30 s too
DRAIN_EVERY = 15.0  # seconds; normally the committing process delivers its own changes at once
RESUME_EVERY = 60.0
REAP_GRACE = 60.0  # beyond the hard time limit, before a RUNNING run is presumed dead
# A run starts a moment after the dispatch that sent it, so one interval later it is due a few
# hundred ms after that dispatch; without slack each pull would slip a whole dispatch period.
DUE_SLACK = timedelta(seconds=DISPATCH_EVERY / 2)

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "dispatch-due-harvests": {
        "task": DISPATCH,
        "schedule": DISPATCH_EVERY,
        # a dispatch nobody picked up within its minute is superseded by the next one
        "options": {"expires": DISPATCH_EVERY},
    },
    "reap-stale-runs": {"task": REAP, "schedule": REAP_EVERY, "options": {"expires": REAP_EVERY}},
    "deliver-webhooks": {"task": DELIVER, "schedule": DELIVER_EVERY, "options": {"expires": DELIVER_EVERY}},
    "drain-index-outbox": {"task": DRAIN, "schedule": DRAIN_EVERY, "options": {"expires": DRAIN_EVERY}},
    "resume-scheme-jobs": {"task": RESUME, "schedule": RESUME_EVERY, "options": {"expires": RESUME_EVERY}},
}


class MaintenanceWiring(Protocol):
    """What the consistency tasks need beyond HarvestWiring (services.runtime.Services has it)."""

    @property
    def scheme_jobs(self) -> SchemeJobs: ...

    def drain_outbox(self, wait: float | None = ...) -> DrainReport: ...

    def after_scheme_jobs(self) -> None: ...


def wiring(task: Task) -> HarvestWiring:
    provider = task.app.conf.get(WIRING)
    if provider is None:
        raise ConfigurationError(
            "the Celery app has no harvest wiring: build it with "
            "course_catalogue.web.celery_setup.celery_init_app"
        )
    found: HarvestWiring = provider()
    return found


def maintenance(task: Task) -> MaintenanceWiring:
    found: MaintenanceWiring = wiring(task)  # type: ignore[assignment]
    return found


def _now() -> datetime:
    return datetime.now(UTC)


@shared_task(bind=True, name=HARVEST, acks_late=True, reject_on_worker_lost=True)
def harvest_source(self: Task, source_id: str, trigger: str = "schedule") -> dict[str, Any]:
    """Pull one registered source's feed; returns the attempt summary (HarvestAttempt.to_dict).

    Scheduled first attempts re-check that the source is still due (a duplicate dispatch is a
    no-op); another harvest of the source running means skip, not wait. A transient fetch
    failure is retried with exponential backoff and jitter; parse, mapping and configuration
    failures are not (they will not change by waiting). Every attempt is a recorded run.
    """
    wired = wiring(self)
    try:
        source = wired.store.get_source(source_id)
    except NotFound:
        logger.warning("harvest of %s skipped: the source is no longer registered", source_id)
        return {"source_id": source_id, "status": "unknown-source", "run_id": None, "error": None}
    retries = self.request.retries or 0
    if trigger == "schedule" and retries == 0:
        entry = schedule_entry(wired.store, source)
        if entry is None or not entry.due(_now() + DUE_SLACK):
            logger.info("harvest of %s skipped: not due", source_id)
            return {"source_id": source_id, "status": "not-due", "run_id": None, "error": None}
    attempt = harvest_registered(wired, source, trigger=trigger)
    if attempt.already_running:
        logger.info("harvest of %s skipped: %s", source_id, attempt.error)
    elif attempt.transient and retries < int(self.app.conf.get(RETRIES, 0)):
        delay = retry_delay(retries)
        logger.warning(
            "harvest of %s failed (%s); retry %d in %.0f s", source_id, attempt.error, retries + 1, delay
        )
        raise self.retry(countdown=delay)
    return attempt.to_dict()


@shared_task(bind=True, name=DISPATCH)
def dispatch_due_harvests(self: Task) -> list[str]:
    """Enqueue `harvest_source` for every scheduled source that is due; returns their ids."""
    now = _now() + DUE_SLACK
    due = due_sources(wiring(self).store, now)
    harvest = self.app.tasks[HARVEST]
    for entry in due:
        # a backlog keeps at most about one message per source: older ones expire unread
        expires = max(DISPATCH_EVERY, entry.every.total_seconds())
        harvest.apply_async((entry.source_id,), {"trigger": "schedule"}, expires=expires)
    ids = [entry.source_id for entry in due]
    if ids:
        logger.info("dispatched harvests of %s", ", ".join(ids))
    return ids


@shared_task(bind=True, name=REAP)
def reap_stale_runs_task(self: Task) -> list[int]:
    """Fail runs left RUNNING longer than the hard time limit by a harvest nobody holds."""
    wired = wiring(self)
    limit = float(self.app.conf.task_time_limit or 0) or 3600.0
    cutoff = _now() - timedelta(seconds=limit + REAP_GRACE)
    return reap_stale_runs(wired.store, wired.locks, cutoff)


@shared_task(bind=True, name=DELIVER)
def deliver_webhooks(self: Task) -> dict[str, int]:
    """Queue deliveries for committed changes and send every due one (signed, SSRF-guarded);
    failures are retried by later runs with exponential backoff, then given up (recorded).
    The wiring may provide `webhook_settings` (services.runtime.Services does); else the defaults
    with the harvest's private-address setting."""
    wired = wiring(self)
    settings = getattr(wired, "webhook_settings", None)
    if not isinstance(settings, WebhookSettings):
        settings = WebhookSettings(allow_private=wired.harvest_settings.allow_private)
    outcomes = deliver_due(wired.store, settings)
    counts: dict[str, int] = {}
    for _, status in outcomes:
        counts[status.value] = counts.get(status.value, 0) + 1
    return counts


@shared_task(bind=True, name=EVALUATE, acks_late=True, reject_on_worker_lost=True)
def evaluate_scheme(self: Task, job_id: int) -> dict[str, Any]:
    """Run one scheme evaluation job to its end (or resume it); then deliver the index outbox
    and queue webhooks. A job another live runner holds, or already finished, is left alone."""
    wired = maintenance(self)
    try:
        run = wired.scheme_jobs.run(job_id)
    except NotFound:
        logger.warning("scheme job %s no longer exists", job_id)
        return {"job_id": job_id, "status": "unknown-job", "claimed": False}
    if run.claimed:
        wired.after_scheme_jobs()
    return {
        "job_id": job_id,
        "status": run.job.status.value,
        "claimed": run.claimed,
        "evaluated": run.evaluated,
    }


@shared_task(bind=True, name=DRAIN)
def drain_index_outbox(self: Task) -> dict[str, Any]:
    """Deliver index outbox entries left pending (a process killed after its commit)."""
    report = maintenance(self).drain_outbox(wait=0)
    if report.delivered:
        logger.warning(
            "index outbox: delivered %d entries left pending (%d courses)", report.delivered, report.courses
        )
    return {"delivered": report.delivered, "courses": report.courses, "skipped": report.skipped}


@shared_task(bind=True, name=RESUME)
def resume_scheme_jobs(self: Task) -> list[int]:
    """Queue an `evaluate_scheme` task for each job nobody runs (its runner died, or it was never
    picked up); the task's claim makes a job run once whatever the duplicates."""
    ids = maintenance(self).scheme_jobs.claimable()
    evaluate = self.app.tasks[EVALUATE]
    for job_id in ids:
        evaluate.apply_async((job_id,))
    return ids


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_kwargs: Any) -> None:
    """A worker that starts delivers what a dead process left and resumes abandoned jobs."""
    app = getattr(sender, "app", None)
    if app is None or app.conf.get(WIRING) is None:
        return
    for name in (DRAIN, RESUME):
        app.send_task(name)
