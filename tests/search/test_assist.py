"""Spelling correction's word rules (the searches themselves: test_contract_text, both engines)."""

from __future__ import annotations

from course_catalogue.search.assist import edit_distance, inflected


def test_inflections_are_not_typos() -> None:
    assert inflected("course", "courses") and inflected("program", "programming")
    assert not inflected("machne", "mac") and not inflected("stat", "statistics")
    assert inflected("r", "r")
    assert edit_distance("pyhton", "python", 1) == 1  # a transposition is one edit
    assert edit_distance("machne", "machine", 1) == 1
    assert edit_distance("lerning", "learning", 1) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # capped at limit + 1
