"""Accounts, API tokens and the organisations an account may publish for, for every interface
alike (the JSON API and the CLI).

Each operation checks one permission (`catalogue.permissions`: an admin manages accounts and
grants organisations; an account issues and revokes its own tokens and sees its own
organisations), validates its input once (InvalidInput: a bad name, role, id or organisation
field) and writes in one transaction (an account is created with its first token). A token's
plaintext exists only in the value these operations return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import (
    Account,
    ApiToken,
    IssuedToken,
    check_account_id,
    parse_role,
    slug_for,
)
from course_catalogue.catalogue.entitlements import EntitledOrganisation
from course_catalogue.catalogue.permissions import (
    can_grant_organisations,
    can_manage_accounts,
    can_manage_tokens,
)
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput

GRANT_FIELDS = frozenset({"name", "identifier", "country", "aliases"})
"""What a grant of an organisation names: `name` (required), `identifier` (an IRI or registry id
records state), `country` (ISO 3166-1 alpha-3), `aliases` (other names of it, a list)."""


@dataclass
class AccountService:
    store: CatalogueStore

    @property
    def _accounts(self) -> AccountStore:
        return AccountStore(self.store)

    def create(
        self,
        actor: Actor,
        name: object,
        role: object,
        *,
        account_id: object = None,
        label: str = "first token",
    ) -> tuple[Account, IssuedToken]:
        """A new account (its id: `account_id`, else a slug of its name) and its first token."""
        actor.permit(can_manage_accounts, "Only an admin creates accounts.")
        if not isinstance(name, str) or not name.strip() or not isinstance(role, str):
            raise InvalidInput("name and role are required strings.")
        if account_id is not None and not isinstance(account_id, str):
            raise InvalidInput("id must be a string.", field="id")
        try:
            chosen = check_account_id(account_id or slug_for(name))
            return self._accounts.create_account_with_token(chosen, name, parse_role(role), label)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def accounts(self, actor: Actor) -> list[Account]:
        """Every account, in id order: admins only."""
        actor.permit(can_manage_accounts, "Only an admin lists accounts.")
        return self._accounts.list_accounts()

    def issue_token(self, actor: Actor, account_id: str, label: object = "") -> IssuedToken:
        """Another token for the account (rotation): an admin for anyone, an account for itself."""
        actor.permit(
            lambda a: can_manage_tokens(a, account_id), "You may only issue tokens for your account."
        )
        if not isinstance(label, str):
            raise InvalidInput("label must be a string.", field="label")
        return self._accounts.issue_token(account_id, label)

    def revoke_token(self, actor: Actor, token_id: str) -> ApiToken:
        """Revoke a token for good: an admin any, an account its own."""
        token = self._accounts.get_token(token_id)
        actor.permit(lambda a: can_manage_tokens(a, token.account_id), "You may only revoke your own tokens.")
        return self._accounts.revoke_token(token_id)

    def tokens(self, actor: Actor, account_id: str) -> list[ApiToken]:
        """An account's tokens (never their secrets): the account itself, or an admin."""
        actor.permit(lambda a: can_manage_tokens(a, account_id), "You may only list your own tokens.")
        self._accounts.get_account(account_id)  # NotFound for an unknown account
        return self._accounts.list_tokens(account_id)

    def organisations(self, actor: Actor, account_id: str) -> list[EntitledOrganisation]:
        """The organisations the account may publish for: the account itself, or an admin."""
        actor.permit(
            lambda a: can_manage_tokens(a, account_id), "You may only see your own account's organisations."
        )
        self._accounts.get_account(account_id)  # NotFound for an unknown account
        return self._accounts.organisations(account_id)

    def grant_organisation(
        self, actor: Actor, account_id: str, fields: Mapping[str, object]
    ) -> EntitledOrganisation:
        """Entitle the account to publish courses of an organisation (`GRANT_FIELDS`): admins only.
        NotFound for an unknown account, Conflict when it already holds one of that name."""
        actor.permit(can_grant_organisations, "Only an admin grants organisations.")
        unknown = set(fields) - GRANT_FIELDS
        if unknown:
            raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
        text: dict[str, str | None] = {}
        for key in ("name", "identifier", "country"):
            value = fields.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{key} must be a string.", field=key)
            text[key] = value
        aliases = fields.get("aliases") or []
        if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
            raise InvalidInput("aliases must be a list of names.", field="aliases")
        try:
            return self._accounts.grant_organisation(
                account_id,
                text["name"] or "",
                identifier=text["identifier"],
                country=text["country"],
                aliases=tuple(aliases),
                granted_by=actor.id,
            )
        except ValueError as exc:  # a blank name, a country that is not ISO 3166-1 alpha-3
            raise InvalidInput(str(exc)) from None

    def revoke_organisation(
        self, actor: Actor, account_id: str, organisation_id: str
    ) -> EntitledOrganisation:
        """Withdraw an entitlement (admins only; NotFound if the account holds none with that id).
        What the account published stays; its next harvests are checked without it."""
        actor.permit(can_grant_organisations, "Only an admin revokes organisations.")
        return self._accounts.revoke_organisation(account_id, organisation_id)
