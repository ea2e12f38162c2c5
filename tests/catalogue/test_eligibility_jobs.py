"""Scheme evaluation jobs: staged in batches, switched in atomically, kept right when courses
change meanwhile, superseded, resumed after a dead runner, failed cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue import eligibility_jobs
from course_catalogue.catalogue.eligibility import ManualDecision, Scheme, parse_rules
from course_catalogue.catalogue.eligibility_jobs import JobStatus, SchemeJobs, evaluate_batch, switch
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.catalogue.schema import scheme_staging
from course_catalogue.catalogue.store import CatalogueStore
from tests.registries import SOURCE, publish
from tests.schemes import EligibilityStore
from tests.sinks import EligibilitySink


def cid(ref: str) -> str:
    return course_id(SOURCE, ref)


def fund(low: int, high: int = 8) -> Scheme:
    rules = parse_rules([{"id": "eqf", "field": "eqf_level", "op": "between", "value": [low, high]}])
    return Scheme("fund", "Fund", None, rules)


def levels(n: int = 12) -> dict[str, dict[str, Any]]:
    return {f"c{i:02}": {"eqf_level": 1 + i % 8} for i in range(n)}


def expected(store: CatalogueStore, low: int, high: int = 8) -> list[str]:
    return sorted(
        s.id for s in store.iter_courses() if s.course.eqf_level and low <= s.course.eqf_level <= high
    )


def staged(store: CatalogueStore, job_id: int) -> int:
    with store.reading() as conn:
        query = (
            sa.select(sa.func.count()).select_from(scheme_staging).where(scheme_staging.c.job_id == job_id)
        )
        return int(conn.execute(query).scalar_one())


def test_a_new_scheme_funds_nothing_until_its_job_switches_in(store: CatalogueStore) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    publish(store, levels(), [EligibilitySink(es)])
    job = jobs.submit(fund(3), create=True, requested_by="ops")
    assert job.status is JobStatus.QUEUED and job.kind == "create" and job.requested_by == "ops"
    assert es.get_scheme("fund").evaluated_at is None and es.eligible_course_ids("fund") == []
    with pytest.raises(Conflict):
        jobs.submit(fund(3), create=True)
    run = jobs.run(job.id, batch=5)
    assert run.claimed and run.batches == 3 and run.evaluated == 12
    done = jobs.get(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.done == done.total == 12 and done.attempts == 1
    assert done.changed == len(expected(store, 3)) and es.get_scheme("fund").evaluated_at is not None
    assert es.eligible_course_ids("fund") == expected(store, 3)
    replay = {e.course_id for e in es.eligibility_changes_since("fund", 0) if e.upsert}
    assert replay == set(expected(store, 3))
    assert staged(store, job.id) == 0  # cleaned up after the switch
    assert not jobs.run(job.id).claimed  # finished: nothing to do


def test_readers_see_the_old_evaluation_until_the_switch(store: CatalogueStore) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    publish(store, levels(), [EligibilitySink(es)])
    es.create_scheme(fund(3))
    before = es.eligible_course_ids("fund")
    job = jobs.submit(fund(6), create=False)
    jobs.claim(job.id, "me")
    assert evaluate_batch(store, job.id, "me", 5) == 5
    assert evaluate_batch(store, job.id, "me", 5) == 5
    assert es.eligible_course_ids("fund") == before and es.get_scheme("fund").rules == fund(3).rules
    assert evaluate_batch(store, job.id, "me", 5) == 2 and evaluate_batch(store, job.id, "me", 5) == 0
    assert es.eligible_course_ids("fund") == before  # complete, not switched: still the old one
    assert switch(store, job.id, "other runner") is None  # only the holder switches
    entries = Outbox(store).stats().entries
    assert switch(store, job.id, "me") is True
    assert (
        es.eligible_course_ids("fund") == expected(store, 6) and es.get_scheme("fund").rules == fund(6).rules
    )
    flipped = set(before) ^ set(expected(store, 6))
    assert Outbox(store).stats().entries == entries + len(flipped)  # the index hears of every flip


def test_courses_that_change_during_a_job_are_evaluated_as_they_are_now(store: CatalogueStore) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    sink = EligibilitySink(es)
    publish(store, levels(), [sink])
    es.create_scheme(fund(1))  # everything eligible
    job = jobs.submit(fund(6), create=False)
    jobs.claim(job.id, "me")
    evaluate_batch(store, job.id, "me", 6)  # c00..c05 staged
    # meanwhile: c00 rises to EQF 7 (already passed by the job), c11 drops, a new course and a withdrawal
    changed = {**levels(), "c00": {"eqf_level": 7}, "c11": {"eqf_level": 2}, "new": {"eqf_level": 8}}
    del changed["c03"]
    publish(store, changed, [sink])
    while evaluate_batch(store, job.id, "me", 6):
        pass
    assert switch(store, job.id, "me") is True
    assert es.eligible_course_ids("fund") == expected(store, 6)
    assert (
        cid("c00") in expected(store, 6)
        and cid("new") in expected(store, 6)
        and cid("c03") not in expected(store, 6)
    )
    have: set[str] = set()
    for entry in es.eligibility_changes_since("fund", 0):
        (have.add if entry.upsert else have.discard)(entry.course_id)
    assert have == set(expected(store, 6))  # the feed replays to the switched-in set


def test_a_later_change_supersedes_a_job_in_progress(store: CatalogueStore) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    publish(store, levels(), [EligibilitySink(es)])
    es.create_scheme(fund(3))
    first = jobs.submit(fund(5), create=False)
    jobs.claim(first.id, "me")
    evaluate_batch(store, first.id, "me", 5)
    second = jobs.submit(fund(7), create=False)
    assert jobs.get(first.id).status is JobStatus.SUPERSEDED and jobs.active("fund") == second
    assert evaluate_batch(store, first.id, "me", 5) is None  # its runner stops at the next batch
    jobs.run(second.id)
    assert es.eligible_course_ids("fund") == expected(store, 7)
    assert staged(store, first.id) == staged(store, second.id) == 0
    assert [j.id for j in jobs.history("fund")] == [second.id, first.id, second.id - 2]
    with pytest.raises(NotFound):
        jobs.submit(Scheme("nope", "Nope", None, ()), create=False)


def test_a_job_whose_runner_died_is_resumed_where_it_stopped(store: CatalogueStore) -> None:
    es = EligibilityStore(store)
    publish(store, levels(), [EligibilitySink(es)])
    jobs = SchemeJobs(store, stale_after=timedelta(minutes=5))
    job = jobs.submit(fund(4), create=True)
    assert jobs.claimable() == []  # queued, but not for long
    jobs.claim(job.id, "dead runner")
    assert evaluate_batch(store, job.id, "dead runner", 5) == 5
    assert not jobs.run(job.id, runner="eager").claimed  # the runner looks alive: hands off
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert jobs.claimable(later) == [job.id]
    impatient = SchemeJobs(store, stale_after=timedelta(0))
    run = impatient.run(job.id, runner="rescuer", batch=5)
    assert run.claimed and run.evaluated == 7 and run.batches == 2  # continued, not restarted
    finished = jobs.get(job.id)
    assert finished.status is JobStatus.SUCCEEDED and finished.attempts == 2 and finished.runner == "rescuer"
    assert es.eligible_course_ids("fund") == expected(store, 4)


def test_a_failing_job_is_failed_and_the_scheme_keeps_its_evaluation(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    publish(store, levels(), [EligibilitySink(es)])
    es.create_scheme(fund(3))
    job = jobs.submit(fund(6), create=False)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise ValueError("a bug in evaluation")

    monkeypatch.setattr(eligibility_jobs, "stage", broken)
    with pytest.raises(ValueError):
        jobs.run(job.id)
    failed = jobs.get(job.id)
    assert failed.status is JobStatus.FAILED and "a bug in evaluation" in (failed.error or "")
    assert (
        es.eligible_course_ids("fund") == expected(store, 3) and es.get_scheme("fund").rules == fund(3).rules
    )


def test_a_manual_decision_made_during_a_job_is_in_what_switches_in(store: CatalogueStore) -> None:
    es, jobs = EligibilityStore(store), SchemeJobs(store)
    publish(store, levels(), [EligibilitySink(es)])
    es.create_scheme(fund(3))
    job = jobs.submit(fund(6), create=False)
    jobs.claim(job.id, "me")
    while evaluate_batch(store, job.id, "me", 50):
        pass
    low = cid("c00")  # EQF 1: not eligible under either definition
    es.set_decision(ManualDecision("fund", low, True, "exception", "reg", datetime.now(UTC)))
    assert switch(store, job.id, "me") is True
    assert low in es.eligible_course_ids("fund") and es.get_eligibility("fund", low).manual
