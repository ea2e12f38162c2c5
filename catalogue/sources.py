"""The source registry entry: one provider feed we harvest (pulled from a URL or uploaded)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from catalogue.errors import ConfigurationError, QuotaExceeded
from catalogue.model import Course, Organisation, lang_text
from catalogue.vocabularies import countries

FORMATS = ("csv", "xcri-cap", "elm-rdf", "qdr-loq", "xml", "json")
"""Feed formats a source may declare; each has a harvester (see harvesters/)."""

_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Source:
    """A registered feed.

    `id` is a short slug chosen by whoever registers it ("edx", "uni-zed-courses").
    `mapping` names a spec in mappings/specs (without extension). `schedule` is a number of
    minutes between pulls, or None for manual/pushed feeds. `owner` is the provider account
    that may change it (None for sources an admin registered).
    """

    id: str
    format: str
    name: str = ""
    url: str | None = None
    mapping: str | None = None
    schedule_minutes: int | None = None
    owner: str | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not _SOURCE_ID.match(self.id):
            raise ConfigurationError(
                f"source id {self.id!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'"
            )
        if self.format not in FORMATS:
            raise ConfigurationError(f"unknown format {self.format!r}; expected one of {', '.join(FORMATS)}")


@dataclass(frozen=True)
class FetchState:
    """HTTP validators from a source's last successful fetch, sent back as If-None-Match /
    If-Modified-Since so an unchanged feed costs a 304. Both None: fetch unconditionally."""

    etag: str | None = None
    last_modified: str | None = None


def registered_provider(source: Source) -> Organisation | None:
    """The provider a source's registration names (`settings["provider"]`), if any.

    Shape: {"name": "Uni Zed", "country": "IRL", "homepage": "https://..."}; country is ISO 3166
    alpha-3. Raises ConfigurationError on a malformed entry, so a bad registration fails loudly.
    """
    entry = source.settings.get("provider")
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise ConfigurationError(f"source {source.id}: settings.provider needs at least a name")
    country = entry.get("country")
    if country is not None and country not in countries():
        raise ConfigurationError(
            f"source {source.id}: settings.provider.country {country!r} is not ISO alpha-3"
        )
    return Organisation(name=lang_text(entry["name"]), country=country, homepage=entry.get("homepage"))


def with_registered_provider(course: Course, provider: Organisation) -> tuple[Course, bool]:
    """Fill the course's missing provider name, country and homepage from the registration.

    Only when the record names no provider, or the same one: a feed that lists other providers
    (an aggregator) must not get the registrant's country. Returns (course, whether it changed).
    """
    own = course.provider
    names = {text.casefold() for text in own.name.values()}
    if names and not names & {text.casefold() for text in provider.name.values()}:
        return course, False
    merged = replace(
        own,
        name=own.name or provider.name,
        country=own.country or provider.country,
        homepage=own.homepage or provider.homepage,
    )
    if merged == own:
        return course, False
    return replace(course, provider=merged), True


def check_source_cap(sources: Iterable[Source], owner: str, limit: int) -> None:
    """QuotaExceeded when `owner` already owns `limit` sources (retired ones included: their
    courses stay in the catalogue as tombstones); `limit` 0 means no cap. The caller decides
    whom the cap applies to (provider accounts, not admins)."""
    if limit <= 0:
        return
    used = sum(1 for source in sources if source.owner == owner)
    if used >= limit:
        raise QuotaExceeded(
            f"Account {owner!r} owns {used} sources, the most the MAX_SOURCES_PER_ACCOUNT quota allows; "
            "register this feed under an existing source, or ask an admin.",
            setting="MAX_SOURCES_PER_ACCOUNT",
            limit=limit,
            used=used,
        )
