"""Eligibility schemes (individual learning account schemes and the like), for every interface alike.

A registry defines a scheme (rules over course fields, a list of accredited providers), owns it,
edits it and decides on single courses; readers (anyone) see every scheme, which courses it
funds and why. The operations:

* `create` and `change` take one input schema (`SchemeFields`, from an API body or CLI options)
  and check one permission each (`can_create_scheme`, `can_change_scheme` through `Actor`). A
  new scheme, or a change of its rules or accredited list, is written in one transaction with a
  queued evaluation job (`SchemeJobs.submit`): readers keep the previous evaluation, whole, until
  the job switches the new one in. Starting the job is the interface's choice (a Celery worker, or
  inline: the returned `Submitted` carries it). A name, description or owner change is written at
  once (`EligibilityStore.rename_scheme`, one transaction).
* `decide` records or drops a manual decision on one course (it overrides the rules) and
  re-evaluates that course; then what changed is delivered (the index outbox, the webhook queue)
  through the `deliver` callback the wiring gives.
* Reads (`schemes`, `scheme`, `jobs`, `job`, `courses`, `counts`, `decisions`,
  `course_eligibility`) are public.

Errors: InvalidInput (the field at fault), PermissionDenied, and the domain's NotFound (scheme,
course, job, owner account) and Conflict (a scheme id taken).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.eligibility import ManualDecision, Scheme, parse_rules, rules_to_data
from course_catalogue.catalogue.eligibility_jobs import SchemeJob, SchemeJobs
from course_catalogue.catalogue.eligibility_store import (
    CourseEligibility,
    EligibilityStore,
    definition_scheme,
)
from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.permissions import can_change_scheme, can_create_scheme, is_admin
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.inputs import UNSET, InputFields

MAX_PAGE = 1000
"""The most evaluated courses one `courses` call returns."""


@dataclass(frozen=True)
class SchemeFields(InputFields):
    """The input of create and change. Types are checked by `from_json` (and by the service for
    other callers); rules by `catalogue.eligibility.parse_rules`. `owner` None: no owner."""

    id: Any = UNSET
    name: Any = UNSET
    description: Any = UNSET
    rules: Any = UNSET
    accredited: Any = UNSET
    owner: Any = UNSET

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchemeFields:
        """From a JSON object (API body): unknown keys are InvalidInput."""
        known = cls.known_keys(data)
        found = cls(**{key: data[key] for key in known if key in data})
        found.check_types()
        return found

    def check_types(self) -> None:
        for key in ("id", "name", "description"):
            if self.given(key) and not isinstance(getattr(self, key), str):
                raise InvalidInput(f"{key} must be a string.", field=key)
        if self.given("accredited") and (
            not isinstance(self.accredited, list | tuple)
            or not all(isinstance(a, str) for a in self.accredited)
        ):
            raise InvalidInput(
                "accredited must be a list of provider names or identifiers.", field="accredited"
            )
        if self.given("owner") and self.owner is not None and not isinstance(self.owner, str):
            raise InvalidInput("owner must be an account id or null.", field="owner")


@dataclass(frozen=True)
class Submitted:
    """A definition waiting for its evaluation: the scheme as readers see it now (a new scheme:
    not evaluated yet, funding nothing) and the job that will switch the evaluation in."""

    scheme: Scheme
    job: SchemeJob


@dataclass(frozen=True)
class Changed:
    """What `change` did: `job` None when only the name, description or owner changed (at once)."""

    scheme: Scheme
    job: SchemeJob | None


@dataclass
class SchemeService:
    """`deliver`: what follows a write that changed eligibility (index outbox, webhook queue)."""

    store: CatalogueStore
    jobs: SchemeJobs
    deliver: Callable[[], None] = field(default=lambda: None)

    @property
    def _eligibility(self) -> EligibilityStore:
        return EligibilityStore(self.store)

    # --- writes ----------------------------------------------------------------------------------

    def create(self, actor: Actor, given: SchemeFields) -> Submitted:
        """A new scheme owned by the actor (an admin or the operator may name another owner, or
        none) and its first evaluation job; until the job completes the scheme funds nothing."""
        actor.permit(can_create_scheme, "Only registry and admin accounts define eligibility schemes.")
        given.check_types()
        if not given.given("rules"):
            raise InvalidInput("rules are required.", field="rules")
        owner = self._owner(actor, given, actor.id)
        scheme = self._scheme(given, None, owner)
        job = self.jobs.submit(scheme, create=True, requested_by=actor.id)
        return Submitted(self._eligibility.get_scheme(scheme.id), job)

    def change(self, actor: Actor, scheme_id: str, given: SchemeFields) -> Changed:
        """Change name, description or owner (at once), or rules or accredited list (a job
        evaluates every course again). A change made while a job runs is made to what that job
        will switch in (a rule change supersedes the job)."""
        known = self.changeable(actor, scheme_id)
        given.check_types()
        if given.given("id") and given.id != scheme_id:
            raise InvalidInput("A scheme's id cannot change.", field="id")
        pending = self.jobs.active(scheme_id)
        base = definition_scheme(pending.definition, scheme_id) if pending is not None else known
        base = replace(base, created_at=known.created_at, evaluated_at=known.evaluated_at)
        changed = self._scheme(given, base, self._owner(actor, given, base.owner))
        if (rules_to_data(changed.rules), changed.accredited) == (rules_to_data(base.rules), base.accredited):
            updated = self._eligibility.rename_scheme(
                scheme_id, name=changed.name, description=changed.description, owner=changed.owner
            )
            return Changed(updated, None)
        job = self.jobs.submit(changed, create=False, requested_by=actor.id)
        return Changed(self._eligibility.get_scheme(scheme_id), job)

    def decide(
        self, actor: Actor, scheme_id: str, course_id: str, eligible: object, note: object = ""
    ) -> CourseEligibility | None:
        """Record a manual decision (`eligible` True or False, with a note) that overrides the rules
        for the course, or drop it (`eligible` None: the rules decide again); the course is
        re-evaluated at once. Returns its standing, or None while the scheme's first evaluation
        is still running (that evaluation applies the decision)."""
        self.changeable(actor, scheme_id)
        if eligible is not None and not isinstance(eligible, bool):
            raise InvalidInput("eligible must be true, false or null.", field="eligible")
        if not isinstance(note, str):
            raise InvalidInput("note must be a string.", field="note")
        self.store.get_course(course_id)  # NotFound for an unknown course
        if eligible is None:
            self._eligibility.clear_decision(scheme_id, course_id)
        else:
            decision = ManualDecision(
                scheme_id, course_id, eligible, note.strip(), actor.id, datetime.now(UTC)
            )
            self._eligibility.set_decision(decision)
        self.deliver()
        try:
            return self._eligibility.get_eligibility(scheme_id, course_id)
        except NotFound:
            return None

    def changeable(self, actor: Actor, scheme_id: str) -> Scheme:
        """The scheme, if the actor may change it (NotFound, PermissionDenied)."""
        scheme = self._eligibility.get_scheme(scheme_id)
        actor.permit(
            lambda a: can_change_scheme(a, scheme.owner), f"Your account does not own scheme {scheme_id!r}."
        )
        return scheme

    # --- reads (public) --------------------------------------------------------------------------

    def schemes(self, owner: str | None = None) -> list[Scheme]:
        """Every scheme (of one owner), in id order."""
        return self._eligibility.list_schemes(owner)

    def scheme(self, scheme_id: str) -> Scheme:
        return self._eligibility.get_scheme(scheme_id)

    def latest_job(self, scheme_id: str) -> SchemeJob | None:
        found = self.jobs.history(scheme_id, limit=1)
        return found[0] if found else None

    def job_history(self, scheme_id: str, limit: int = 20) -> list[SchemeJob]:
        """The scheme's evaluation jobs, newest first (NotFound for an unknown scheme)."""
        self._eligibility.get_scheme(scheme_id)
        return self.jobs.history(scheme_id, limit=limit)

    def job(self, scheme_id: str, job_id: int) -> SchemeJob:
        """One evaluation job of the scheme (NotFound when it belongs to another)."""
        job = self.jobs.get(job_id)
        if job.scheme_id != scheme_id:
            raise NotFound(f"scheme {scheme_id!r} has no job {job_id}")
        return job

    def courses(
        self, scheme_id: str, *, eligible: bool | None = None, after: str | None = None, limit: int = 100
    ) -> list[CourseEligibility]:
        """The scheme's evaluated courses in id order after `after` (eligible or not, or both)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be a whole number from 1 to {MAX_PAGE}.", field="limit")
        self._eligibility.get_scheme(scheme_id)
        return self._eligibility.scheme_courses(scheme_id, eligible=eligible, after=after, limit=limit)

    def counts(self, scheme_id: str) -> tuple[int, int]:
        """(eligible, not eligible) courses of the scheme's current evaluation."""
        self._eligibility.get_scheme(scheme_id)
        return self._eligibility.counts(scheme_id)

    def decisions(self, scheme_id: str, limit: int = 100) -> list[ManualDecision]:
        """The scheme's manual decisions, newest first (public, like the rest of a scheme)."""
        self._eligibility.get_scheme(scheme_id)
        return self._eligibility.list_decisions(scheme_id, limit)

    def course_eligibility(self, course_id: str) -> list[CourseEligibility]:
        """The course's standing in every scheme (NotFound for an unknown course)."""
        self.store.get_course(course_id)
        return self._eligibility.course_eligibility(course_id)

    # --- rules -----------------------------------------------------------------------------------

    def _scheme(self, given: SchemeFields, base: Scheme | None, owner: str | None) -> Scheme:
        """The scheme the input describes over `base` (a change keeps what it does not give)."""

        def pick(name: str, default: Any) -> Any:
            return getattr(given, name) if given.given(name) else default

        try:
            rules = parse_rules(given.rules) if given.given("rules") else base.rules if base else ()
        except ValueError as exc:
            raise InvalidInput(str(exc), field="rules") from None
        try:
            return Scheme(
                id=base.id if base else pick("id", ""),
                name=pick("name", base.name if base else ""),
                owner=owner,
                rules=rules,
                accredited=tuple(pick("accredited", base.accredited if base else ())),
                description=pick("description", base.description if base else ""),
                created_at=base.created_at if base else None,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def _owner(self, actor: Actor, given: SchemeFields, default: str | None) -> str | None:
        """Only an admin (or the operator) names a scheme's owner, and it must be an account."""
        if not given.given("owner"):
            return default
        owner: str | None = given.owner
        actor.permit(lambda a: is_admin(a) or owner == actor.id, "Only an admin can choose a scheme's owner.")
        if owner is not None:
            AccountStore(self.store).get_account(owner)  # NotFound for an unknown account
        return owner
