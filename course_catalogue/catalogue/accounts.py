"""Accounts, their roles and API tokens: issuing, parsing and checking tokens (no storage here).

A token looks like ``cat_<id>.<secret>``: `id` (12 hex digits) is public and finds the token's
row; `secret` is 32 random bytes (``secrets.token_urlsafe``). Only the SHA-256 of the whole token
is stored, and the plaintext is shown once, when issued.

Why SHA-256 and not a slow password hash (argon2, bcrypt): slow hashes exist because passwords
are low-entropy, so a stolen hash can be brute-forced by trying likely passwords. A token with
256 random bits has no likely values: finding a preimage of its SHA-256 is infeasible at any
speed, so slowing each guess down buys nothing, while it would cost ~50 ms of CPU on every API
request. The hashes are compared with `hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

TOKEN_PREFIX = "cat_"
"""Marks our tokens in logs and secret scanners."""
_TOKEN = re.compile(r"^cat_([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
_ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Role(StrEnum):
    """ADMIN may do everything; PROVIDER publishes its own sources; REGISTRY reads everything."""

    ADMIN = "admin"
    PROVIDER = "provider"
    REGISTRY = "registry"


@dataclass(frozen=True)
class Account:
    """Who calls the API. `id` is a slug (it is what `Source.owner` holds)."""

    id: str
    name: str
    role: Role
    created_at: datetime

    def __post_init__(self) -> None:
        check_account_id(self.id)
        if not self.name.strip():
            raise ValueError("an account needs a name")


@dataclass(frozen=True)
class ApiToken:
    """A token's stored facts (never the secret)."""

    id: str
    account_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its plaintext: hand `plaintext` to the caller once, then forget it."""

    token: ApiToken
    plaintext: str


@dataclass(frozen=True)
class NewSecret:
    """What issuing a token produces: the public id, the plaintext and the hash to store."""

    token_id: str
    plaintext: str
    secret_hash: str


def new_secret() -> NewSecret:
    token_id = secrets.token_hex(6)
    plaintext = f"{TOKEN_PREFIX}{token_id}.{secrets.token_urlsafe(32)}"
    return NewSecret(token_id, plaintext, hash_token(plaintext))


def hash_token(plaintext: str) -> str:
    """SHA-256 hex of the whole token (see the module docstring for why no slow KDF)."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def token_id_of(plaintext: str) -> str | None:
    """The public id inside a well-formed token; None for anything else (no lookup needed)."""
    match = _TOKEN.match(plaintext)
    return match.group(1) if match else None


def token_matches(plaintext: str, secret_hash: str) -> bool:
    """Whether `plaintext` is the token stored as `secret_hash`, compared in constant time."""
    return hmac.compare_digest(hash_token(plaintext), secret_hash)


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def check_account_id(value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise ValueError(f"account id {value!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    return value


def slug_for(name: str) -> str:
    """An account id derived from a display name ("Uni Zed" -> "uni-zed")."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return slug[:64] or "account"
