"""Linking courses to ESCO skills: stated links kept, inferred ones marked, the threshold applied."""

from __future__ import annotations

from typing import Any

import pytest

from course_catalogue.skills.linking import (
    LABEL,
    PUBLISH_THRESHOLD,
    STATED,
    CourseText,
    confidence,
    fold_words,
    link,
    published,
)
from course_catalogue.skills.taxonomy import Taxonomy
from tests.conftest import small_taxonomy


def uri_of(taxonomy: Taxonomy, label: str) -> str:
    return taxonomy.resolve(label).uri


def course(
    title: str = "", description: str = "", outcomes: tuple[str, ...] = (), **kw: object
) -> CourseText:
    return CourseText(
        title=[{"en": title}] if title else [],
        keywords=list(kw.get("keywords", ())),  # type: ignore[call-overload]
        outcomes=[{"en": text} for text in outcomes],
        description=[{"en": description}] if description else [],
        stated=list(kw.get("stated", ())),  # type: ignore[call-overload]
    )


def test_stated_links_are_kept_as_stated_even_when_unknown() -> None:
    taxonomy = small_taxonomy()
    unknown = "http://data.europa.eu/esco/skill/00000000-0000-0000-0000-000000000000"
    pm = uri_of(taxonomy, "project management")
    links = link(
        course("Cooking", stated=[(unknown, "Bake bread"), (pm, "Plan a kitchen project")]), taxonomy
    )
    assert [(item.uri, item.stated, item.method, item.confidence) for item in links] == [
        (unknown, True, STATED, 1.0),
        (pm, True, STATED, 1.0),
    ]
    assert links[0].label == unknown  # not in the taxonomy: shown by its URI, never invented
    assert links[1].label == "project management" and links[1].sentence == "Plan a kitchen project"
    assert published(links) == links  # stated links are always published


def test_a_stated_skill_is_not_inferred_again() -> None:
    taxonomy = small_taxonomy()
    pm = uri_of(taxonomy, "project management")
    links = link(course("Project management", stated=[(pm, "Run projects")]), taxonomy)
    assert [(item.uri, item.stated) for item in links] == [(pm, True)]


def test_inferred_links_are_marked_with_method_sentence_and_confidence() -> None:
    taxonomy = small_taxonomy()
    text = course(
        "Introduction to Python",
        description="You write programs. Later you learn statistics for surveys.",
        outcomes=("Apply project management to software projects",),
    )
    links = {item.label: item for item in link(text, taxonomy)}
    python = links["Python (computer programming)"]
    assert (python.stated, python.method, python.source) == (False, LABEL, "title")
    assert python.sentence == "Introduction to Python"
    assert links["statistics"].sentence == "Later you learn statistics for surveys."
    assert links["statistics"].source == "description"
    assert links["project management"].source == "outcomes"
    # a two-word preferred label in an outcome beats a one-word label in the description
    assert links["project management"].confidence > links["statistics"].confidence
    assert all(0 < item.confidence < 1 for item in links.values())


def test_threshold_applied() -> None:
    taxonomy = small_taxonomy()
    links = link(course("Budgets", description="Some statistics. Also project management."), taxonomy)
    shown = published(links)
    assert {item.label for item in links} == {"statistics", "project management"}
    assert all(item.confidence >= PUBLISH_THRESHOLD for item in shown)
    assert [item.label for item in shown] == [i.label for i in links if i.confidence >= PUBLISH_THRESHOLD]
    assert len(shown) < len(links)  # a single word in a description is below the threshold


def test_labels_match_folded_words_and_plurals_but_never_across_a_comma() -> None:
    taxonomy = small_taxonomy()
    assert fold_words("Project Managements, Économie") == ["project", "management", "economie"]
    found = {item.label for item in link(course("Project managements"), taxonomy)}
    assert "project management" in found
    split = {item.label for item in link(course("Our project, management and more"), taxonomy)}
    assert "project management" not in split


def test_longest_label_wins() -> None:
    taxonomy = small_taxonomy()
    labels = [item.label for item in link(course("Renewable energy technologies"), taxonomy)]
    assert labels == ["renewable energy technologies"]


def test_without_taxonomy_only_stated_links() -> None:
    stated = [("http://data.europa.eu/esco/skill/x", "Do x")]
    links = link(course("Python statistics", stated=stated), None)
    assert [(item.uri, item.label, item.stated) for item in links] == [(stated[0][0], stated[0][0], True)]


def test_non_english_sentence_links_only_through_identical_labels() -> None:
    """ESCO labels are English: a French sentence finds a skill only where the word is the same."""
    taxonomy = small_taxonomy()
    french = CourseText([{"fr": "Gestion de projet, statistiques et communication"}], [], [], [])
    assert [item.label for item in link(french, taxonomy)] == ["communication"]


def test_confidence_orders_the_evidence() -> None:
    weak = confidence(1, False, "description", 1, False)
    assert confidence(2, False, "description", 1, False) > weak
    assert confidence(1, True, "description", 1, False) > weak
    assert confidence(1, False, "title", 1, False) > weak
    assert confidence(1, False, "description", 2, False) > weak
    assert confidence(1, False, "description", 1, True) < weak


def test_a_sentence_in_another_language_links_by_meaning() -> None:
    """With the multilingual sentence encoder (opt-in), a Spanish title finds the English label;
    English text is left to label matching; the link is inferred, method `embedding`."""
    from course_catalogue.search.semantic import embedder
    from course_catalogue.skills.semantic import PUBLISH_THRESHOLD as MEANING_THRESHOLD
    from course_catalogue.skills.semantic import SemanticLinker

    taxonomy = small_taxonomy()
    meaning = SemanticLinker(taxonomy, embedder("use"))
    spanish = CourseText([{"es": "Introducción a la gestión de proyectos"}], [], [], [])
    [found] = link(spanish, taxonomy, meaning)
    assert (found.label, found.stated, found.method, found.source) == (
        "project management",
        False,
        "embedding",
        "title",
    )
    assert found.sentence == "Introducción a la gestión de proyectos"
    assert found.confidence >= MEANING_THRESHOLD and published([found]) == [found]
    assert link(spanish, taxonomy) == []  # label matching alone finds nothing in Spanish
    unrelated = CourseText([{"de": "Kochen für Anfänger"}], [], [], [])
    assert link(unrelated, taxonomy, meaning) == []
    english = CourseText([{"en": "Managing projects well"}], [], [], [])
    assert all(item.method != "embedding" for item in link(english, taxonomy, meaning))


def test_meaning_links_are_opt_in_and_label_vectors_cached(monkeypatch: Any, tmp_path: Any) -> None:
    import numpy as np

    from course_catalogue.skills import semantic

    taxonomy = small_taxonomy()
    calls: list[int] = []

    class Fake:
        dim = 4

        def passages(self, texts: list[str]) -> Any:
            calls.append(len(texts))
            return np.eye(len(texts), 4, dtype=np.float32)

    monkeypatch.delenv("CATALOGUE_SKILLS_SEMANTIC", raising=False)
    assert semantic.current(taxonomy, lambda name: Fake()) is None
    monkeypatch.setenv("CATALOGUE_SKILLS_SEMANTIC", "fake")
    monkeypatch.setenv("CATALOGUE_CACHE_DIR", str(tmp_path))
    first = semantic.build(taxonomy, "fake", lambda name: Fake())
    again = semantic.build(taxonomy, "fake", lambda name: Fake())
    assert calls == [len(taxonomy)]  # the second read the cached label vectors
    assert np.array_equal(first.vectors, again.vectors)
    assert semantic.current(taxonomy, lambda name: Fake()) is not None
    assert semantic.current(None, lambda name: Fake()) is None


def test_the_linker_key_names_what_links_depend_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links kept under one key are reused for the same text: the key must change with the linker
    version, the thresholds, the taxonomy and the model of links by meaning."""
    from course_catalogue.skills import linking

    taxonomy = small_taxonomy()
    key = linking.linker_key(taxonomy)
    assert key == linking.linker_key(small_taxonomy()) and len(key) <= 200
    assert linking.linker_key(taxonomy, "use") != key
    unversioned = Taxonomy(taxonomy.skills.values())
    assert linking.linker_key(unversioned) != linking.linker_key(Taxonomy(list(taxonomy.skills.values())[1:]))
    assert linking.linker_key(Taxonomy(taxonomy.skills.values(), "9.9")) != key
    for name, value in (("LINKER_VERSION", 99), ("PUBLISH_THRESHOLD", 0.6), ("MAX_LINKS", 3)):
        with monkeypatch.context() as patch:
            patch.setattr(linking, name, value)
            assert linking.linker_key(taxonomy) != key, name
    monkeypatch.setattr(linking.by_meaning, "PUBLISH_THRESHOLD", 0.7)
    assert linking.linker_key(taxonomy) != key
