"""Pages of tantivy hits beyond plain top-k: cursor continuation (search_after) and geo search.

* Key sorts (`tantivy.index.SORT_FIELDS`, keys ending in the id) continue after the cursor's key:
  the Python binding has no range query on text fields, so hits are read from a window just
  before the cursor's old position and those up to its key dropped. Changes elsewhere in the
  index then neither repeat nor skip a hit that did not change.
* tantivy cannot continue after a relevance score: a relevance cursor continues at its offset.
* Geo: a bounding-box range filter on the lat/lon fast fields, made exact by excluding the
  documents in its corners (by `id_hash`); distance sorting ranks every hit inside the radius
  by the distance computed from the fast fields, ties by `id_hash`.
"""

from __future__ import annotations

from typing import Any

import tantivy

from course_catalogue.search.geo import distance_km
from course_catalogue.search.query import Cursor, Query
from course_catalogue.search.sorting import SORT_FIELDS
from course_catalogue.search.tantivy.index import ID_HASH
from course_catalogue.search.tantivy.query import QueryBuilder, combine

CURSOR_WINDOW = 50  # hits re-read before a cursor's position, to find it again after deletions
Pairs = list[tuple[Any, tantivy.DocAddress]]


def page_by_key(
    searcher: tantivy.Searcher, full: tantivy.Query, sort: str, query: Query, cursor: Cursor | None
) -> tuple[Pairs, tuple[Any, ...], int]:
    """(score or key, address) of one page, the next cursor's `after`, and the total.

    A cursor of a key sort continues after its key (search_after): hits are read from a
    window just before the cursor's old position and those up to its key dropped, so
    changes elsewhere in the index neither repeat nor skip a hit. tantivy cannot continue
    after a relevance score: a relevance cursor continues at its offset."""
    order_by = None if sort == "relevance" else SORT_FIELDS[sort]

    def read(offset: int, limit: int) -> tuple[Pairs, int]:
        found = searcher.search(
            full, limit, count=True, order_by_field=order_by, offset=offset, order=tantivy.Order.Asc
        )
        return list(found.hits), int(found.count or 0)  # type: ignore[attr-defined]  # stub omits count

    if cursor is None or order_by is None or not cursor.after:
        pairs, total = read(cursor.seen if cursor is not None else query.offset, query.page_size)
        return pairs, ((str(pairs[-1][0]),) if pairs and order_by else ()), total
    key, size = str(cursor.after[0]), query.page_size
    start, step = max(0, cursor.seen - CURSOR_WINDOW), CURSOR_WINDOW
    while True:
        window, total = read(start, size + 2 * CURSOR_WINDOW)
        first = next((i for i, (k, _) in enumerate(window) if str(k) > key), None)
        if first == 0 and start > 0:  # hits before the cursor were removed: look further back
            start, step = max(0, start - 2 * step), step * 2
            continue
        if first is None and len(window) == size + 2 * CURSOR_WINDOW:  # hits were added before it
            start += len(window)
            continue
        break
    if first is None:
        return [], (key,), total
    pairs = window[first : first + size]
    if len(pairs) < size and len(window) == size + 2 * CURSOR_WINDOW:
        pairs, total = read(start + first, size)
    return pairs, ((str(pairs[-1][0]),) if pairs else (key,)), total


def page_by_distance(
    searcher: tantivy.Searcher, full: tantivy.Query, query: Query, cursor: Cursor | None
) -> tuple[Pairs, tuple[Any, ...], int]:
    """Nearest first, equal distances by id hash: every hit of `full` (all within the geo
    radius, so a bounded set) is ranked by distance computed from the lat/lon fast fields."""
    assert query.near is not None
    total = int(searcher.search(full, 1, count=True).count or 0)  # type: ignore[attr-defined]
    if not total:
        return [], (), 0
    addresses = [address for _, address in searcher.search(full, total, count=False).hits]
    lats = searcher.fast_field_values("lat", addresses)
    lons = searcher.fast_field_values("lon", addresses)
    hashes = searcher.fast_field_values(ID_HASH, addresses)
    ranked = sorted(
        (
            (round(distance_km(query.near, (float(lat), float(lon))), 6), int(h), address)
            for lat, lon, h, address in zip(lats, lons, hashes, addresses, strict=True)
            if lat is not None and lon is not None and h is not None
        ),
        key=lambda row: (row[0], row[1]),
    )
    if cursor is not None and len(cursor.after) == 2:
        after = (float(cursor.after[0]), int(cursor.after[1]))
        ranked = [row for row in ranked if (row[0], row[1]) > after]
    else:
        ranked = ranked[query.offset :]
    page = ranked[: query.page_size]
    last = (page[-1][0], page[-1][1]) if page else ()
    return [(distance, address) for distance, _, address in page], last, total


def geo_scope(searcher: tantivy.Searcher, builder: QueryBuilder, query: Query) -> list[tantivy.Query]:
    """The geo radius as a filter: the bounding box, minus the visible courses in its
    corners (found with the exact distance from the lat/lon fast fields)."""
    if query.near is None or query.within_km is None:
        return []
    box = builder.box(query.near, query.within_km)
    candidates = combine(box, builder.visibility(query))
    total = int(searcher.search(candidates, 1, count=True).count or 0)  # type: ignore[attr-defined]
    if not total:
        return [box]
    addresses = [address for _, address in searcher.search(candidates, total, count=False).hits]
    lats = searcher.fast_field_values("lat", addresses)
    lons = searcher.fast_field_values("lon", addresses)
    hashes = searcher.fast_field_values(ID_HASH, addresses)
    outside = [
        int(h)
        for lat, lon, h in zip(lats, lons, hashes, strict=True)
        if lat is not None
        and lon is not None
        and h is not None
        and distance_km(query.near, (float(lat), float(lon))) > query.within_km
    ]
    if not outside:
        return [box]
    excluded = builder.term_set(ID_HASH, outside)
    return [tantivy.Query.boolean_query([(tantivy.Occur.Must, box), (tantivy.Occur.MustNot, excluded)])]
