"""Verified provider identities: the organisations an account may publish courses for.

A feed says which institution provides each course; nothing in the feed proves it. So an admin
grants each provider account the organisations it speaks for (`AccountStore.grant_organisation`:
a name, optional other names, an identifier and a country), and a source owned by a provider
account publishes only courses whose provider is one of them (`PublishingPolicy.check`, applied
to every record by the harvest intake). Unrestricted: sources no account owns (an operator's),
sources owned by an admin account, and sources an admin marked as publishing for others
(`PUBLISHES_FOR_OTHERS`: a registry's or an aggregator's feed that lists many institutions).

Policy for a record naming another provider: it is rejected with a per-record ERROR
(`provider-not-entitled`) and the rest of the feed lands, exactly like any other invalid record
(its stored version, if any, stays as it was and it is not withdrawn). Rejecting, rather than
holding records for an admin's review, because the provider sees the error at once in its dry
run, nothing ever goes public under a name it does not own, and there is no second queue of
half-published records to keep consistent; the remedy is an admin's grant, after which the
same feed publishes.

Matching is strict and exact after folding (Unicode NFKC, case, runs of white space): every name
the record gives its provider (each language) must be the organisation's name or one of its
other names, and where both sides state a country or an identifier they must be equal. A
look-alike name ("Hаrvard" with a Cyrillic "а") is another name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from course_catalogue.catalogue.model import Organisation
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.vocabularies import countries

if TYPE_CHECKING:
    from course_catalogue.catalogue.sources import Source

PUBLISHES_FOR_OTHERS = "publishes_for_others"
"""Key in `Source.settings`: True when an admin allowed the source to publish for any provider."""
NOT_ENTITLED = "provider-not-entitled"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class EntitledOrganisation:
    """An organisation an account may publish for, as an admin granted it."""

    id: str
    account_id: str
    name: str
    aliases: tuple[str, ...] = ()
    identifier: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-3
    granted_by: str | None = None
    granted_at: datetime | None = None

    def names(self) -> set[str]:
        return {name_key(self.name), *(name_key(alias) for alias in self.aliases)}

    def matches(self, provider: Organisation) -> bool:
        """Whether `provider` (as a record states it) is this organisation (module docstring)."""
        stated = {name_key(text) for text in provider.name.values() if text.strip()}
        if not stated or not stated <= self.names():
            return False
        if self.country and provider.country and self.country != provider.country:
            return False
        if self.identifier and provider.identifier:
            return _identifier(self.identifier) == _identifier(provider.identifier)
        return True


def name_key(text: str) -> str:
    """A name folded for comparison: NFKC, case-folded, white space collapsed and trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _identifier(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().rstrip("/").casefold()


@dataclass(frozen=True)
class PublishingPolicy:
    """The organisations a restricted source may publish for (those of its owning account)."""

    account_id: str
    organisations: tuple[EntitledOrganisation, ...]

    def check(self, provider: Organisation) -> Issue | None:
        """None when the provider is one of the account's organisations, else the ERROR."""
        if any(org.matches(provider) for org in self.organisations):
            return None
        stated = " / ".join(dict.fromkeys(t for t in provider.name.values() if t.strip())) or "(no name)"
        entitled = ", ".join(repr(org.name) for org in self.organisations) or "no organisation yet"
        message = (
            f"account {self.account_id!r} may not publish courses of {stated!r}: it is entitled to "
            f"{entitled}. Name one of them as the provider, or ask an admin to grant this organisation "
            "to the account (API: POST /api/v1/accounts/<id>/organisations; CLI: catalogue accounts grant)"
        )
        return Issue(Severity.ERROR, message, field="provider.name", code=NOT_ENTITLED)


def publishes_for_others(source: Source) -> bool:
    return source.settings.get(PUBLISHES_FOR_OTHERS) is True


def check_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-3 code (upper-cased), or None; ValueError for anything else."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if code not in countries():
        raise ValueError(f"country {value!r} is not an ISO 3166-1 alpha-3 code (e.g. 'FRA')")
    return code


def clean_aliases(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
