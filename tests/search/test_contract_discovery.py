"""Contract: place, schedule, ISCED drill-down and start date facets, cursor paging and geo search,
on every engine."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import SearchResult
from tests.search.conftest import catalogue, cid, make_course, q
from tests.search.test_contract_facets import counts, refs, selected

FRANKFURT = (50.1109, 8.6821)  # München 304.6 km, Paris 477.9, Warszawa 890.1, Porto 1667.5
CURSOR_SORTS = ["relevance", "start_date", "ects", "price", "title"]


def labels(result: SearchResult, name: str) -> dict[str, str]:
    facet = next(f for f in result.facets if f.name == name)
    return {v.value: v.label for v in facet.values}


def ids(result: SearchResult) -> list[str]:
    return [h.id for h in result.hits]


def walk(backend: SearchBackend, **kwargs: Any) -> list[str]:
    """Every hit of a search, page after page through the cursor."""
    seen: list[str] = []
    result = backend.search(q(page_size=3, **kwargs))
    while True:
        seen += ids(result)
        if result.next_cursor is None:
            return seen
        result = backend.search(q(page_size=3, cursor=result.next_cursor, **kwargs))


# -- facets ---------------------------------------------------------------------------------------


def test_region_and_city_facets_use_slugs_labelled_as_published(readonly_backend: SearchBackend) -> None:
    result = readonly_backend.search(q())
    assert counts(result, "city") == {"amsterdam": 1, "paris": 1, "munchen": 1, "porto": 1, "warszawa": 1}
    assert labels(result, "city")["munchen"] == "München"
    assert labels(result, "region")["ile-de-france"] == "Île-de-France"
    filtered = readonly_backend.search(q(filters={"city": ["munchen", "paris"]}))
    assert set(ids(filtered)) == refs("fuehrung", "donnees")
    assert counts(filtered, "city")["porto"] == 1  # own filter excluded from its counts
    assert selected(filtered, "city") == {"munchen", "paris"}
    assert set(ids(readonly_backend.search(q(filters={"region": ["bayern"]})))) == refs("fuehrung")


def test_schedule_facet(readonly_backend: SearchBackend) -> None:
    result = readonly_backend.search(q())
    assert counts(result, "schedule") == {"part-time": 2, "self-paced": 1, "full-time": 1}
    assert labels(result, "schedule")["part-time"] == "Part time"
    found = readonly_backend.search(q(filters={"schedule": ["part-time"]}))
    assert set(ids(found)) == refs("donnees", "fuehrung")


def test_isced_drill_down_lists_children_of_the_selection(readonly_backend: SearchBackend) -> None:
    plain = readonly_backend.search(q())
    assert counts(plain, "field_narrow") == {} and counts(plain, "field_detailed") == {}
    broad = readonly_backend.search(q(filters={"field": ["05"]}))
    assert counts(broad, "field_narrow") == {"054": 2}
    assert labels(broad, "field_narrow")["054"] == "Mathematics and statistics"
    assert counts(broad, "field_detailed") == {}
    two = readonly_backend.search(q(filters={"field": ["05", "06"]}))
    assert counts(two, "field_narrow") == {"054": 2, "061": 2}
    narrow = readonly_backend.search(q(filters={"field": ["05", "06"], "field_narrow": ["061"]}))
    assert set(ids(narrow)) == refs("python", "rust")
    assert counts(narrow, "field_narrow") == {"054": 2, "061": 2}  # own filter excluded
    assert counts(narrow, "field_detailed") == {"0613": 2}
    assert counts(narrow, "field") == {"06": 2, "05": 0}


def test_start_date_ranges_are_relative_to_today(readonly_backend: SearchBackend) -> None:
    result = readonly_backend.search(q())
    assert counts(result, "start") == {"1-3m": 2, "3-6m": 5, "undated": 1}
    assert labels(result, "start")["undated"] == "No fixed date"
    later = readonly_backend.search(q(today=date(2025, 7, 15)))
    assert counts(later, "start") == {"started": 1, "30d": 1, "1-3m": 4, "3-6m": 1, "undated": 1}
    soon = readonly_backend.search(q(filters={"start": ["30d", "started"]}, today=date(2025, 7, 15)))
    assert set(ids(soon)) == refs("fuehrung", "rust")
    assert counts(soon, "start")["1-3m"] == 4 and selected(soon, "start") == {"30d", "started"}
    assert set(ids(readonly_backend.search(q(filters={"start": ["undated"]})))) == refs("undated")


# -- cursor paging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", CURSOR_SORTS)
def test_cursor_pages_follow_the_offset_order(readonly_backend: SearchBackend, sort: str) -> None:
    text = "course programming" if sort == "relevance" else ""
    by_offset = ids(readonly_backend.search(q(text, sort=sort, page_size=100)))
    assert walk(readonly_backend, text=text, sort=sort) == by_offset


def test_cursor_result_knows_its_position(readonly_backend: SearchBackend) -> None:
    first = readonly_backend.search(q(sort="title", page_size=3))
    assert first.next_cursor is not None and first.start == 0
    second = readonly_backend.search(q(sort="title", page_size=3, cursor=first.next_cursor, page=7))
    assert second.start == 3 and second.total == 8  # page is ignored with a cursor
    last = readonly_backend.search(q(sort="title", page_size=100))
    assert last.next_cursor is None


@pytest.mark.parametrize("sort", ["start_date", "title", "price"])
def test_cursor_is_stable_under_inserts_and_deletes(backend: SearchBackend, sort: str) -> None:
    before = ids(backend.search(q(sort=sort, page_size=100)))
    first = backend.search(q(sort=sort, page_size=3))
    # courses that sort first are added, and one already shown is deleted
    early = [
        make_course(f"early{i}", f"Aardvark studies {i}", price="0", start=date(2025, 6, 2)) for i in range(4)
    ]
    backend.upsert([to_document(c) for c in early])
    backend.delete([first.hits[0].id])
    rest: list[str] = []
    result = backend.search(q(sort=sort, page_size=3, cursor=first.next_cursor))
    while True:
        rest += ids(result)
        if result.next_cursor is None:
            break
        result = backend.search(q(sort=sort, page_size=3, cursor=result.next_cursor))
    unchanged = [i for i in rest if i in before]
    assert ids(first) + unchanged == before  # no unchanged course repeated or skipped


def test_cursor_of_another_search_is_a_query_error(readonly_backend: SearchBackend) -> None:
    cursor = readonly_backend.search(q(sort="title", page_size=2)).next_cursor
    assert cursor is not None
    with pytest.raises(QueryError):
        readonly_backend.search(q(sort="price", page_size=2, cursor=cursor))
    with pytest.raises(QueryError):
        q(cursor="not-a-cursor")


# -- geo ----------------------------------------------------------------------------------------------


def test_near_keeps_on_site_courses_within_the_radius(readonly_backend: SearchBackend) -> None:
    result = readonly_backend.search(q(near=FRANKFURT, within_km=1000, page_size=100))
    # Amsterdam (363 km) is the place of an online-only course: it has no geo point
    assert set(ids(result)) == refs("fuehrung", "donnees", "polish")
    assert counts(result, "country") == {"DEU": 1, "FRA": 1, "POL": 1}
    # München is inside the bounding box of 300 km but 304.6 km away
    assert readonly_backend.search(q(near=FRANKFURT, within_km=300)).total == 0
    assert ids(readonly_backend.search(q(near=FRANKFURT, within_km=310))) == [cid("fuehrung")]


def test_sort_by_distance_with_cursor(readonly_backend: SearchBackend) -> None:
    result = readonly_backend.search(q(near=FRANKFURT, within_km=1000, sort="distance"))
    assert ids(result) == [cid("fuehrung"), cid("donnees"), cid("polish")]
    distances = [h.distance_km for h in result.hits]
    assert distances == sorted(d for d in distances if d is not None)
    assert distances[0] == pytest.approx(304.6, abs=1.0)
    assert walk(readonly_backend, near=FRANKFURT, within_km=1000, sort="distance") == ids(result)


def test_geo_parameters_are_checked() -> None:
    with pytest.raises(QueryError):
        q(sort="distance")
    with pytest.raises(QueryError):
        q(within_km=10)
    with pytest.raises(QueryError):
        q(near=(91.0, 0.0))
    with pytest.raises(QueryError):
        q(near=FRANKFURT, within_km=0)
    assert q(near=FRANKFURT).within_km == 50.0


def test_catalogue_is_unchanged_by_places() -> None:
    docs = [to_document(s) for s in catalogue()]
    assert sum(1 for d in docs if d["geo"]) == 4  # donnees, fuehrung, bilingual, polish
