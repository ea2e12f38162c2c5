"""The source operations' one rule set, whichever interface calls them (services/sources.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.errors import Conflict, QuotaExceeded
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.mappings.spec import load_spec
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput, PermissionDenied
from course_catalogue.services.locks import open_locks
from course_catalogue.services.sources import MIN_SCHEDULE_MINUTES, SourceFields, SourceService


@pytest.fixture
def service(store: CatalogueStore, tmp_path: Path) -> SourceService:
    accounts = AccountStore(store)
    accounts.create_account("zed", "Uni Zed", Role.PROVIDER)
    accounts.create_account("yew", "Yew College", Role.PROVIDER)
    accounts.create_account("boss", "Admin", Role.ADMIN)
    accounts.create_account("reg", "Registry", Role.REGISTRY)
    return SourceService(store, open_locks("sqlite://", tmp_path / "locks"), max_sources_per_account=2)


def actor(store: CatalogueStore, account_id: str) -> Actor:
    return Actor(AccountStore(store).get_account(account_id))


def test_a_provider_registers_a_source_it_then_owns(service: SourceService, store: CatalogueStore) -> None:
    fields = SourceFields(
        id="zed-feed", format="csv", mapping="edx-csv", schedule_minutes=MIN_SCHEDULE_MINUTES
    )
    source = service.register(actor(store, "zed"), fields)
    assert source.owner == "zed" and source.name == "zed-feed"
    assert store.get_source("zed-feed") == source


@pytest.mark.parametrize("who", ["zed", "boss", None])
def test_every_caller_gets_the_same_schedule_and_mapping_rules(
    service: SourceService, store: CatalogueStore, who: str | None
) -> None:
    caller = actor(store, who) if who else Actor.operator()
    with pytest.raises(InvalidInput) as short:
        service.register(
            caller, SourceFields(id="a", format="csv", schedule_minutes=MIN_SCHEDULE_MINUTES - 1)
        )
    assert short.value.field == "schedule_minutes"
    with pytest.raises(InvalidInput) as unknown:
        service.register(caller, SourceFields(id="a", format="csv", mapping="no-such-spec"))
    assert unknown.value.field == "mapping"
    with pytest.raises(InvalidInput):
        service.register(caller, SourceFields(id="a", format="csv", url="ftp://feeds.example/a.csv"))
    with pytest.raises(InvalidInput):
        service.register(caller, SourceFields(id="a", format="rss"))
    with pytest.raises(InvalidInput):
        service.register(caller, SourceFields(id="Not An Id", format="csv"))


def test_only_the_operator_names_a_spec_file(service: SourceService, store: CatalogueStore) -> None:
    spec_file = load_spec("edx-csv").path  # the bundled spec, named by its path on this machine
    with pytest.raises(InvalidInput):
        service.register(actor(store, "boss"), SourceFields(id="a", format="csv", mapping=spec_file))
    assert service.register(Actor.operator(), SourceFields(id="a", format="csv", mapping=spec_file)).mapping


def test_permissions_are_checked_once_per_operation(service: SourceService, store: CatalogueStore) -> None:
    with pytest.raises(PermissionDenied):
        service.register(actor(store, "reg"), SourceFields(id="r", format="csv"))
    service.register(actor(store, "zed"), SourceFields(id="z", format="csv"))
    with pytest.raises(PermissionDenied):
        service.change(actor(store, "yew"), "z", SourceFields(name="mine now"))
    with pytest.raises(PermissionDenied):
        service.change(actor(store, "zed"), "z", SourceFields(owner="yew"))
    assert service.change(actor(store, "boss"), "z", SourceFields(owner="yew")).owner == "yew"


def test_a_taken_id_is_a_conflict_even_when_two_registrations_race(
    service: SourceService, store: CatalogueStore
) -> None:
    service.register(actor(store, "zed"), SourceFields(id="z", format="csv"))
    with pytest.raises(Conflict):
        service.register(actor(store, "yew"), SourceFields(id="z", format="csv"))
    # the store's insert is the last word: a registration that read "free" before the other wrote
    with pytest.raises(Conflict):
        store.save_source(Source(id="z", format="json", owner="yew"), new=True)
    assert store.get_source("z").owner == "zed"


def test_a_change_keeps_what_it_does_not_name(service: SourceService, store: CatalogueStore) -> None:
    service.register(
        actor(store, "zed"),
        SourceFields(id="z", format="csv", url="https://feeds.example/z.csv", parameters={"currency": "EUR"}),
    )
    changed = service.change(actor(store, "zed"), "z", SourceFields(parameters={"country": "IE"}))
    assert changed.url == "https://feeds.example/z.csv"
    assert changed.settings["parameters"] == {"currency": "EUR", "country": "IRL"}
    with pytest.raises(InvalidInput):
        service.change(actor(store, "zed"), "z", SourceFields(id="other"))


def test_the_source_quota_applies_to_providers_not_admins(
    service: SourceService, store: CatalogueStore
) -> None:
    for n in range(2):
        service.register(actor(store, "zed"), SourceFields(id=f"z{n}", format="csv"))
    with pytest.raises(QuotaExceeded):
        service.register(actor(store, "zed"), SourceFields(id="z2", format="csv"))
    for n in range(3):
        service.register(actor(store, "boss"), SourceFields(id=f"b{n}", format="csv", owner="boss"))


def test_json_input_is_typed_before_it_reaches_the_rules() -> None:
    with pytest.raises(InvalidInput, match="Unknown fields: colour"):
        SourceFields.from_json({"id": "a", "colour": "red"})
    with pytest.raises(InvalidInput):
        SourceFields.from_json({"id": "a", "schedule_minutes": "60"})
    with pytest.raises(InvalidInput):
        SourceFields.from_json({"id": 5})
    assert SourceFields.from_json({"id": "a", "format": "csv"}).given("format")
