"""Accounts and tokens through the service (services/accounts.py): one permission check, one rule
set, and an account created together with its first token."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.errors import Conflict
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.accounts import AccountService
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput, PermissionDenied


def test_accounts_are_created_with_their_first_token_by_admins_only(store: CatalogueStore) -> None:
    service, accounts = AccountService(store), AccountStore(store)
    admin, _ = service.create(Actor.operator(), "Ops", "admin")
    zed, issued = service.create(Actor(admin), "Uni Zed", "provider", account_id="zed")
    assert accounts.authenticate(issued.plaintext) is not None and zed.role is Role.PROVIDER
    with pytest.raises(PermissionDenied):
        service.create(Actor(zed), "Other", "provider")
    with pytest.raises(InvalidInput):
        service.create(Actor(admin), " ", "provider")
    with pytest.raises(InvalidInput):
        service.create(Actor(admin), "Bad role", "superuser")
    with pytest.raises(Conflict):  # the id is taken: nothing is written, no stray token either
        service.create(Actor(admin), "Uni Zed again", "provider", account_id="zed")
    assert len(accounts.list_tokens("zed")) == 1


def test_an_account_rotates_and_revokes_only_its_own_tokens(store: CatalogueStore) -> None:
    service = AccountService(store)
    zed, first = service.create(Actor.operator(), "Uni Zed", "provider")
    yew, _ = service.create(Actor.operator(), "Yew", "provider")
    second = service.issue_token(Actor(zed), zed.id, "rotation")
    with pytest.raises(PermissionDenied):
        service.issue_token(Actor(yew), zed.id)
    with pytest.raises(PermissionDenied):
        service.revoke_token(Actor(yew), first.token.id)
    assert service.revoke_token(Actor(zed), first.token.id).revoked_at is not None
    assert [t.id for t in service.tokens(Actor(zed), zed.id) if t.active] == [second.token.id]


def test_organisations_are_granted_and_revoked_by_admins_and_read_by_their_account(
    store: CatalogueStore,
) -> None:
    service = AccountService(store)
    admin, _ = service.create(Actor.operator(), "Ops", "admin")
    zed, _ = service.create(Actor(admin), "Uni Zed", "provider", account_id="zed")
    yew, _ = service.create(Actor(admin), "Yew", "provider", account_id="yew")
    with pytest.raises(PermissionDenied):  # a provider cannot vouch for itself
        service.grant_organisation(Actor(zed), "zed", {"name": "Zed University"})
    org = service.grant_organisation(
        Actor(admin), "zed", {"name": "Zed University", "country": "FRA", "aliases": ["Université Zed"]}
    )
    assert org.granted_by == admin.id and org.aliases == ("Université Zed",)
    assert service.grant_organisation(Actor.operator(), "yew", {"name": "Yew"}).granted_by is None
    for bad in (
        {"name": "X", "motto": "?"},  # a field the grant does not take
        {"name": 7},
        {"name": "X", "aliases": "one name"},
        {"name": " "},
        {"name": "X", "country": "Narnia"},
    ):
        with pytest.raises(InvalidInput):
            service.grant_organisation(Actor(admin), "zed", bad)
    assert [o.name for o in service.organisations(Actor(zed), "zed")] == ["Zed University"]
    with pytest.raises(PermissionDenied):
        service.organisations(Actor(yew), "zed")
    with pytest.raises(PermissionDenied):
        service.revoke_organisation(Actor(zed), "zed", org.id)
    assert service.revoke_organisation(Actor(admin), "zed", org.id).id == org.id
    assert service.organisations(Actor(admin), "zed") == []
