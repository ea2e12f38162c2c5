"""Persistence of accounts, API tokens and the organisations accounts may publish for, in the
catalogue database (shares CatalogueStore's engine).

Tokens are stored as hashes only (see `catalogue.accounts`). `authenticate` looks a token up by
its public id and compares hashes in constant time; it records `last_used_at` at most once a
minute per token, so authenticated reads do not turn into a write per request.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.accounts import (
    Account,
    ApiToken,
    IssuedToken,
    Role,
    new_secret,
    token_id_of,
    token_matches,
)
from course_catalogue.catalogue.entitlements import (
    EntitledOrganisation,
    PublishingPolicy,
    check_country,
    clean_aliases,
    name_key,
    publishes_for_others,
)
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.schema import account_organisations, accounts, api_tokens
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is refreshed when older than this: fresh enough, and reads stay reads."""


class AccountStore:
    """Accounts and tokens of one catalogue database."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    # --- accounts -----------------------------------------------------------------------------

    def create_account(self, account_id: str, name: str, role: Role) -> Account:
        """Insert a new account; Conflict if the id is taken, ValueError for a bad id or name."""
        account = Account(id=account_id, name=name.strip(), role=role, created_at=_now())
        with self._store.writing() as conn:
            _insert_account(conn, account)
        return account

    def create_account_with_token(
        self, account_id: str, name: str, role: Role, label: str = ""
    ) -> tuple[Account, IssuedToken]:
        """`create_account` and its first token in one transaction: an account is never left
        without the token its creator was to receive."""
        account = Account(id=account_id, name=name.strip(), role=role, created_at=_now())
        with self._store.writing() as conn:
            _insert_account(conn, account)
            issued = _insert_token(conn, account.id, label)
        return account, issued

    def get_account(self, account_id: str) -> Account:
        with self._store.reading() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).one_or_none()
        if row is None:
            raise NotFound(f"no account {account_id!r}")
        return _account(row)

    def list_accounts(self) -> list[Account]:
        with self._store.reading() as conn:
            return [_account(row) for row in conn.execute(sa.select(accounts).order_by(accounts.c.id))]

    # --- tokens -------------------------------------------------------------------------------

    def issue_token(self, account_id: str, label: str = "") -> IssuedToken:
        """A new token for the account (NotFound if there is none); its plaintext is only here."""
        with self._store.writing() as conn:
            if conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"no account {account_id!r}")
            return _insert_token(conn, account_id, label)

    def get_token(self, token_id: str) -> ApiToken:
        with self._store.reading() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one_or_none()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    def list_tokens(self, account_id: str) -> list[ApiToken]:
        query = (
            sa.select(api_tokens)
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.created_at, api_tokens.c.id)
        )
        with self._store.reading() as conn:
            return [_token(row) for row in conn.execute(query)]

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke for good (idempotent: a revoked token keeps its first revocation time)."""
        stmt = (
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        with self._store.writing() as conn:
            conn.execute(stmt)
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one_or_none()
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    def authenticate(self, plaintext: str) -> tuple[Account, ApiToken] | None:
        """The account and token a presented token belongs to; None when it is malformed,
        unknown, revoked or does not match."""
        token_id = token_id_of(plaintext)
        if token_id is None:
            return None
        query = (
            sa.select(
                api_tokens, accounts.c.name, accounts.c.role, accounts.c.created_at.label("account_created")
            )
            .join(accounts, accounts.c.id == api_tokens.c.account_id)
            .where(api_tokens.c.id == token_id)
        )
        with self._store.reading() as conn:
            row = conn.execute(query).one_or_none()
        if row is None or row.revoked_at is not None or not token_matches(plaintext, row.secret_hash):
            return None
        account = Account(
            id=row.account_id, name=row.name, role=Role(row.role), created_at=row.account_created
        )
        token = _token(row)
        now = _now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            with self._store.writing() as conn:
                conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now))
        return account, token

    # --- organisations an account may publish for (catalogue/entitlements.py) ----------------

    def grant_organisation(
        self,
        account_id: str,
        name: str,
        *,
        identifier: str | None = None,
        country: str | None = None,
        aliases: Sequence[str] = (),
        granted_by: str | None = None,
    ) -> EntitledOrganisation:
        """Entitle the account to publish for an organisation. NotFound for an unknown account,
        Conflict when it already holds one of that name, ValueError for a blank name or a
        country that is not ISO 3166-1 alpha-3."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("an organisation needs a name")
        org = EntitledOrganisation(
            id=secrets.token_hex(8),
            account_id=account_id,
            name=" ".join(name.split()),
            aliases=clean_aliases(aliases),
            identifier=identifier.strip() if identifier and identifier.strip() else None,
            country=check_country(country),
            granted_by=granted_by,
            granted_at=_now(),
        )
        values = {
            "id": org.id,
            "account_id": account_id,
            "name": org.name,
            "name_key": name_key(org.name),
            "aliases": list(org.aliases),
            "identifier": org.identifier,
            "country": org.country,
            "granted_by": granted_by,
            "granted_at": org.granted_at,
        }
        with self._store.writing() as conn:
            if conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"no account {account_id!r}")
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(account_organisations).values(**values).on_conflict_do_nothing()
            if conn.execute(stmt.returning(account_organisations.c.id)).first() is None:
                raise Conflict(f"account {account_id!r} is already entitled to {org.name!r}")
        return org

    def organisations(self, account_id: str) -> list[EntitledOrganisation]:
        """The organisations the account may publish for, by name."""
        query = (
            sa.select(account_organisations)
            .where(account_organisations.c.account_id == account_id)
            .order_by(account_organisations.c.name_key, account_organisations.c.id)
        )
        with self._store.reading() as conn:
            return [_organisation(row) for row in conn.execute(query)]

    def revoke_organisation(self, account_id: str, organisation_id: str) -> EntitledOrganisation:
        """Withdraw an entitlement (NotFound if the account holds none with that id). What the
        account published before stays; its next harvests are checked without it."""
        where = (
            account_organisations.c.account_id == account_id,
            account_organisations.c.id == organisation_id,
        )
        with self._store.writing() as conn:
            row = conn.execute(sa.select(account_organisations).where(*where)).one_or_none()
            if row is None:
                raise NotFound(f"account {account_id!r} holds no organisation {organisation_id!r}")
            conn.execute(account_organisations.delete().where(*where))
        return _organisation(row)


def _organisation(row: sa.Row[Any]) -> EntitledOrganisation:
    return EntitledOrganisation(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        aliases=tuple(row.aliases or ()),
        identifier=row.identifier,
        country=row.country,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
    )


def _account(row: sa.Row[Any]) -> Account:
    return Account(id=row.id, name=row.name, role=Role(row.role), created_at=row.created_at)


def _token(row: sa.Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        account_id=row.account_id,
        label=row.label,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def publishing_policy(store: CatalogueStore, source: Source) -> PublishingPolicy | None:
    """Who `source` may publish for: None when unrestricted (no owner, an admin owner, or marked
    as publishing for others), else its owning account's organisations. An owner account that no
    longer exists may publish for nobody."""
    if source.owner is None or publishes_for_others(source):
        return None
    accounts = AccountStore(store)
    try:
        account = accounts.get_account(source.owner)
    except NotFound:
        return PublishingPolicy(source.owner, ())
    if account.role is Role.ADMIN:
        return None
    return PublishingPolicy(account.id, tuple(accounts.organisations(account.id)))


def _insert_account(conn: Connection, account: Account) -> None:
    values = {
        "id": account.id,
        "name": account.name,
        "role": account.role.value,
        "created_at": account.created_at,
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # ON CONFLICT rather than check-then-insert: two concurrent creations cannot both pass
    stmt = insert(accounts).values(**values).on_conflict_do_nothing(index_elements=[accounts.c.id])
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that did nothing
    if conn.execute(stmt.returning(accounts.c.id)).first() is None:
        raise Conflict(f"account {account.id!r} already exists")


def _insert_token(conn: Connection, account_id: str, label: str) -> IssuedToken:
    secret = new_secret()
    token = ApiToken(id=secret.token_id, account_id=account_id, label=label.strip(), created_at=_now())
    conn.execute(
        api_tokens.insert().values(
            id=token.id,
            account_id=account_id,
            label=token.label,
            secret_hash=secret.secret_hash,
            created_at=token.created_at,
        )
    )
    return IssuedToken(token, secret.plaintext)
