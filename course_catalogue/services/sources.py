"""Source registration: register, change and retire a source, for every interface alike.

One input schema (`SourceFields`, read from an API body, a dashboard form or CLI options), one
set of rules (`MIN_SCHEDULE_MINUTES`, mapping names, URLs, owner, provider, parameters), one
permission check per operation (`catalogue.permissions` through `Actor`), one store write per
operation (a registration inserts with `save_source(new=True)`, so two registrations of one id
cannot both succeed). Errors: InvalidInput (the field at fault), PermissionDenied, and the
domain's NotFound, Conflict, QuotaExceeded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.changes import ChangeSink
from course_catalogue.catalogue.entitlements import PUBLISHES_FOR_OTHERS
from course_catalogue.catalogue.errors import ConfigurationError, Conflict, NotFound
from course_catalogue.catalogue.permissions import (
    can_assign_owner,
    can_change_source,
    can_mark_publishers,
    can_register_source,
    is_admin,
)
from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.sources import (
    FORMATS,
    Source,
    SourceParameters,
    check_parameters,
    check_source_cap,
    is_retired,
    registered_provider,
    set_parameters,
    source_parameters,
)
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.transforms.levels import framework_keys
from course_catalogue.services import publish
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.inputs import UNSET, InputFields
from course_catalogue.services.locks import SourceLocks

MIN_SCHEDULE_MINUTES = 15
"""Pull no more often than this: a feed is a catalogue, not a ticker."""
MAPPING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A bundled spec's name (mappings/specs/<name>.toml): what accounts may choose, never a path."""


@dataclass(frozen=True)
class SourceFields(InputFields):
    """The input of register and change: the fields of a source an interface received.

    Types are checked by `from_json`; values by the service. `provider` and `parameters` None
    remove them; a `parameters` mapping changes only the parameters it names (None or "" removes
    one) on change, and is the whole set on registration.
    """

    id: Any = UNSET
    format: Any = UNSET
    name: Any = UNSET
    url: Any = UNSET
    mapping: Any = UNSET
    schedule_minutes: Any = UNSET
    owner: Any = UNSET
    provider: Any = UNSET
    parameters: Any = UNSET

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceFields:
        """From a JSON object (API body): unknown keys and wrong types are InvalidInput."""
        known = cls.known_keys(data)
        for key in ("id", "format", "name", "url", "mapping", "owner"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InvalidInput(f"{key} must be a string.", field=key)
        minutes = data.get("schedule_minutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise InvalidInput(_SCHEDULE_RULE, field="schedule_minutes")
        return cls(**{key: data[key] for key in known if key in data})


_SCHEDULE_RULE = f"schedule_minutes must be a whole number >= {MIN_SCHEDULE_MINUTES}."


@dataclass(frozen=True)
class Retired:
    """What retiring a source returns: the source as now stored, and the withdrawal run."""

    source: Source
    report: RunReport


@dataclass
class SourceService:
    """Register, change and retire sources. `max_sources_per_account`: 0 means no cap."""

    store: CatalogueStore
    locks: SourceLocks
    sinks: Sequence[ChangeSink] = ()
    max_sources_per_account: int = 0
    _frameworks: Mapping[str, str] = field(default_factory=framework_keys)

    def register(self, actor: Actor, given: SourceFields) -> Source:
        """A new source owned by the actor (an admin or the operator may name another owner, or
        none). Re-registering a retired source of one's own starts it afresh (its tombstones
        stay). Conflict when the id is taken, QuotaExceeded past MAX_SOURCES_PER_ACCOUNT."""
        actor.permit(can_register_source, "Only provider and admin accounts register sources.")
        for key in ("id", "format"):
            if not isinstance(getattr(given, key), str):
                raise InvalidInput(f"{key} is required.", field=key)
        self._check_values(actor, given)
        default_owner = None if actor.may(can_assign_owner) else actor.id
        owner = self._owner(actor, given, default_owner)
        known = self._find(given.id)
        if known is not None and not (is_retired(known) and actor.may(lambda a: can_change_source(a, known))):
            raise Conflict(f"source {given.id!r} already exists")
        if known is None or known.owner != owner:  # a retired source of one's own is no new one
            self._check_quota(owner)
        try:
            fresh = Source(
                id=given.id,
                format=given.format,
                name=_value(given.name, None) or given.id,
                url=_value(given.url, None),
                mapping=_value(given.mapping, None),
                schedule_minutes=_value(given.schedule_minutes, None),
                owner=owner,
            )
        except ConfigurationError as exc:
            raise InvalidInput(str(exc), field="id") from None
        source = self._build(fresh, given, merge=False)
        self.store.save_source(source, new=known is None)
        return source

    def change(self, actor: Actor, source_id: str, given: SourceFields) -> Source:
        """The source with the given fields changed (the others kept); the id never changes and
        only an admin (or the operator) changes the owner."""
        source = self.changeable(actor, source_id)
        if given.given("id") and given.id != source_id:
            raise InvalidInput("A source's id cannot change.", field="id")
        self._check_values(actor, given)
        owner = self._owner(actor, given, source.owner)
        if owner != source.owner:
            self._check_quota(owner)
        changes = {
            key: getattr(given, key)
            for key in ("name", "url", "format", "mapping", "schedule_minutes")
            if given.given(key)
        }
        updated = self._build(replace(source, owner=owner, **changes), given, merge=True)
        self.store.save_source(updated)
        return updated

    def retire(self, actor: Actor, source_id: str) -> Retired:
        """Withdraw every course of the source as a tombstone and unschedule it (nothing is
        deleted). Conflict (AlreadyRunning) while a harvest of it runs."""
        source = self.changeable(actor, source_id)
        report = publish.retire(self.store, source, locks=self.locks, sinks=self.sinks)
        return Retired(self.store.get_source(source_id), report)

    def set_publishing(self, actor: Actor, source_id: str, *, for_others: bool) -> Source:
        """Whether the source may publish courses of any provider (an aggregator's or a registry's
        feed) or only of its owner's organisations. Admins (and the operator) only."""
        actor.permit(can_mark_publishers, "Only an admin decides who a source may publish for.")
        source = self.store.get_source(source_id)
        settings = {k: v for k, v in source.settings.items() if k != PUBLISHES_FOR_OTHERS}
        if for_others:
            settings[PUBLISHES_FOR_OTHERS] = True
        updated = replace(source, settings=MappingProxyType(settings))
        self.store.save_source(updated)
        return updated

    def changeable(self, actor: Actor, source_id: str) -> Source:
        """The source, if the actor may change it (NotFound, PermissionDenied)."""
        source = self.store.get_source(source_id)
        actor.permit(
            lambda a: can_change_source(a, source), f"Your account does not own source {source_id!r}."
        )
        return source

    # --- rules ---------------------------------------------------------------------------

    def _check_values(self, actor: Actor, given: SourceFields) -> None:
        if given.given("format") and given.format not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}.", field="format")
        url = _value(given.url, None)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise InvalidInput("url must be an http(s) URL.", field="url")
        mapping = _value(given.mapping, None)
        if mapping is not None:
            check_mapping(mapping, allow_path=actor.is_operator)
        minutes = _value(given.schedule_minutes, None)
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < MIN_SCHEDULE_MINUTES
        ):
            raise InvalidInput(_SCHEDULE_RULE, field="schedule_minutes")

    def _owner(self, actor: Actor, given: SourceFields, default: str | None) -> str | None:
        """The owner the input may set: only an admin names one, and it must be an account."""
        if not given.given("owner"):
            return default
        owner: str | None = given.owner
        actor.permit(
            lambda a: can_assign_owner(a) or owner == actor.id, "Only an admin can choose a source's owner."
        )
        if owner is not None:
            AccountStore(self.store).get_account(owner)  # NotFound for an unknown account
        return owner

    def _check_quota(self, owner: str | None) -> None:
        """QuotaExceeded when one more source of `owner` passes the cap (admins, nobody: none)."""
        if owner is None or self.max_sources_per_account <= 0:
            return
        if is_admin(AccountStore(self.store).get_account(owner)):
            return
        check_source_cap(self.store.list_sources(), owner, self.max_sources_per_account)

    def _build(self, source: Source, given: SourceFields, *, merge: bool) -> Source:
        """`source` with the input's provider and parameters, checked by the domain."""
        try:
            if given.given("provider"):
                settings = {key: value for key, value in source.settings.items() if key != "provider"}
                if given.provider is not None:
                    settings["provider"] = given.provider
                source = replace(source, settings=MappingProxyType(settings))
                registered_provider(source)
            if given.given("parameters"):
                if given.parameters is None:
                    source = set_parameters(source, SourceParameters())
                else:
                    current = source_parameters(source) if merge else None
                    source = set_parameters(
                        source, check_parameters(given.parameters, self._frameworks, current)
                    )
        except ConfigurationError as exc:
            raise InvalidInput(str(exc)) from None
        return source

    def _find(self, source_id: str) -> Source | None:
        try:
            return self.store.get_source(source_id)
        except NotFound:
            return None


def check_mapping(mapping: str, *, allow_path: bool = False) -> None:
    """InvalidInput unless `mapping` names a usable bundled spec (or, with `allow_path`, for the
    operator, a spec file on this machine)."""
    is_path = mapping.endswith(".toml") or "/" in mapping or "\\" in mapping
    if not (allow_path and is_path) and not MAPPING_NAME.match(mapping):
        raise InvalidInput("mapping must be the name of a mapping spec, e.g. 'edx-csv'.", field="mapping")
    try:
        load_spec(mapping)
    except ConfigurationError:
        raise InvalidInput(f"There is no usable mapping spec named {mapping!r}.", field="mapping") from None


def _value(given: Any, default: Any) -> Any:
    return default if given is UNSET else given
