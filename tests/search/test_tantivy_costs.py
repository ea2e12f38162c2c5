"""Embedded-only query shapes that exist for speed: they must keep every answer the same.

The contract suites check the answers on both engines; these check the shapes themselves (the
nested filter-bucket trie, the known-word typo rule, slug hashes, range keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_catalogue.search.documents import to_document
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.facets import Step, _matched, _request, _step, _step_order
from course_catalogue.search.tantivy.index import range_bucket, slug_hash
from tests.search.conftest import catalogue, make_course, q


def _filters(*names: str) -> dict[str, Step | None]:
    return {name: Step({"filter": f'{name}:"x"'}) for name in names}


def test_filter_steps_form_a_trie_with_the_first_filter_once() -> None:
    query = q(filters={"country": ["NLD"], "eqf": ["5"], "mode": ["online"]})
    request, where = _request(query, _filters("country", "eqf", "mode"), ["mode", "country", "eqf"])
    # Unselected facets: every filter; each selected facet: the other two.
    only = [("only:mode", None), ("only:country", None), ("only:eqf", None)]
    assert where["language"] == (*only, ("language", None))
    assert where["eqf"] == (only[0], only[1], ("eqf", None))
    assert where["country"] == (only[0], only[2], ("country", None))
    assert where["mode"] == (only[1], only[2], ("mode", None))
    assert set(request) == {"only:mode", "only:country"}  # the first step sits at the root once

    def nodes(level: dict) -> int:
        return sum(1 + nodes(v["aggs"]) for k, v in level.items() if k.startswith("only:"))

    assert nodes(request) == 6  # k(k+1)/2 single-facet steps for k = 3, not 4 AND-ed groups


def test_an_impossible_filter_leaves_its_groups_uncounted() -> None:
    query = q(filters={"country": ["NLD"], "eqf": ["5"]})
    steps = {"country": None, "eqf": Step({"filter": 'eqf:"5"'})}
    _, where = _request(query, steps, ["country", "eqf"])
    assert "country" in where and "eqf" not in where and "language" not in where
    assert where["country"] == (("only:eqf", None), ("country", None))


def test_steps_bucket_where_buckets_are_disjoint_and_filter_otherwise(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    backend.rebuild(to_document(c) for c in catalogue())
    builder = backend._builder
    query = q(
        filters={
            "country": ["NLD", "FRA"],  # single-valued: one terms bucket per value, summed
            "mode": ["online", "blended"],  # several values of a multi-valued field: a filter
            "language": ["en"],  # one value of a multi-valued field: a bucket
            "ects": ["1-5", "5-15"],  # ranges are disjoint: a range bucketing
            "provider": ["open-learning-institute"],  # slugs are not fast fields: a filter
        }
    )
    steps = {name: _step(name, values, builder, query) for name, values in query.filters.items()}
    kinds = {name: next(iter(step.request)) for name, step in steps.items() if step is not None}
    assert kinds == {
        "country": "terms",
        "mode": "filter",
        "language": "terms",
        "ects": "range",
        "provider": "filter",
    }
    assert steps["country"] == Step(
        {"terms": {"field": "country", "size": 2, "segment_size": 2, "include": ["NLD", "FRA"]}},
        frozenset({"NLD", "FRA"}),
        wide=True,
    )
    assert steps["language"] is not None and not steps["language"].wide
    searcher = backend._refresh().index.searcher()
    order = _step_order(steps, {name: _matched(searcher, query, name, 10) for name in steps})
    assert order[:2] == ["mode", "provider"]  # filters first, the commonest first
    # then bucketings, the most selective first: 4, 4 (ties by name) and 5 courses
    assert order[2:] == ["country", "ects", "language"]
    _, where = _request(query, steps, order)
    assert where["eqf"][-3:] == (
        ("only:ects", frozenset({"1-5", "5-15"})),
        ("only:language", frozenset({"en"})),
        ("eqf", None),
    )


def test_bucketed_values_are_data_not_query_syntax(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    backend.rebuild(to_document(c) for c in catalogue())
    for hostile in (".*", "NLD|FRA", "[A-Z]+", 'NLD" OR country:"FRA'):
        result = backend.search(q(filters={"country": [hostile], "eqf": ["6"]}))
        assert result.total == 0
        country = next(f for f in result.facets if f.name == "country")
        assert [(v.value, v.count) for v in country.values if v.selected] == [(hostile, 0)]
        eqf = next(f for f in result.facets if f.name == "eqf")
        assert all(v.count == 0 for v in eqf.values)  # no course is in that country


def test_range_keys_and_slug_hashes() -> None:
    assert [range_bucket("ects", v) for v in (0.5, 1, 4.99, 5, 30, None)] == [
        "0-1",
        "1-5",
        "1-5",
        "5-15",
        "30-",
        None,
    ]
    assert range_bucket("price", 0) == "free" and range_bucket("price", 2000) == "2000-"
    assert slug_hash("open-learning") == slug_hash("open-learning") != slug_hash("open-learnin")
    assert 0 <= slug_hash("x") < 2**63


def test_typos_are_looked_for_only_in_words_few_titles_contain(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    courses = [make_course(f"p{i}", f"Python course number {i}") for i in range(5)]
    courses.append(make_course("typo", "Pythen for beginners"))
    backend.rebuild(to_document(c) for c in courses)
    # "python" is in 5 titles: a word of the catalogue, so its neighbour "pythen" is not matched.
    assert {h.id for h in backend.search(q("python")).hits} == {c.course.id for c in courses[:5]}
    # "pythn" is in none: a typo, looked for within one edit in titles.
    assert backend.search(q("pythn")).total == 6


@pytest.mark.parametrize(
    "filters",
    [
        {"country": ["NLD"], "mode": ["online"], "ects": ["1-5"]},
        {"country": ["NLD", "FRA", "DEU"], "mode": ["online", "onsite"], "eqf": ["5", "6"]},
        {"language": ["en"], "price": ["free", "0-100", "100-500"], "start": ["30d", "1-3m", "3-6m"]},
        {"field": ["05"], "language": ["en", "fr"], "ects": ["5-15", "30-"]},
        {"provider": ["open-learning-institute", "universite-de-lyon"], "eqf": ["6"], "text": ["python"]},
    ],
    ids=["one-value-each", "multi-select", "ranges", "isced-and-multi-valued", "slugs-and-text"],
)
def test_counts_match_plain_searches(tmp_path: Path, filters: dict[str, list[str]]) -> None:
    """Every facet count (filters, bucketings, summed buckets) equals the total of the plain
    search it stands for: the query with that facet's filter replaced by the counted value."""
    backend = EmbeddedBackend(tmp_path / "index")
    backend.rebuild(to_document(c) for c in catalogue())
    filters = dict(filters)
    text = " ".join(filters.pop("text", []))
    result = backend.search(q(text, filters=filters))
    checked = 0
    for facet in result.facets:
        for value in facet.values:
            narrowed = {**{k: v for k, v in filters.items() if k != facet.name}, facet.name: [value.value]}
            assert backend.search(q(text, filters=narrowed)).total == value.count, (facet.name, value.value)
            checked += 1
    assert checked >= 3  # never vacuous


def test_counts_match_between_trie_and_plain_searches(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    backend.rebuild(to_document(c) for c in catalogue())
    filters = {"country": ["NLD"], "mode": ["online"], "ects": ["1-5"]}
    result = backend.search(q(filters=filters))
    checked = 0
    for facet in result.facets:
        for value in facet.values:
            if facet.name not in filters or value.value in filters[facet.name]:
                continue
            # A value of a selected facet counts the courses passing the other filters with it.
            narrowed = {**{k: v for k, v in filters.items() if k != facet.name}, facet.name: [value.value]}
            assert backend.search(q(filters=narrowed)).total == value.count, (facet.name, value.value)
            checked += 1
    assert checked >= 2  # the small catalogue has other values of two of the three facets
