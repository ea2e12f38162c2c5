"""Geo arithmetic for `Query.near`: great-circle distances and the bounding box of a radius."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from course_catalogue.search.query import Query

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (lat, lon) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def hit_distance(query: Query, geo: Any) -> float | None:
    """Distance in km (2 decimals) from `query.near` to a card's `geo`; None without either."""
    if query.near is None or not isinstance(geo, Mapping):
        return None
    try:
        point = (float(geo["lat"]), float(geo["lon"]))
    except (KeyError, TypeError, ValueError):
        return None
    return round(distance_km(query.near, point), 2)


def bounding_box(near: tuple[float, float], km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) holding every point within `km` of `near`; the
    longitude span is the whole globe near the poles or across the antimeridian."""
    lat, lon = near
    dlat = math.degrees(km / EARTH_RADIUS_KM)
    low, high = lat - dlat, lat + dlat
    if low <= -90 or high >= 90:
        return max(low, -90.0), min(high, 90.0), -180.0, 180.0
    dlon = math.degrees(km / (EARTH_RADIUS_KM * math.cos(math.radians(lat))))
    if lon - dlon < -180 or lon + dlon > 180:
        return low, high, -180.0, 180.0
    return low, high, lon - dlon, lon + dlon
