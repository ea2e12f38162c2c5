"""Hostile JSON for the JSON harvester and the OOAPI mapping (issue 22: the JSON reader's share of
classes 5 to 8): huge arrays of one property, nesting per JSON Lines line, lone surrogates."""

from __future__ import annotations

import json
from pathlib import Path

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.course_writes import unstorable
from course_catalogue.harvesters.json import JsonHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import load_spec
from tests.harvesters.test_hostile_rdf import hang_guard

FIXTURES = Path(__file__).parents[1] / "fixtures"


def ooapi_course(**fields: object) -> dict[str, object]:
    course = json.loads((FIXTURES / "ooapi_course_example.json").read_bytes())
    course["organization"] = {
        "name": [{"language": "en", "value": "Uni"}],
        "addresses": [{"countryCode": "ES"}],
    }
    course.update(fields)
    return course


def test_huge_arrays_of_one_property_are_read_and_mapped_in_linear_time() -> None:
    """300,000 names and 300,000 delivery modes in one record: ~10 s end to end when linear;
    a scan per value (the RDF reader's old fault) would take hours. Not a timing assertion: a
    hang guard."""
    n = 300_000
    names = [{"language": "en-GB", "value": f"name {i}"} for i in range(n)]
    record = ooapi_course(name=names, modeOfDelivery=["online", "on campus"] * (n // 2))
    spec = load_spec("ooapi")
    with hang_guard(300):
        (gathered,) = JsonHarvester().gather(json.dumps([record]).encode(), spec)
        mapped = apply(spec, gathered.item, "ooapi")
    assert gathered.readable and mapped.course is not None
    assert set(mapped.course.modes) == {"online", "onsite"}  # 300,000 values, two distinct


def test_a_deeply_nested_json_lines_line_fails_alone() -> None:
    good = json.dumps(ooapi_course(courseId="c-1")).encode()
    deep = b'{"courseId": "c-2", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    lines = good + b"\n" + deep + b"\n" + json.dumps(ooapi_course(courseId="c-3")).encode()
    spec = load_spec("ooapi")
    reader = {**spec.reader, "lines": True}
    language = spec.selector_language.configure(spec.namespaces, reader)  # type: ignore[attr-defined]
    items = list(JsonHarvester().gather(lines, _with(spec, language)))
    assert [g.readable for g in items] == [True, False, True]
    assert "nested" in items[1].issues[0].message


def test_a_lone_surrogate_is_kept_as_its_escape_and_rejected_where_mapped() -> None:
    spec = load_spec("ooapi")
    record = ooapi_course(name=[{"language": "en", "value": "Bad \ud800 title"}], remark="\udfff")
    (gathered,) = JsonHarvester().gather(json.dumps(record).encode(), spec)
    assert b'"remark":"\\udfff"' in gathered.item.content and gathered.readable
    course = apply(spec, gathered.item, "ooapi").course
    assert course is not None
    issue = unstorable(course_to_dict(course))
    assert issue is not None and issue.field == "title"


def _with(spec: object, language: object) -> object:
    from dataclasses import replace

    return replace(spec, selector_language=language)  # type: ignore[type-var]
