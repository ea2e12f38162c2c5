"""The JSON selector language: JMESPath results, language pairs, groups, spec errors; the OOAPI spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.harvesters.json import JsonHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.json_paths import JsonRecords, flatten
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.values import Published, lang_of, text_of

DOC: dict[str, Any] = {
    "name": [{"language": "en-GB", "value": "Maths"}, {"language": "nl-NL", "value": "Wiskunde"}],
    "load": {"unit": "ects", "value": 7.5},
    "n": [1, 2.0, True, None, {"other": "x"}],
    "outcomes": [
        [{"language": "en", "value": "A"}, {"language": "de", "value": "B"}],
        [{"language": "en", "value": "C"}],
    ],
}


def texts(values: list[Published] | None) -> list[str] | None:
    """A selector's result as its texts (languages are checked with `lang_of`)."""
    return None if values is None else [text_of(v) for v in values]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name", ["Maths", "Wiskunde"]),
        ("name[?language=='nl-NL'].value", ["Wiskunde"]),
        ("load.value", ["7.5"]),
        ("load", []),  # an object without the language key is no value
        ("n", ["1", "2", "true"]),  # null and plain objects give nothing
        ("missing", []),
        ("length(name)", ["2"]),
        ("[load][?unit=='ects'].value", ["7.5"]),
        ("abs(name)", []),  # a type error on this record: nothing, not an exception
    ],
)
def test_results(path: str, expected: list[str]) -> None:
    assert texts(JsonRecords().compile("path", path)(DOC)) == expected


def test_language_pairs_are_tagged() -> None:
    values = JsonRecords().compile("path", "name")(DOC) or []
    assert [lang_of(v) for v in values] == ["en", "nl"]
    jsonld = JsonRecords().configure({}, {"lang_pair": ["@language", "@value"]})
    assert [
        lang_of(v) for v in jsonld.compile("path", "t")({"t": {"@language": "fr", "@value": "x"}}) or []
    ] == ["fr"]
    off = JsonRecords().configure({}, {"lang_pair": []})
    assert off.compile("path", "name")(DOC) == []
    assert flatten({"language": "xx-unknown", "value": 3}) == ["3"]


def test_nodes_for_groups() -> None:
    nodes = JsonRecords().compile_nodes("each", "outcomes")(DOC) or []
    assert len(nodes) == 2
    found = [texts(JsonRecords().compile("path", "@")(node)) for node in nodes]
    assert found == [["A", "B"], ["C"]]
    assert JsonRecords().compile_nodes("each", "load")(DOC) == [DOC["load"]]
    assert JsonRecords().compile_nodes("each", "missing")(DOC) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[reader]\nrecords = "items[?"', "reader.records: invalid JMESPath"),
        ('[reader]\nlang_pair = ["language"]', "reader.lang_pair"),
        ("[reader]\nlines = 1", "reader.lines: must be true or false"),
        ('[reader]\nrecord = "x"', "unknown key\\(s\\) record"),
        ('[namespaces]\nx = "urn:x"', "take no \\[namespaces\\]"),
        ('[fields.url]\npath = "a[?"', "fields.url.path: invalid JMESPath"),
    ],
)
def test_spec_errors(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "j.toml"
    path.write_text(f'format = "json"\n{extra}\n[fields.title]\npath = "name"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_spec(str(path))


PAGE = {
    "pageSize": 1,
    "items": [
        {
            "offeringId": "o-1",
            "name": [{"language": "nl", "value": "Najaar 2025"}],
            "startDate": "2025-09-01",
            "priceInformation": [
                {"costType": "STAP eligible", "amount": "100.00", "currency": "EUR"},
                {"costType": "total costs", "amount": "1250.00", "currency": "EUR"},
            ],
            "course": {
                "courseId": "c-1",
                "name": [
                    {"language": "en-GB", "value": "Data Science"},
                    {"language": "nl-NL", "value": "Datawetenschap"},
                ],
                "studyLoad": {"studyLoadUnit": "hour", "value": 140},
                "level": "master",
                "teachingLanguage": "eng",
                "fieldsOfStudy": "0613",
                "organization": {
                    "organizationId": "org-1",
                    "name": [{"language": "en-GB", "value": "Example University"}],
                    "link": "https://uni.example",
                    "addresses": [{"addressType": "postal", "countryCode": "NL"}],
                },
            },
        }
    ],
}


def test_ooapi_offering_page_with_expanded_course() -> None:
    spec = load_spec("ooapi")
    (gathered,) = JsonHarvester().gather(json.dumps(PAGE).encode(), spec)
    assert gathered.item.pointer == "$.items[0]"
    record = apply(spec, gathered.item, "ooapi")
    course = record.course
    assert record.provider_ref == "o-1" and course is not None
    assert course.title == {"en": "Data Science", "nl": "Datawetenschap"}  # the course's name first
    assert course.provider.name == {"en": "Example University"} and course.provider.country == "NLD"
    assert (course.workload.hours, course.workload.ects_basis) == (140, "estimated-from-hours")
    assert course.eqf_level == 7 and course.languages == ("en",) and course.isced_f == ("0613",)
    assert course.price is not None and (course.price.amount, course.price.currency) == (1250, "EUR")
    assert str(course.start_date) == "2025-09-01"
