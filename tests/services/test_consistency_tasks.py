"""The consistency tasks run eagerly with the app's real wiring: a scheme evaluation job, resuming
abandoned jobs, and delivering index outbox entries a dead process left behind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from celery import Celery
from flask import Flask

from course_catalogue.catalogue.eligibility import Scheme, parse_rules
from course_catalogue.catalogue.eligibility_jobs import JobStatus
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.catalogue.schema import scheme_jobs
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services import tasks
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from tests.reliability.crashfeeds import write_feed
from tests.services.test_tasks import celery, flask_app, register, store

__all__ = ["celery", "flask_app", "store"]  # fixtures


def _harvest_without_delivery(store: CatalogueStore, path: Path, rows: int) -> None:
    """A harvest whose process 'died' before delivering: committed, no sinks ran."""
    source = register(store, "gen", None)
    run_harvest(store, source, data=write_feed(path, rows, "v0").read_bytes())


def test_the_drain_task_delivers_what_a_dead_process_left(
    celery: Celery, flask_app: Flask, store: CatalogueStore, tmp_path: Path
) -> None:
    _harvest_without_delivery(store, tmp_path / "feed.csv", 40)
    assert Outbox(store).stats().courses == 40 and get_services(flask_app).backend.count() == 0
    result = celery.tasks[tasks.DRAIN].delay().get(timeout=60)
    assert result["delivered"] == 40 and result["courses"] == 40 and not result["skipped"]
    assert get_services(flask_app).backend.count() == 40 and Outbox(store).head() is None


def test_the_evaluation_task_runs_a_job_and_the_resume_task_requeues_abandoned_ones(
    celery: Celery, flask_app: Flask, store: CatalogueStore, tmp_path: Path
) -> None:
    services = get_services(flask_app)
    _harvest_without_delivery(store, tmp_path / "feed.csv", 40)
    services.drain_outbox()
    rules = parse_rules([{"id": "p", "field": "provider.name", "op": "in", "value": ["Institution 1"]}])
    job = services.scheme_jobs.submit(Scheme("fund", "Fund", None, rules), create=True)
    result = celery.tasks[tasks.EVALUATE].delay(job.id).get(timeout=60)
    assert result == {"job_id": job.id, "status": "succeeded", "claimed": True, "evaluated": 40}
    eligible = EligibilityStore(store).eligible_course_ids("fund")
    assert len(eligible) == 2  # courses 1 and 38 (institution i % 37)
    assert services.backend.inventory().keys() >= set(eligible)  # delivered after the switch
    assert celery.tasks[tasks.EVALUATE].delay(job.id).get(timeout=10)["claimed"] is False  # finished

    # a job whose runner died long ago: the resume task sends it to a worker again
    later = services.scheme_jobs.submit(Scheme("fund", "Fund", None, parse_rules([])), create=False)
    with store.writing() as conn:
        stale = {"status": "running", "runner": "dead", "heartbeat_at": later.created_at - timedelta(hours=1)}
        conn.execute(sa.update(scheme_jobs).where(scheme_jobs.c.id == later.id).values(**stale))
    assert celery.tasks[tasks.RESUME].delay().get(timeout=60) == [later.id]
    assert services.scheme_jobs.get(later.id).status is JobStatus.SUCCEEDED
    assert len(EligibilityStore(store).eligible_course_ids("fund")) == 40
