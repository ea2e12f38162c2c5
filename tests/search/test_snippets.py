"""Snippet shaping shared by both engines: sentence boundaries, ellipses, only <b> as markup."""

from __future__ import annotations

from course_catalogue.search.snippets import byte_ranges_to_chars, excerpt, shape

FULL = (
    "Welcome to the course. You will learn how machine learning works in practice, "
    "with many examples. Then you build a model & evaluate it. Finally we discuss ethics."
)


def _ranges(fragment: str, word: str) -> list[tuple[int, int]]:
    start = fragment.index(word)
    return [(start, start + len(word))]


def test_a_fragment_starting_mid_sentence_starts_at_the_highlighted_sentence() -> None:
    fragment = FULL[FULL.index("learn how") : FULL.index("Finally") - 1]  # "... examples. Then ... it."
    html = shape(fragment, _ranges(fragment, "model"), FULL)
    assert html == "Then you build a <b>model</b> &amp; evaluate it."


def test_a_highlight_in_a_cut_sentence_gets_ellipses() -> None:
    fragment = FULL[FULL.index("how machine") : FULL.index("practice") + len("practice")]
    html = shape(fragment, _ranges(fragment, "machine"), FULL)
    assert html.startswith("… how <b>machine</b>") and html.endswith("practice …")


def test_a_fragment_ending_inside_a_word_is_cut_at_the_last_word() -> None:
    fragment = FULL[: FULL.index("practice") + 3]  # "... in pra"
    html = shape(fragment, _ranges(fragment, "machine"), FULL)
    assert html.endswith("works in …") and "pra" not in html.split("works in")[1]


def test_whole_descriptions_are_left_as_they_are() -> None:
    assert shape(FULL, _ranges(FULL, "ethics"), FULL).endswith("we discuss <b>ethics</b>.")
    assert "…" not in shape(FULL, _ranges(FULL, "ethics"), FULL)


def test_escaping_and_byte_offsets() -> None:
    text = "Größe <i>x</i> matters. End."
    start = text.encode().index(b"matters")
    chars = byte_ranges_to_chars(text, [(start, start + len("matters"))])
    assert text[chars[0][0] : chars[0][1]] == "matters"
    assert shape(text, chars, text) == "Größe &lt;i&gt;x&lt;/i&gt; <b>matters</b>. End."


def test_excerpt_prefers_whole_sentences() -> None:
    assert (
        excerpt(FULL, 120)
        == "Welcome to the course. You will learn how machine learning works in practice, with many examples."
    )
    assert excerpt("word " * 50, 40).endswith(" …")
    assert excerpt("Short.", 40) == "Short."


def test_opensearch_marks_become_ranges_and_then_the_same_shape() -> None:
    from course_catalogue.search.opensearch.results import unmark

    marked = "Then you build a \ue000model\ue001 & evaluate it."
    plain, ranges = unmark(marked)
    assert plain == "Then you build a model & evaluate it." and ranges == [(17, 22)]
    assert shape(plain, ranges, FULL) == "Then you build a <b>model</b> &amp; evaluate it."
    assert unmark("\ue001stray\ue000 open") == ("stray open", [(5, 10)])
