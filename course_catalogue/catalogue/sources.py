"""The source registry entry: one provider feed we harvest (pulled from a URL or uploaded)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import pycountry

from course_catalogue.catalogue import formats
from course_catalogue.catalogue.errors import ConfigurationError, QuotaExceeded
from course_catalogue.catalogue.model import Course, Organisation, lang_text
from course_catalogue.catalogue.vocabularies import countries, currencies

FORMATS = tuple(formats.FORMATS)
"""Feed formats a source may declare (the table: `catalogue.formats`)."""

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


RETIRED = "retired_at"
"""Key in `Source.settings`: when the source was deleted (its courses are tombstones)."""


def is_retired(source: Source) -> bool:
    """Whether the source was deleted (services.publish.retire): it takes no feed until registered again."""
    return bool(source.settings.get(RETIRED))


SYNTHETIC = "synthetic"
"""Key in `Source.settings`: the feed is made-up sample data, not a provider's offer. Pages and the
API label every course of such a source (the bundled first-run sample feed is one)."""


def is_synthetic(source: Source) -> bool:
    """Whether the source's courses are synthetic sample data (`settings["synthetic"]`)."""
    return source.settings.get(SYNTHETIC) is True


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


PARAMETERS = ("framework", "currency", "country", "language", "hours_per_ects")
"""Source parameters: what a registration may declare that its feed leaves implicit."""

_MAX_HOURS_PER_ECTS = Decimal(100)


@dataclass(frozen=True)
class SourceParameters:
    """What a source's feed leaves implicit, declared at registration (`settings["parameters"]`).

    `framework`: the qualification framework bare levels ("Level 3") belong to (a key of the
    frameworks table: SCQF, RQF, NFQ-IE, ... or EQF); `currency`: ISO 4217 of bare amounts;
    `country`: ISO 3166 alpha-3 of the provider when a record gives none; `language`: ISO 639
    code of the feed's text when a record does not say; `hours_per_ects`: the rate ECTS are
    estimated from notional hours at. The mapping engine uses each where the spec does not set
    it explicitly (see `mappings.spec.bind_parameters`).
    """

    framework: str | None = None
    currency: str | None = None
    country: str | None = None
    language: str | None = None
    hours_per_ects: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        """The set parameters as stored and shown (hours_per_ects as a number)."""
        data: dict[str, Any] = {}
        for name in PARAMETERS:
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = int(value) if value == value.to_integral_value() else float(value)
            if value is not None:
                data[name] = value
        return data


def _fail(name: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"parameters.{name}: {problem}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, f"must be a non-empty string, not {value!r}")
    return value.strip()


def _country(value: Any) -> str:
    code = _text("country", value).upper()
    if len(code) == 2 and (found := pycountry.countries.get(alpha_2=code)) is not None:
        code = found.alpha_3
    if code not in countries():
        raise _fail("country", f"{value!r} is not an ISO 3166 country code (alpha-3 'GBR' or alpha-2 'GB')")
    return code


def _currency(value: Any) -> str:
    code = _text("currency", value).upper()
    if code not in currencies() and pycountry.currencies.get(alpha_3=code) is None:
        raise _fail("currency", f"{value!r} is not an ISO 4217 currency code (e.g. 'EUR', 'GBP')")
    return code


def _language(value: Any) -> str:
    code = _text("language", value).lower()
    found = (
        pycountry.languages.get(alpha_2=code)
        if len(code) == 2
        else pycountry.languages.get(alpha_3=code)
        if len(code) == 3
        else None
    )
    if found is None:
        raise _fail("language", f"{value!r} is not an ISO 639 language code (e.g. 'en', 'fr', 'gsw')")
    return str(getattr(found, "alpha_2", None) or found.alpha_3)


def _framework(value: Any, frameworks: Mapping[str, str]) -> str:
    name = _text("framework", value)
    if name.lower() not in frameworks:
        known = ", ".join(sorted(set(frameworks.values())))
        raise _fail("framework", f"unknown qualification framework {value!r}; known: {known}")
    return frameworks[name.lower()]


def _hours_per_ects(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or not 0 < rate <= _MAX_HOURS_PER_ECTS:
        raise _fail("hours_per_ects", f"must be a number of hours above 0 and at most 100, not {value!r}")
    return rate


def check_parameters(
    raw: Any, frameworks: Mapping[str, str], current: SourceParameters | None = None
) -> SourceParameters:
    """Validate and normalise source parameters given by an interface (API body, CLI options,
    dashboard form): `raw` is a mapping of parameter name -> value, where null (None) or an
    empty string removes that parameter from `current` (the source's parameters so far).

    `frameworks` maps every accepted framework name (lower case) to its key, "eqf" included;
    the mapping layer owns that table (`mappings.transforms.levels.framework_keys`). Raises
    ConfigurationError naming the parameter ("parameters.currency: ...").
    """
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"parameters must be an object of {', '.join(PARAMETERS)}, not {raw!r}")
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise ConfigurationError(
            f"parameters: unknown parameter(s) {', '.join(map(str, unknown))}; known: {', '.join(PARAMETERS)}"
        )
    readers: dict[str, Any] = {
        "framework": lambda v: _framework(v, frameworks),
        "currency": _currency,
        "country": _country,
        "language": _language,
        "hours_per_ects": _hours_per_ects,
    }
    values = {name: getattr(current, name) for name in PARAMETERS} if current else {}
    for name, value in raw.items():
        values[name] = None if value is None or value == "" else readers[name](value)
    return SourceParameters(**values)


def source_parameters(source: Source) -> SourceParameters:
    """The parameters a source's registration declares (`settings["parameters"]`), as stored by
    `set_parameters` after `check_parameters`. Raises ConfigurationError for a malformed entry,
    so a bad registration fails its harvest loudly instead of being ignored."""
    stored = source.settings.get("parameters")
    if not stored:
        return SourceParameters()
    if not isinstance(stored, Mapping):
        raise ConfigurationError(f"source {source.id}: settings.parameters must be an object")
    try:
        rate = stored.get("hours_per_ects")
        return SourceParameters(
            framework=stored.get("framework"),
            currency=stored.get("currency"),
            country=stored.get("country"),
            language=stored.get("language"),
            hours_per_ects=None if rate is None else _hours_per_ects(rate),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"source {source.id}: {exc}") from None


def set_parameters(source: Source, parameters: SourceParameters) -> Source:
    """The source with these parameters stored in its settings (none set: the entry removed)."""
    settings = {key: value for key, value in source.settings.items() if key != "parameters"}
    if parameters.to_json():
        settings["parameters"] = parameters.to_json()
    return replace(source, settings=MappingProxyType(settings))


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
