"""Verified provider identities: matching a record's provider against granted organisations, the
policy per source, and the grants' storage (SQLite and PostgreSQL)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from course_catalogue.catalogue.account_store import AccountStore, publishing_policy
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.entitlements import (
    NOT_ENTITLED,
    PUBLISHES_FOR_OTHERS,
    EntitledOrganisation,
    PublishingPolicy,
    name_key,
)
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.model import Organisation, lang_text
from course_catalogue.catalogue.runs import Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore

ZED = EntitledOrganisation(
    "g1",
    "zed",
    "Université de Zed",
    aliases=("University of Zed",),
    identifier="https://ror.org/0zed",
    country="FRA",
)


def org(
    name: str | dict[str, str], country: str | None = None, identifier: str | None = None
) -> Organisation:
    return Organisation(name=lang_text(name), country=country, identifier=identifier)


@pytest.mark.parametrize(
    ("provider", "allowed"),
    [
        (org("Université de Zed"), True),
        (org("  UNIVERSITÉ   de zed "), True),  # case and spacing do not matter
        (org("Universite\u0301 de Zed"), True),  # NFKC: a combining accent is the same letter
        (org({"fr": "Université de Zed", "en": "University of Zed"}), True),  # every name is known
        (org({"fr": "Université de Zed", "de": "Harvard University"}), False),  # one name is not
        (org("Université de Zed", country="FRA"), True),
        (org("Université de Zed", country="USA"), False),  # both state a country: it must agree
        (org("Université de Zed", identifier="https://ror.org/0zed/"), True),
        (org("Université de Zed", identifier="https://ror.org/03vek6s52"), False),
        (org("Universitе de Zed"), False),  # a Cyrillic "е": another name
        (org("Zed"), False),
        (org(""), False),
    ],
)
def test_a_provider_matches_only_a_granted_organisation(provider: Organisation, allowed: bool) -> None:
    assert ZED.matches(provider) is allowed
    issue = PublishingPolicy("zed", (ZED,)).check(provider)
    assert (issue is None) is allowed
    if issue is not None:
        assert issue.severity is Severity.ERROR and issue.code == NOT_ENTITLED and "'zed'" in issue.message


def test_an_account_without_organisations_publishes_for_nobody() -> None:
    issue = PublishingPolicy("new", ()).check(org("Anything"))
    assert issue is not None and "no organisation yet" in issue.message
    assert name_key(" A  b\tC ") == "a b c"


def test_grants_are_stored_listed_and_revoked(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("zed", "Zed", Role.PROVIDER)
    granted = accounts.grant_organisation(
        "zed", " Université  de Zed ", country="fra", aliases=["University of Zed", " "], granted_by="ops"
    )
    assert granted.name == "Université de Zed" and granted.country == "FRA"
    assert granted.aliases == ("University of Zed",) and granted.granted_by == "ops"
    with pytest.raises(Conflict):
        accounts.grant_organisation("zed", "université de zed")  # the same name, folded
    with pytest.raises(ValueError, match="alpha-3"):
        accounts.grant_organisation("zed", "Other", country="France")
    with pytest.raises(ValueError):
        accounts.grant_organisation("zed", "  ")
    with pytest.raises(NotFound):
        accounts.grant_organisation("nobody", "X")
    assert accounts.organisations("zed") == [granted]
    assert accounts.revoke_organisation("zed", granted.id) == granted
    assert accounts.organisations("zed") == []
    with pytest.raises(NotFound):
        accounts.revoke_organisation("zed", granted.id)


def test_which_sources_are_restricted(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("zed", "Zed", Role.PROVIDER)
    accounts.create_account("ops", "Ops", Role.ADMIN)
    accounts.grant_organisation("zed", "Uni Zed")
    restricted = publishing_policy(store, Source("s", "csv", owner="zed"))
    assert restricted is not None and [o.name for o in restricted.organisations] == ["Uni Zed"]
    assert publishing_policy(store, Source("s", "csv")) is None  # an operator's source
    assert publishing_policy(store, Source("s", "csv", owner="ops")) is None  # an admin's
    marked = Source("s", "csv", owner="zed", settings=MappingProxyType({PUBLISHES_FOR_OTHERS: True}))
    assert publishing_policy(store, marked) is None  # an aggregator an admin allowed
    gone = publishing_policy(store, Source("s", "csv", owner="deleted-account"))
    assert gone is not None and gone.organisations == ()
