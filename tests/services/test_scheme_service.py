"""Eligibility schemes through the service (services/schemes.py): one input schema, one permission
check per operation, InvalidInput naming the field, and evaluations queued as jobs."""

from __future__ import annotations

from typing import Any

import pytest

from course_catalogue.catalogue.eligibility_jobs import JobStatus, SchemeJobs
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.model import course_id
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.accounts import AccountService
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput, PermissionDenied
from course_catalogue.services.schemes import SchemeFields, SchemeService
from tests.registries import SOURCE, publish
from tests.sinks import EligibilitySink

RULES = [{"id": "eqf", "field": "eqf_level", "op": "between", "value": [4, 8], "message": "EQF 4-8"}]


def _setup(store: CatalogueStore) -> tuple[SchemeService, list[str], Actor, Actor, Actor]:
    """Eight courses of EQF 1..8, a delivery counter, two registries and a provider."""
    publish(
        store, {f"c{i}": {"eqf_level": i} for i in range(1, 9)}, [EligibilitySink(EligibilityStore(store))]
    )
    delivered: list[str] = []
    service = SchemeService(store, SchemeJobs(store), deliver=lambda: delivered.append("x"))
    accounts = AccountService(store)
    reg, _ = accounts.create(Actor.operator(), "Fund Agency", "registry", account_id="reg")
    other, _ = accounts.create(Actor.operator(), "Other Agency", "registry", account_id="other")
    provider, _ = accounts.create(Actor.operator(), "Uni", "provider", account_id="uni")
    return service, delivered, Actor(reg), Actor(other), Actor(provider)


def _run(service: SchemeService, job_id: int) -> None:
    assert service.jobs.run(job_id).job.status is JobStatus.SUCCEEDED


def _eligible(service: SchemeService) -> list[str]:
    return [found.course_id for found in service.courses("fund", eligible=True)]


def test_a_registry_defines_a_scheme_evaluated_by_its_job(store: CatalogueStore) -> None:
    service, _, reg, _, provider = _setup(store)
    fields = SchemeFields.from_json({"id": "fund", "name": "Skills fund", "rules": RULES})
    with pytest.raises(PermissionDenied):
        service.create(provider, fields)
    submitted = service.create(reg, fields)
    assert submitted.scheme.owner == "reg" and submitted.scheme.evaluated_at is None
    assert submitted.job.status is JobStatus.QUEUED and _eligible(service) == []  # nothing funded yet
    _run(service, submitted.job.id)
    assert _eligible(service) == sorted(course_id(SOURCE, f"c{i}") for i in range(4, 9))
    assert service.scheme("fund").evaluated_at is not None
    with pytest.raises(Conflict):
        service.create(reg, fields)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "f", "name": "F", "rules": RULES, "colour": "red"}, None),
        ({"id": 3, "name": "F", "rules": RULES}, "id"),
        ({"id": "f", "name": "F", "rules": RULES, "accredited": "Uni"}, "accredited"),
        ({"id": "f", "name": ["F"], "rules": RULES}, "name"),
        ({"id": "f", "name": "F"}, "rules"),
    ],
)
def test_bad_input_is_invalid_input_naming_the_field(
    store: CatalogueStore, body: dict[str, Any], field: str | None
) -> None:
    service, _, reg, _, _ = _setup(store)
    with pytest.raises(InvalidInput) as caught:
        service.create(reg, SchemeFields.from_json(body))
    assert caught.value.field == field
    assert service.schemes() == []


def test_bad_rules_and_ids_are_invalid_input(store: CatalogueStore) -> None:
    service, _, reg, _, _ = _setup(store)
    with pytest.raises(InvalidInput, match="not a course field"):
        service.create(
            reg, SchemeFields(id="f", name="F", rules=[{"id": "a", "field": "nope", "op": "present"}])
        )
    with pytest.raises(InvalidInput, match="scheme id"):
        service.create(reg, SchemeFields(id="Not A Slug", name="F", rules=RULES))
    assert service.schemes() == []


def test_only_the_owner_or_an_admin_changes_and_names_take_effect_at_once(store: CatalogueStore) -> None:
    service, _, reg, other, _ = _setup(store)
    _run(service, service.create(reg, SchemeFields(id="fund", name="Fund", rules=RULES)).job.id)
    with pytest.raises(PermissionDenied):
        service.change(other, "fund", SchemeFields(name="Mine now"))
    with pytest.raises(PermissionDenied):  # only an admin names another owner
        service.change(reg, "fund", SchemeFields(owner="other"))
    with pytest.raises(InvalidInput) as caught:
        service.change(reg, "fund", SchemeFields(id="renamed"))
    assert caught.value.field == "id"
    renamed = service.change(reg, "fund", SchemeFields(name="Skills fund", description="For adults"))
    assert renamed.job is None and renamed.scheme.name == "Skills fund"
    narrowed = service.change(reg, "fund", SchemeFields(rules=[{**RULES[0], "value": [6, 8]}]))
    assert narrowed.job is not None and len(_eligible(service)) == 5  # readers see the old evaluation
    _run(service, narrowed.job.id)
    assert len(_eligible(service)) == 3 and service.scheme("fund").name == "Skills fund"
    with pytest.raises(NotFound):
        service.change(reg, "nope", SchemeFields(name="x"))


def test_manual_decisions_override_the_rules_and_are_delivered(store: CatalogueStore) -> None:
    service, delivered, reg, other, _ = _setup(store)
    _run(service, service.create(reg, SchemeFields(id="fund", name="Fund", rules=RULES)).job.id)
    low = course_id(SOURCE, "c1")
    with pytest.raises(PermissionDenied):
        service.decide(other, "fund", low, True)
    with pytest.raises(InvalidInput) as caught:
        service.decide(reg, "fund", low, "yes")
    assert caught.value.field == "eligible"
    with pytest.raises(NotFound):
        service.decide(reg, "fund", "no-such-course", True)
    assert delivered == []  # nothing was written
    found = service.decide(reg, "fund", low, True, "  approved by the board ")
    assert found is not None and found.eligible and found.manual and delivered == ["x"]
    assert low in _eligible(service)
    assert [f.scheme_id for f in service.course_eligibility(low)] == ["fund"]
    cleared = service.decide(reg, "fund", low, None)
    assert cleared is not None and not cleared.eligible and not cleared.manual
    assert low not in _eligible(service) and delivered == ["x", "x"]


def test_reads_check_their_arguments(store: CatalogueStore) -> None:
    service, _, reg, _, _ = _setup(store)
    submitted = service.create(reg, SchemeFields(id="fund", name="Fund", rules=RULES))
    assert service.job("fund", submitted.job.id).id == submitted.job.id
    assert [job.id for job in service.job_history("fund")] == [submitted.job.id]
    _run(service, service.create(reg, SchemeFields(id="other", name="Other", rules=RULES)).job.id)
    with pytest.raises(NotFound):  # a job of another scheme
        service.job("other", submitted.job.id)
    with pytest.raises(NotFound):
        service.courses("nope")
    with pytest.raises(InvalidInput):
        service.courses("fund", limit=0)
    with pytest.raises(NotFound):
        service.course_eligibility("no-such-course")
    assert [s.id for s in service.schemes("reg")] == ["fund", "other"] and service.schemes("uni") == []
