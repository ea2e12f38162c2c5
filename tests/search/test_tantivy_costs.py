"""Embedded-only query shapes that exist for speed: they must keep every answer the same.

The contract suites check the answers on both engines; these check the shapes themselves (the
nested filter-bucket trie, the known-word typo rule, slug hashes, range keys)."""

from __future__ import annotations

from pathlib import Path

from search.documents import to_document
from search.embedded import EmbeddedBackend
from search.tantivy_facets import _request
from search.tantivy_index import range_bucket, slug_hash
from tests.search.conftest import catalogue, make_course, q


def test_filter_buckets_form_a_trie_with_the_first_filter_once() -> None:
    query = q(filters={"country": ["NLD"], "eqf": ["5"], "mode": ["online"]})
    expressions = {"country": 'country:"NLD"', "eqf": 'eqf:"5"', "mode": 'modes:"online"'}
    request, where = _request(query, expressions, ["mode", "country", "eqf"])
    # Unselected facets: every filter; each selected facet: the other two.
    assert where["language"] == ("only:mode", "only:country", "only:eqf", "language")
    assert where["eqf"] == ("only:mode", "only:country", "eqf")
    assert where["country"] == ("only:mode", "only:eqf", "country")
    assert where["mode"] == ("only:country", "only:eqf", "mode")
    assert set(request) == {"only:mode", "only:country"}  # the costliest filter sits at the root once

    def nodes(level: dict) -> int:
        return sum(1 + nodes(v["aggs"]) for k, v in level.items() if k.startswith("only:"))

    assert nodes(request) == 6  # k(k+1)/2 single-facet filters for k = 3, not 4 AND-ed groups


def test_an_impossible_filter_leaves_its_groups_uncounted() -> None:
    query = q(filters={"country": ["NLD"], "eqf": ["5"]})
    _, where = _request(query, {"country": None, "eqf": 'eqf:"5"'}, ["country", "eqf"])
    assert "country" in where and "eqf" not in where and "language" not in where
    assert where["country"] == ("only:eqf", "country")


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
