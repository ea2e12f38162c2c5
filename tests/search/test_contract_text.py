"""Contract: full-text behaviour on every engine: fields, stemming, folding, fuzziness, safety."""

from __future__ import annotations

from typing import Any

import pytest

from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import Query
from tests.search.conftest import cid, q


@pytest.fixture
def backend(readonly_backend: SearchBackend) -> SearchBackend:
    """These tests only search, so they share one index per module."""
    return readonly_backend


def ids(backend: SearchBackend, text: str, **kwargs: Any) -> list[str]:
    return [hit.id for hit in backend.search(q(text, **kwargs)).hits]


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("Rust", "rust"),  # title
        ("garbage collector", "rust"),  # description
        ("spreadsheet", "python"),  # learning outcome
        ("Teacher Academy", "undated"),  # provider
        ("Zarządzanie", "polish"),  # a language without a stemmer
    ],
)
def test_finds_by_each_text_field(backend: SearchBackend, text: str, ref: str) -> None:
    assert cid(ref) in ids(backend, text)


def test_english_stemming(backend: SearchBackend) -> None:
    assert cid("python") in ids(backend, "courses")  # description says "course"
    assert cid("undated") in ids(backend, "course")  # title says "Course", description "courses"


def test_french_stemming(backend: SearchBackend) -> None:
    assert ids(backend, "formation") == [cid("donnees")]  # text says "Formations"
    assert cid("bilingual") in ids(backend, "renouvelables")


def test_german_stemming_and_umlauts(backend: SearchBackend) -> None:
    assert ids(backend, "Weiterbildungen") == [cid("fuehrung")]
    assert ids(backend, "fuhrungskrafte") == [cid("fuehrung")]
    assert ids(backend, "Grösse") == [cid("fuehrung")]


def test_accent_folding(backend: SearchBackend) -> None:
    assert ids(backend, "donnees") == [cid("donnees")]
    assert ids(backend, "DONNÉES") == [cid("donnees")]
    assert ids(backend, "zarzadzanie") == [cid("polish")]


def test_fuzzy_matches_typos_in_long_enough_words(backend: SearchBackend) -> None:
    assert ids(backend, "pythn") == [cid("python")]  # 5 letters: one edit
    assert cid("fuehrung") in ids(backend, "Projektmanagment")  # long word: two edits allowed
    assert ids(backend, "rost") == []  # under 5 letters: exact only


def test_exact_match_outranks_fuzzy(backend: SearchBackend) -> None:
    result = backend.search(q("python"))
    assert [h.id for h in result.hits][:2] == [cid("python"), cid("stats")]


def test_title_is_boosted_over_description(backend: SearchBackend) -> None:
    # "python" is in the title of one course and only the description of the other.
    hits = backend.search(q("python")).hits
    assert hits[0].id == cid("python") and hits[0].score > hits[1].score


def test_all_words_must_match_and_phrases(backend: SearchBackend) -> None:
    assert ids(backend, "python regression") == [cid("stats")]
    assert ids(backend, '"data analysis"') == [cid("python")]
    assert ids(backend, '"analysis data"') == []


def test_stop_words_are_optional(backend: SearchBackend) -> None:
    assert ids(backend, "introduction to the python") == [cid("python")]


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced',
        'python "unbalanced',
        "AND OR NOT",
        "title:foo",
        "id:*",
        "*",
        "python AND -rust +(loops",
        "😀 🚀",
        "'; DROP TABLE courses; --",
        "1=1 OR 'a'='a'",
        "x" * 500,
        "word " * 100,
        "[1 TO 5] {a} ^2 ~3 \\ /regex/",
        "\x00\x01 control",
    ],
)
def test_hostile_input_gives_results_or_query_error(backend: SearchBackend, text: str) -> None:
    try:
        query = Query.create(text[:500], today=q().today)
    except QueryError:
        return
    result = backend.search(query)
    assert result.total >= 0


def test_text_without_words_matches_everything_visible(backend: SearchBackend) -> None:
    assert backend.search(q("*")).total == backend.search(q("")).total == 8


def test_too_long_text_is_a_query_error(backend: SearchBackend) -> None:
    with pytest.raises(QueryError):
        backend.search(Query(text="x" * 501))


def test_invalid_request_built_without_create_is_a_query_error(backend: SearchBackend) -> None:
    with pytest.raises(QueryError):
        backend.search(Query(sort="popularity"))
    with pytest.raises(QueryError):
        backend.search(Query(page_size=0))


def test_snippet_highlights_and_escapes_html(backend: SearchBackend) -> None:
    hit = backend.search(q("rust")).hits[0]
    assert hit.snippet is not None
    assert "<b>Rust</b>" in hit.snippet
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet
    assert "&amp;" in hit.snippet
    stripped = hit.snippet.replace("<b>", "").replace("</b>", "")
    assert "<" not in stripped and ">" not in stripped


def test_snippet_in_the_matching_language(backend: SearchBackend) -> None:
    hit = backend.search(q("éolienne")).hits[0]
    assert hit.id == cid("bilingual")
    assert hit.snippet is not None and "<b>éolienne</b>" in hit.snippet


def test_hits_carry_card_fields(backend: SearchBackend) -> None:
    hit = backend.search(q("Science des données")).hits[0]
    assert hit.fields["title"] == "Science des données"
    assert hit.fields["provider"] == "Université de Lyon"
    assert hit.fields["country"] == "FRA" and hit.fields["eqf"] == "6"
    assert hit.fields["ects"] == 20.0 and hit.fields["price"] == 1200.0
    assert hit.fields["languages"] == ["fr"] and hit.fields["modes"] == ["onsite"]
    assert hit.fields["start_date"] == "2025-10-01"


def test_minus_excludes_words_and_phrases(backend: SearchBackend) -> None:
    assert set(ids(backend, "python")) >= {cid("python"), cid("stats")}
    assert cid("stats") not in ids(backend, "python -regression")
    assert cid("python") in ids(backend, "python -regression")
    assert cid("python") not in ids(backend, 'python -"data analysis"')
    # only excluded words: everything else
    found = ids(backend, "-python", page_size=50)
    assert cid("python") not in found and cid("rust") in found
    # a hyphen inside a word is not a minus
    assert ids(backend, "e-learning") == ids(backend, "e learning")


def test_any_words_fallback_query(backend: SearchBackend) -> None:
    assert ids(backend, "rust spreadsheet") == []
    assert set(ids(backend, "rust spreadsheet", any_words=True)) == {cid("rust"), cid("python")}


def test_assisted_search_corrects_spelling_from_titles(backend: SearchBackend) -> None:
    from course_catalogue.search.assist import assisted_search, corrected_suggestions

    assisted = assisted_search(backend, q("statistcs progamming"))
    assert assisted.typed is None or assisted.result.total > 0
    assisted = assisted_search(backend, q("sytems programing"))
    assert assisted.typed == "sytems programing"
    assert assisted.result.query.text == "systems programming"
    assert [h.id for h in assisted.result.hits] == [cid("rust")]
    # a correct word is kept; no correction without a better result
    assert assisted_search(backend, q("python")).typed is None
    # relaxed: no course has both words
    relaxed = assisted_search(backend, q("rust spreadsheet"))
    assert relaxed.relaxed and {h.id for h in relaxed.result.hits} == {cid("rust"), cid("python")}
    assert not assisted_search(backend, q("rust spreadsheet"), correct=False).corrected
    # autocomplete survives a transposition (suggestions show current courses: the undated one)
    assert backend.suggest("desgin", 5) == []
    assert any("Course design" in s.text for s in corrected_suggestions(backend, "desgin", 5))
