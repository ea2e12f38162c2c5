"""The source registry entry: one provider feed we harvest (pulled from a URL or uploaded)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from catalogue.errors import ConfigurationError

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
