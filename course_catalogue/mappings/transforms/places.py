"""Country normaliser: names (many languages), ISO 3166 alpha-2/alpha-3 codes and EU country IRIs.

Result: ISO 3166-1 alpha-3 as in the EU country authority table ("GBR", "GRC"). The EU's own
two-letter conventions are honoured ("UK" -> GBR, "EL" -> GRC). Lookups are exact dictionary
hits built once per process: no fuzzy search per record.
"""

from __future__ import annotations

import gettext
import os
import re
from functools import cache

import pycountry

from course_catalogue.catalogue.vocabularies import countries
from course_catalogue.mappings.transforms.result import Result, fold, ok, warn

_EU_IRI = re.compile(r"publications\.europa\.eu/resource/authority/country/([A-Za-z0-9_]+)/?$")

# EU protocol-order codes that differ from ISO 3166 alpha-2, and common names pycountry lacks.
_EXTRA = {
    "uk": "GBR",
    "el": "GRC",
    "great britain": "GBR",
    "britain": "GBR",
    "england": "GBR",
    "scotland": "GBR",
    "wales": "GBR",
    "northern ireland": "GBR",
    "usa": "USA",
    "u.s.a.": "USA",
    "u.s.": "USA",
    "holland": "NLD",
    "czech republic": "CZE",
    "the netherlands": "NLD",
    "kosovo": "XKX",
    "russia": "RUS",
    "south korea": "KOR",
    "vatican": "VAT",
    "turkey": "TUR",
}


@cache
def _table() -> dict[str, str]:
    """Folded code or English / EU name -> alpha-3, with `_EXTRA` on top."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        alpha3 = country.alpha_3
        table[country.alpha_2.casefold()] = alpha3
        table[alpha3.casefold()] = alpha3
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                table.setdefault(fold(name), alpha3)
    for code, term in countries().items():
        table.setdefault(code.casefold(), code)
        table.setdefault(fold(term.label), code)
    table.update(_EXTRA)
    return table


@cache
def _translated() -> dict[str, str]:
    """Folded country name in any pycountry locale -> alpha-3, first locale (sorted) wins.

    Consulted only for keys `_table` lacks, which gives exactly the lookups of one table with
    these names added under it, without reading some 160 catalogues (~0.3 s) in a process whose
    feeds only use codes or English names."""
    table: dict[str, str] = {}
    for locale in sorted(os.listdir(pycountry.LOCALES_DIR)):
        try:
            translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])
        except OSError:
            continue
        for country in pycountry.countries:
            translated = translation.gettext(country.name)
            if translated != country.name:
                table.setdefault(fold(translated), country.alpha_3)
    return table


def country(value: str) -> Result[str]:
    """ISO 3166-1 alpha-3 from "France", "Deutschland", "FR", "FRA", "UK", "EL" or an EU IRI."""
    value = value.strip()
    iri = _EU_IRI.search(value)
    key = iri.group(1) if iri else value
    folded = fold(key)
    code = _table().get(folded) or _translated().get(folded)
    if code is not None:
        return ok(code)
    return warn(f"unknown country {value[:80]!r}", "unknown-country")


def coordinate(value: str) -> Result[float]:
    """A WGS84 decimal-degree coordinate ("48.8566", "2,3522"); out-of-range values are reported."""
    try:
        number = float(value.strip().replace(",", "."))
    except ValueError:
        return warn(f"not a decimal-degree coordinate: {value[:80]!r}", "invalid-coordinate")
    if not -180.0 <= number <= 180.0:
        return warn(f"coordinate {value[:80]!r} is outside -180..180", "invalid-coordinate")
    return ok(number)
