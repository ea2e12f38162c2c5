"""Accounts and API tokens, for every interface alike (the JSON API and the CLI).

Each operation checks one permission (`catalogue.permissions`: an admin manages accounts; an
account issues and revokes its own tokens), validates its input once (InvalidInput: a bad name,
role or id) and writes in one transaction (an account is created with its first token). A
token's plaintext exists only in the value these operations return.
"""

from __future__ import annotations

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
from course_catalogue.catalogue.permissions import can_manage_accounts, can_manage_tokens
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput


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
