"""Contract: filters, facet counts, sorting, paging and visibility on every engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import FACETS, SearchResult
from tests.conftest import small_taxonomy
from tests.search.conftest import PROJECT_MANAGEMENT, cid, q


@pytest.fixture
def backend(readonly_backend: SearchBackend) -> SearchBackend:
    """These tests only search, so they share one index per module."""
    return readonly_backend


def counts(result: SearchResult, name: str) -> dict[str, int]:
    facet = next(f for f in result.facets if f.name == name)
    return {v.value: v.count for v in facet.values}


def selected(result: SearchResult, name: str) -> set[str]:
    facet = next(f for f in result.facets if f.name == name)
    return {v.value for v in facet.values if v.selected}


def found(backend: SearchBackend, filters: Mapping[str, Sequence[str]], **kwargs: Any) -> set[str]:
    result = backend.search(q(filters={k: list(v) for k, v in filters.items()}, page_size=100, **kwargs))
    assert result.total == len(result.hits)
    return {hit.id for hit in result.hits}


def refs(*names: str) -> set[str]:
    return {cid(name) for name in names}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"country": ["FRA"]}, refs("donnees")),
        ({"country": ["FRA", "DEU"]}, refs("donnees", "fuehrung")),
        ({"eqf": ["7"]}, refs("stats")),
        ({"language": ["fr"]}, refs("donnees", "bilingual")),
        ({"mode": ["onsite", "blended"]}, refs("donnees", "bilingual", "polish", "fuehrung")),
        ({"field": ["06"]}, refs("python", "rust")),
        ({"field": ["0542"]}, refs("donnees", "stats")),
        ({"provider": ["open-learning-institute"]}, refs("python", "rust")),
        ({"ects": ["5-15"]}, refs("python", "stats", "polish")),
        ({"ects": ["0-1", "30-"]}, refs("rust", "bilingual")),
        ({"price": ["free"]}, refs("python", "polish")),
        ({"price": ["0-100", "2000-"]}, refs("rust", "bilingual")),
        ({"country": ["NLD"], "mode": ["online"], "price": ["0-100", "free"]}, refs("python", "rust")),
        ({"country": ["POL"], "eqf": ["6"]}, set()),
    ],
)
def test_filters(backend: SearchBackend, filters: Mapping[str, Sequence[str]], expected: set[str]) -> None:
    assert found(backend, filters) == expected


def test_facet_counts_without_filters(backend: SearchBackend) -> None:
    result = backend.search(q())
    assert [f.name for f in result.facets] == [spec.name for spec in FACETS]
    assert counts(result, "country") == {"NLD": 3, "FRA": 1, "DEU": 1, "PRT": 1, "FIN": 1, "POL": 1}
    assert counts(result, "eqf") == {"4": 1, "5": 2, "6": 4, "7": 1}
    assert counts(result, "language") == {"en": 5, "fr": 2, "de": 1, "pl": 1}
    assert counts(result, "mode") == {"online": 5, "onsite": 3, "blended": 1}
    assert counts(result, "field") == {"06": 2, "05": 2, "04": 2, "07": 1, "01": 1}
    assert counts(result, "ects") == {"0-1": 1, "1-5": 1, "5-15": 3, "15-30": 1, "30-": 1}
    assert counts(result, "price") == {"free": 2, "0-100": 1, "100-500": 2, "500-2000": 1, "2000-": 1}
    assert counts(result, "provider")["open-learning-institute"] == 2


def test_facet_labels(backend: SearchBackend) -> None:
    result = backend.search(q())
    labels = {(f.name, v.value): v.label for f in result.facets for v in f.values}
    assert labels["country", "FRA"] == "France"
    assert labels["eqf", "6"] == "Level 6"
    assert labels["language", "fr"] == "French"
    assert labels["mode", "onsite"] == "On-site"
    assert labels["field", "06"].startswith("Information and Communication Technologies")
    assert labels["provider", "universite-de-lyon"] == "Université de Lyon"
    assert labels["ects", "5-15"] == "5 to 15 ECTS"
    assert labels["price", "free"] == "Free"


def test_own_filter_is_excluded_from_its_counts(backend: SearchBackend) -> None:
    result = backend.search(q(filters={"country": ["NLD"], "eqf": ["6"]}))
    assert {h.id for h in result.hits} == refs("rust")
    # country counts ignore the country filter but apply eqf=6
    assert counts(result, "country") == {"NLD": 1, "FRA": 1, "DEU": 1, "PRT": 1}
    # eqf counts ignore the eqf filter but apply country=NLD
    assert counts(result, "eqf") == {"5": 1, "6": 1, "7": 1}
    # other facets apply both filters
    assert counts(result, "language") == {"en": 1}
    assert selected(result, "country") == {"NLD"} and selected(result, "eqf") == {"6"}
    assert selected(result, "language") == set()


def test_range_facet_excludes_its_own_filter(backend: SearchBackend) -> None:
    result = backend.search(q(filters={"ects": ["5-15"]}))
    assert counts(result, "ects") == {"0-1": 1, "1-5": 1, "5-15": 3, "15-30": 1, "30-": 1}
    assert selected(result, "ects") == {"5-15"}
    assert counts(result, "price") == {"free": 2, "100-500": 1}


def test_selected_value_without_matches_stays_listed(backend: SearchBackend) -> None:
    result = backend.search(q(filters={"country": ["FIN"], "eqf": ["7"], "price": ["2000-"]}))
    assert result.total == 0
    assert counts(result, "country")["FIN"] == 0
    assert selected(result, "country") == {"FIN"}
    assert counts(result, "price")["2000-"] == 0 and selected(result, "price") == {"2000-"}


def test_only_the_requested_facets_are_counted(backend: SearchBackend) -> None:
    filters = {"country": ["NLD"], "eqf": ["6"]}
    everything = backend.search(q(filters=filters))
    chosen = backend.search(q(filters=filters, facets=("mode", "country", "provider")))
    assert [f.name for f in chosen.facets] == ["country", "mode", "provider"]  # in FACETS order
    for facet in chosen.facets:  # the same counts as when every facet is counted
        assert counts(chosen, facet.name) == counts(everything, facet.name)
    assert counts(chosen, "country") == {"NLD": 1, "FRA": 1, "DEU": 1, "PRT": 1}  # own filter still excluded
    assert [h.id for h in chosen.hits] == [h.id for h in everything.hits]
    assert chosen.total == everything.total


def test_no_facets_requested_still_finds_the_hits(backend: SearchBackend) -> None:
    result = backend.search(q("python", facets=()))
    assert result.facets == ()
    assert result.total == backend.search(q("python")).total > 0


def test_unknown_facet_is_a_query_error(backend: SearchBackend) -> None:
    with pytest.raises(QueryError, match="unknown facet 'colour'"):
        backend.search(q(facets=("country", "colour")))


def test_facets_follow_the_text_query(backend: SearchBackend) -> None:
    result = backend.search(q("python"))
    assert counts(result, "country") == {"NLD": 2}


def test_narrow_isced_filter_is_listed_selected(backend: SearchBackend) -> None:
    result = backend.search(q(filters={"field": ["0613"]}))
    assert counts(result, "field")["0613"] == 2 and "0613" in selected(result, "field")


SORTED = {
    "start_date": ["fuehrung", "rust", "python", "stats", "donnees", "polish", "bilingual", "undated"],
    "ects": ["rust", "fuehrung", "python", "polish", "stats", "donnees", "bilingual", "undated"],
    "title": ["stats", "undated", "python", "bilingual", "donnees", "rust", "fuehrung", "polish"],
}


@pytest.mark.parametrize("sort", sorted(SORTED))
def test_sorts(backend: SearchBackend, sort: str) -> None:
    result = backend.search(q(sort=sort, page_size=100))
    assert [h.id for h in result.hits] == [cid(ref) for ref in SORTED[sort]]


def test_price_sort_breaks_ties_by_id(backend: SearchBackend) -> None:
    result = backend.search(q(sort="price", page_size=100))
    free = sorted([cid("python"), cid("polish")])
    rest = ["rust", "stats", "fuehrung", "donnees", "bilingual", "undated"]
    assert [h.id for h in result.hits] == free + [cid(ref) for ref in rest]


def test_empty_query_relevance_is_start_date_order(backend: SearchBackend) -> None:
    result = backend.search(q(page_size=100))
    assert [h.id for h in result.hits] == [cid(ref) for ref in SORTED["start_date"]]


def test_relevance_sort_orders_by_score(backend: SearchBackend) -> None:
    scores = [h.score for h in backend.search(q("course")).hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


@pytest.mark.parametrize("sort", ["relevance", "start_date", "ects", "price", "title"])
def test_paging_covers_every_hit_once(backend: SearchBackend, sort: str) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        result = backend.search(q(sort=sort, page=page, page_size=3))
        assert result.total == 8 and result.pages == 3
        seen += [h.id for h in result.hits]
    assert len(seen) == len(set(seen)) == 8
    assert backend.search(q(sort=sort, page=4, page_size=3)).hits == ()


def test_withdrawn_and_past_hidden_by_default(backend: SearchBackend) -> None:
    visible = found(backend, {})
    assert cid("withdrawn") not in visible and cid("past") not in visible
    assert found(backend, {}, include_withdrawn=True) == visible | refs("withdrawn")
    assert found(backend, {}, include_past=True) == visible | refs("past")
    assert found(backend, {}, include_withdrawn=True, include_past=True) == visible | refs(
        "withdrawn", "past"
    )


def test_withdrawn_hit_says_so(backend: SearchBackend) -> None:
    hit = backend.search(q("cloud", include_withdrawn=True)).hits[0]
    assert hit.fields["status"] == "withdrawn"


def test_past_is_judged_against_query_today(backend: SearchBackend) -> None:
    from datetime import date

    assert cid("past") in found(backend, {}, today=date(2024, 11, 30))
    # a course ending today is still current; the day after it is past
    assert cid("fuehrung") in found(backend, {}, today=date(2025, 8, 15))
    assert cid("fuehrung") not in found(backend, {}, today=date(2025, 8, 16))
    # a course that has started but states no end (self-paced, on demand) is still current:
    # only an end date in the past hides a course; without any date a course never expires
    assert cid("rust") in found(backend, {}, today=date(2025, 8, 2))
    assert cid("rust") in found(backend, {}, today=date(2099, 1, 1))
    assert cid("undated") in found(backend, {}, today=date(2099, 1, 1))


@pytest.mark.parametrize(
    "value",
    ['NLD" OR status:"withdrawn', "NLD OR *", "NLD)", "*", "nld", "", "N\\LD", "😀"],
)
def test_filter_values_are_never_query_syntax(backend: SearchBackend, value: str) -> None:
    result = backend.search(q(filters={"country": [value, "FRA"]}))
    assert {h.id for h in result.hits} == refs("donnees")
    assert counts(result, "eqf") == {"6": 1}  # counted with the country filter applied
    result = backend.search(q(filters={"country": [value]} if value.strip() else {"country": ["XXX"]}))
    assert result.total == 0
    assert sum(counts(result, "language").values()) == 0


def test_skill_facet_filter_and_links(backend: SearchBackend) -> None:
    """ESCO skills: the stated link (German course) and inferred ones above the threshold are
    facet values and filters on every engine; each hit carries its published links."""
    taxonomy = small_taxonomy()
    python, stats = (taxonomy.resolve(name).uri for name in ("Python", "statistics"))
    result = backend.search(q())
    assert counts(result, "skill") == {PROJECT_MANAGEMENT: 1, python: 1, stats: 1}
    labels = {v.value: v.label for f in result.facets if f.name == "skill" for v in f.values}
    assert labels[PROJECT_MANAGEMENT] == "project management"
    assert found(backend, {"skill": [PROJECT_MANAGEMENT]}) == refs("fuehrung")
    assert found(backend, {"skill": [PROJECT_MANAGEMENT, stats]}) == refs("fuehrung", "stats")
    # the other facets count under a skill filter, and the skill facet under another filter
    chosen = backend.search(q(filters={"skill": [PROJECT_MANAGEMENT, stats]}))
    assert counts(chosen, "country") == {"DEU": 1, "NLD": 1}
    assert counts(chosen, "skill") == {PROJECT_MANAGEMENT: 1, python: 1, stats: 1}  # own filter excluded
    german = backend.search(q(filters={"country": ["DEU"]}))
    assert counts(german, "skill") == {PROJECT_MANAGEMENT: 1}
    [hit] = backend.search(q(filters={"skill": [PROJECT_MANAGEMENT]})).hits
    [link] = hit.fields["skill_links"]
    assert (link["uri"], link["stated"], link["method"]) == (PROJECT_MANAGEMENT, True, "stated")
    assert link["sentence"] == "Projekte planen und steuern"
    [inferred] = backend.search(q(filters={"skill": [stats]})).hits[0].fields["skill_links"]
    assert (inferred["stated"], inferred["method"], inferred["source"]) == (False, "label", "title")
