"""The RDF path selector language: syntax, alternatives, inverse, optional steps, filters, tags, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.rdf_graph import LANG_STRING as LANG
from course_catalogue.mappings.rdf_graph import N_TRIPLES, Graph, Lit, Term, parse_ntriples, record_document
from course_catalogue.mappings.rdf_paths import Focus, RdfRecords, compile_path
from course_catalogue.mappings.values import Published, lang_of, text_of

ELM = "http://data.europa.eu/snb/model/elm/"
DC = "http://purl.org/dc/terms/"
ECTS = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
ECVET = "http://data.europa.eu/snb/education-credit/60b314e826"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def graph() -> Graph:
    g = Graph("http://ex/lo")
    triples: list[tuple[str, str, Term]] = [
        ("http://ex/lo", TYPE, ELM + "LearningOpportunity"),
        ("http://ex/lo", DC + "title", Lit("Data", "en", LANG)),
        ("http://ex/lo", DC + "title", Lit("Daten", "de", LANG)),
        ("http://ex/lo", ELM + "learningAchievementSpecification", "http://ex/las"),
        ("http://ex/las", TYPE, ELM + "LearningAchievementSpecification"),
        ("http://ex/las", DC + "title", Lit("Spec", "en", LANG)),
        ("http://ex/las", ELM + "creditPoint", "_:c1"),
        ("http://ex/las", ELM + "creditPoint", "_:c2"),
        ("_:c1", ELM + "framework", ECVET),
        ("_:c1", ELM + "point", Lit("30")),
        ("_:c2", ELM + "framework", ECTS),
        ("_:c2", ELM + "point", Lit("7.5")),
        ("http://ex/las", ELM + "learningOutcome", "http://ex/o1"),
        ("http://ex/las", ELM + "learningOutcome", "http://ex/o2"),
        ("http://ex/o1", DC + "title", Lit("Clean data", "en", LANG)),
        ("http://ex/o1", ELM + "relatedSkill", "http://data.europa.eu/esco/skill/abc"),
        ("http://ex/o1", ELM + "relatedSkill", "http://other.example/skill/1"),
        ("http://ex/o2", DC + "title", Lit("Plot data", "en", LANG)),
    ]
    for s, p, o in triples:
        g.add(s, p, o)
    return g


def tagged_values(expression: str, start: str | None = None, **namespaces: str) -> list[Published]:
    return compile_path(expression, namespaces).values(graph(), start)


def values(expression: str, start: str | None = None, **namespaces: str) -> list[str] | None:
    return texts(tagged_values(expression, start, **namespaces))


def texts(values: list[Published] | None) -> list[str] | None:
    """A selector's result as its texts (languages are checked with `lang_of`)."""
    return None if values is None else [text_of(v) for v in values]


def test_sequence_and_language_tags() -> None:
    titles = tagged_values("elm:learningAchievementSpecification/dc:title")
    assert texts(titles) == ["Spec"]
    assert lang_of(titles[0]) == "en"
    assert [lang_of(v) for v in tagged_values("dc:title")] == ["en", "de"]


def test_alternatives_keep_order_without_duplicates() -> None:
    assert values("dc:title | elm:learningAchievementSpecification/dc:title | dc:title") == [
        "Data",
        "Daten",
        "Spec",
    ]


def test_optional_step_includes_the_start() -> None:
    assert values("elm:learningAchievementSpecification?/dc:title") == ["Data", "Daten", "Spec"]
    # from the specification itself the optional step stays put
    assert values("elm:learningAchievementSpecification?/dc:title", "http://ex/las") == ["Spec"]


def test_inverse_and_inverted_group() -> None:
    assert values("^elm:learningOutcome/^elm:learningAchievementSpecification", "http://ex/o1") == [
        "http://ex/lo"
    ]
    assert values("^(elm:learningAchievementSpecification/elm:learningOutcome)", "http://ex/o2") == [
        "http://ex/lo"
    ]


def test_filters_on_values_prefixes_and_existence() -> None:
    ects = f"elm:learningAchievementSpecification/elm:creditPoint[elm:framework=<{ECTS}>]/elm:point"
    assert values(ects) == ["7.5"]
    assert values(ects.replace("=", "!=")) == ["30"]
    esco = 'elm:learningAchievementSpecification/elm:learningOutcome/elm:relatedSkill[.^="http://data.europa.eu/esco/"]'
    assert values(esco) == ["http://data.europa.eu/esco/skill/abc"]
    assert values("elm:learningAchievementSpecification/elm:learningOutcome[elm:relatedSkill]/dc:title") == [
        "Clean data"
    ]
    assert values('.[dc:title="Daten"@de]/dc:title') == ["Data", "Daten"]
    assert values('.[dc:title="Daten"@fr]/dc:title') == []
    assert values(".[a=elm:LearningOpportunity]/dc:title") == ["Data", "Daten"]


def test_declared_prefixes_and_full_iris() -> None:
    assert values("ex:title", ex=DC) == ["Data", "Daten"]
    assert values(f"<{DC}title>") == ["Data", "Daten"]


def test_blank_nodes_give_no_value_but_are_nodes() -> None:
    path = compile_path("elm:learningAchievementSpecification/elm:creditPoint")
    assert path.values(graph()) == []
    assert len(path.nodes(graph())) == 2


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "empty"),
        ("nope:title", "unknown prefix"),
        ("dc:title/", "ends too early"),
        ("dc:title]", "unexpected"),
        ("(dc:title", "ends too early"),
        ("<relative>", "absolute IRI"),
        ("dc:title[elm:x=]", "expected an IRI or a quoted literal"),
        ("^(dc:title[dc:x])", "inverted group"),
        ("dc:title[.^=<http://x/>]", "quoted string"),
        ("dc:title $", "unexpected"),
    ],
)
def test_invalid_paths_say_why(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compile_path(expression)


def test_spec_loader_reports_bad_paths_as_configuration_errors(tmp_path: Path) -> None:
    from course_catalogue.mappings.spec import load_spec

    spec = tmp_path / "bad.toml"
    spec.write_text('format = "elm-rdf"\n[fields.title]\npath = "dc:title/nope:x"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad.toml: fields.title.path: unknown prefix 'nope'"):
        load_spec(str(spec))
    spec.write_text(
        'format = "elm-rdf"\n[namespaces]\nnope = "http://nope/"\n[fields.title]\npath = "nope:x"\n',
        encoding="utf-8",
    )
    assert load_spec(str(spec)).name == "bad"


def test_selector_language_replays_stored_ntriples() -> None:
    g = graph()
    content = record_document(g.triples())[0]
    item = RawItem(content, N_TRIPLES, "http://ex/lo", "http://ex/lo")
    language = RdfRecords().configure({}, {})
    doc = language.parse(item)
    assert isinstance(doc, Focus) and doc.node == "http://ex/lo"
    select = language.compile("path", "elm:learningAchievementSpecification/elm:learningOutcome/dc:title")
    assert texts(select(doc)) == ["Clean data", "Plot data"]
    groups = language.compile_nodes("each", "elm:learningAchievementSpecification/elm:learningOutcome")(doc)
    assert groups is not None
    assert [texts(language.compile("path", "dc:title")(member)) for member in groups] == [
        ["Clean data"],
        ["Plot data"],
    ]


def test_replay_finds_the_root_without_a_guid() -> None:
    content = record_document(graph().triples())[0]
    doc = RdfRecords().parse(RawItem(content, N_TRIPLES))
    assert doc.node == "http://ex/lo"
    with pytest.raises(ValueError, match="N-Triples"):
        RdfRecords().parse(RawItem(b"<a> <b> .", N_TRIPLES))


def test_lexical_forms_survive_the_round_trip() -> None:
    g = Graph()
    g.add(
        "http://ex/s",
        ELM + "volumeOfLearning",
        Lit("PT60H", None, "http://www.w3.org/2001/XMLSchema#duration"),
    )
    g.add("http://ex/s", DC + "description", Lit('say "hi"\nnow', "en", LANG))
    back = parse_ntriples(record_document(g.triples())[0])
    assert back.objects("http://ex/s", ELM + "volumeOfLearning") == [
        Lit("PT60H", None, "http://www.w3.org/2001/XMLSchema#duration")
    ]
    assert back.objects("http://ex/s", DC + "description") == [Lit('say "hi"\nnow', "en", LANG)]
