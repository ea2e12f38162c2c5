"""JSON-LD keys that expansion drops because no context defines them (mappings.jsonld_keys): what
is reported, and that it is exactly what pyoxigraph's JSON-LD parser drops."""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph as ox
import pytest

from course_catalogue.mappings.jsonld_keys import MAX_PATHS, UndefinedKeys

CTX = {
    "ex": "https://example.org/",
    "name": "ex:name",
    "label": {"@id": "ex:label", "@container": "@language"},
}


def found(document: Any) -> dict[str, tuple[int, str]]:
    keys = UndefinedKeys()
    keys.scan(document)
    return {p.path: (p.records, p.example) for p in keys.paths()}


CASES: list[tuple[str, Any, dict[str, tuple[int, str]]]] = [
    (
        "an undefined key",
        {"@context": CTX, "@id": "ex:a", "name": "A", "colour": "red"},
        {"colour": (1, "red")},
    ),
    (
        "inside an inline node",
        {"@context": CTX, "@id": "ex:a", "ex:cost": {"name": "fee", "amount": 10}},
        {"ex:cost/amount": (1, "10")},
    ),
    ("a compact or absolute IRI is kept", {"@context": CTX, "@id": "ex:a", "ex:x": 1, "foo:bar": 2}, {}),
    (
        "@vocab keeps every key",
        {"@context": [CTX, {"@vocab": "https://v.example/"}], "@id": "ex:a", "colour": "red"},
        {},
    ),
    ("language map keys are tags", {"@context": CTX, "@id": "ex:a", "label": {"en-US": "x", "fr": "y"}}, {}),
    (
        "a value object holds no keys",
        {"@context": CTX, "@id": "ex:a", "name": {"@value": "x", "@language": "en"}},
        {},
    ),
    (
        "a property-scoped context defines it for its value",
        {
            "@context": {**CTX, "ex:cost": {"@context": {"amount": "ex:amount"}}},
            "@id": "ex:a",
            "ex:cost": {"amount": 3, "other": 4},
        },
        {"ex:cost/other": (1, "4")},
    ),
    (
        "a type-scoped context defines it for its node",
        {
            "@context": {**CTX, "Fee": {"@id": "ex:Fee", "@context": {"amount": "ex:amount"}}},
            "@type": "Fee",
            "amount": 3,
        },
        {},
    ),
    (
        "@context null resets",
        {"@context": CTX, "ex:p": {"@context": None, "@id": "ex:b", "name": "x"}},
        {"ex:p/name": (1, "x")},
    ),
    (
        "counted per top-level node of a @graph",
        {
            "@context": CTX,
            "@graph": [{"@id": "ex:a", "colour": "red"}, {"@id": "ex:b", "colour": "blue"}, {"@id": "ex:c"}],
        },
        {"colour": (2, "red")},
    ),
    (
        "an index map holds nodes under its keys",
        {
            "@context": {**CTX, "byCode": {"@id": "ex:byCode", "@container": "@index"}},
            "@id": "ex:a",
            "byCode": {"k1": {"@id": "ex:b", "colour": "red"}},
        },
        {"byCode/colour": (1, "red")},
    ),
    (
        "keyword aliases are keywords",
        {"@context": {**CTX, "id": "@id", "type": "@type"}, "id": "ex:a", "type": "ex:T", "name": "x"},
        {},
    ),
]


@pytest.mark.parametrize(("case", "document", "expected"), CASES, ids=[c[0] for c in CASES])
def test_undefined_keys(case: str, document: Any, expected: dict[str, tuple[int, str]]) -> None:
    assert found(document) == expected


@pytest.mark.parametrize(("case", "document", "expected"), CASES, ids=[c[0] for c in CASES])
def test_what_is_reported_is_what_the_parser_drops(
    case: str, document: Any, expected: dict[str, Any]
) -> None:
    """Each reported key's value is absent from the parsed graph; with @vocab added (every key
    then kept) the same values are present: the report is neither short nor made up."""

    def literals(doc: Any) -> set[str]:
        quads = ox.parse(json.dumps(doc).encode(), ox.RdfFormat.JSON_LD)
        return {q.object.value for q in quads if isinstance(q.object, ox.Literal)}

    kept = literals(document)
    for _, example in expected.values():
        assert example not in kept
    if expected and "null" not in json.dumps(document):  # (a reset context would drop @vocab again)
        with_vocab = {**document, "@context": [document["@context"], {"@vocab": "https://v.example/"}]}
        assert found(with_vocab) == {}
        kept = literals(with_vocab)
        for _, example in expected.values():
            assert example in kept


def test_paths_beyond_the_cap_are_counted_not_listed() -> None:
    keys = UndefinedKeys()
    keys.scan({"@context": CTX, "@id": "ex:a", **{f"k{i}": i for i in range(MAX_PATHS + 5)}})
    assert len(keys.paths()) == MAX_PATHS and keys.untracked == 5
