"""JSON harvester: record selection, pointers, JSON Lines, and the strictness and limits contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.runs import Severity
from course_catalogue.harvesters.base import Gathered, harvester_for
from course_catalogue.harvesters.json import JsonHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.json_paths import JSON_MEDIA_TYPE
from course_catalogue.mappings.spec import MappingSpec, load_spec

SPEC = """
format = "json"
[reader]
{reader}
[id]
path = "id"
[fields.title]
path = "name"
"""


def make_spec(tmp_path: Path, reader: str = "") -> MappingSpec:
    path = tmp_path / "demo.toml"
    path.write_text(SPEC.replace("{reader}", reader), encoding="utf-8")
    return load_spec(str(path))


def gather(data: bytes, spec: MappingSpec) -> list[Gathered]:
    return list(JsonHarvester().gather(data, spec))


def test_registered_for_json() -> None:
    assert isinstance(harvester_for("json").harvester, JsonHarvester)


@pytest.mark.parametrize(
    ("reader", "data", "pointers"),
    [
        ("", b'{"id": "a"}', ["$"]),
        ("", b'[{"id": "a"}, {"id": "b"}]', ["$[0]", "$[1]"]),
        ('records = "@"', b'[{"id": "a"}]', ["$[0]"]),
        (
            'records = "items"',
            b'{"items": [{"id": "a"}, {"id": "b"}], "pageSize": 2}',
            ["$.items[0]", "$.items[1]"],
        ),
        ('records = "data.courses"', b'{"data": {"courses": [{"id": "a"}]}}', ["$.data.courses[0]"]),
        ('records = "items || [@]"', b'{"id": "a"}', ["$"]),
        (
            'records = "items[?active]"',
            b'{"items": [{"id": "a", "active": true}, {"id": "b"}]}',
            ["$ (items[?active])[0]"],
        ),
    ],
)
def test_records_and_pointers(tmp_path: Path, reader: str, data: bytes, pointers: list[str]) -> None:
    found = gather(data, make_spec(tmp_path, reader))
    assert [g.item.pointer for g in found] == pointers
    assert all(g.item.media_type == JSON_MEDIA_TYPE and g.readable for g in found)


def test_content_is_canonical_and_replays(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    (gathered,) = gather('{ "name" : [{"language": "fr-FR", "value": "Été"}], "id": 7 }'.encode(), spec)
    assert gathered.item.content == '{"id":7,"name":[{"language":"fr-FR","value":"Été"}]}'.encode()
    live = apply(spec, gathered.item, "s")
    replay = apply(spec, RawItem(gathered.item.content, JSON_MEDIA_TYPE, gathered.item.pointer), "s")
    assert live.course == replay.course and live.course is not None
    assert live.provider_ref == "7" and live.course.title == {"fr": "Été"}


def test_json_lines(tmp_path: Path) -> None:
    data = b'{"id": "a"}\n\n{"id": \n{"items": [{"id": "b"}, {"id": "c"}]}\n"text"\n'
    found = gather(data, make_spec(tmp_path, "lines = true"))
    assert [(g.item.pointer, g.readable) for g in found] == [
        ("line 1", True),
        ("line 3", False),  # a broken line is an ERROR on that line; the rest carries on
        ("line 4", True),  # without reader.records a page object is one record (mapping finds no id)
        ("line 5", False),  # a string is no record
    ]
    assert found[1].issues[0].code == "unreadable-line"
    assert found[3].issues[0].code == "not-an-object"
    paged = gather(
        data.replace(b'"text"', b"[]"), make_spec(tmp_path, 'lines = true\nrecords = "items || [@]"')
    )
    assert [g.item.pointer for g in paged if g.readable] == ["line 1", "line 4.items[0]", "line 4.items[1]"]


def test_duplicate_keys_keep_the_last_with_a_warning(tmp_path: Path) -> None:
    data = b'[{"id": "a", "name": "x", "name": "y"}, {"id": "b"}]'
    first, second = gather(data, make_spec(tmp_path))
    assert json.loads(first.item.content)["name"] == "y"
    assert [(i.severity, i.code) for i in first.issues] == [(Severity.WARNING, "duplicate-key")]
    assert "'name'" in first.issues[0].message and first.readable and not second.issues


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b'{"id": "a"', "not valid JSON"),
        (b'{"id": "a"}\n{"id": "b"}', "reader.lines"),
        (b'{"id": NaN}', "NaN"),
        (b'[{"id": Infinity}]', "Infinity"),
        (b"\xff\xfe\xfd", "JSON|UTF"),
        (b"[" * 100 + b"]" * 100, "nested"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
    ],
    ids=["empty", "truncated", "json-lines", "nan", "infinity", "bytes", "deep", "recursion-bomb"],
)
def test_unusable_feeds(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        gather(data, make_spec(tmp_path))


def test_records_selecting_nothing_fails_the_feed(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="selects nothing"):
        gather(b'{"courses": []}', make_spec(tmp_path, 'records = "items"'))
    for data, reader in [(b'{"items": []}', 'records = "items"'), (b"[]", ""), (b"\n \n", "lines = true")]:
        with pytest.raises(ParseError, match="no record"):
            gather(data, make_spec(tmp_path, reader))


def test_limits_come_from_the_spec(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="max_bytes"):
        gather(b'{"id": "a"}', make_spec(tmp_path, "max_bytes = 5"))
    with pytest.raises(ParseError, match="nested"):
        gather(b'{"id": "a", "x": {"y": [1]}}', make_spec(tmp_path, "max_depth = 2"))
    assert len(gather(b'{"id": "a", "x": {"y": 1}}', make_spec(tmp_path, "max_depth = 2"))) == 1
