"""Persistence of accounts and API tokens, in the catalogue database (shares CatalogueStore's engine).

Tokens are stored as hashes only (see `catalogue.accounts`). `authenticate` looks a token up by
its public id and compares hashes in constant time; it records `last_used_at` at most once a
minute per token, so authenticated reads do not turn into a write per request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from catalogue.accounts import (
    Account,
    ApiToken,
    IssuedToken,
    Role,
    new_secret,
    token_id_of,
    token_matches,
)
from catalogue.errors import Conflict, NotFound
from catalogue.schema import accounts, api_tokens
from catalogue.store import CatalogueStore

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
        values = {
            "id": account.id,
            "name": account.name,
            "role": role.value,
            "created_at": account.created_at,
        }
        with self._store.writing() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            # ON CONFLICT rather than check-then-insert: two concurrent creations cannot both pass
            stmt = insert(accounts).values(**values).on_conflict_do_nothing(index_elements=[accounts.c.id])
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT that did nothing
            if conn.execute(stmt.returning(accounts.c.id)).first() is None:
                raise Conflict(f"account {account_id!r} already exists")
        return account

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
        secret = new_secret()
        token = ApiToken(id=secret.token_id, account_id=account_id, label=label.strip(), created_at=_now())
        with self._store.writing() as conn:
            if conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"no account {account_id!r}")
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
