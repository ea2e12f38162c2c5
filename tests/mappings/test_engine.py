"""The mapping engine: selection, shaping, maps, transforms, languages, originals and rejection."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from course_catalogue.catalogue.model import Location, Price, Workload, course_id
from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import CSV_ROW, RawItem
from course_catalogue.mappings.spec import MappingSpec, load_spec

SPEC = """
format = "csv"
default_language = "en"
null_values = ["NA", "-"]

[id]
columns = ["org", "code"]
template = "{0}:{1}"

[fields.title]
column = "title"
required = true

[fields.description]
columns = ["summary", "body"]
join = "\\n\\n"
transform = "html_text"

[[fields.further_information]]
column = "notes"
[[fields.further_information]]
column = "notes_fr"
lang = "fr"

[fields."provider.name"]
column = "org"
[fields."provider.country"]
column = "country"

[fields.languages]
column = "lang"
split = ","

[fields.eqf_level]
column = "level"
args = { framework = "EQF" }        # the export's levels are EQF levels

[fields."workload.ects"]
column = "credits"
[fields."workload.hours"]
column = "hours"

[fields.modes]
column = "mode"
default = "online"

[fields.schedule]
column = "pace"
[fields.schedule.map]
"At your own speed" = "self-paced"

[fields.isced_f]
column = "subject"
split = ";"
[fields.isced_f.map]
"Computing" = "0613"
"Money" = ["0311", "0412"]

[fields.start_date]
column = "start"
args = { day_first = true }

[fields.price]
column = "fee"
args = { currency = "EUR" }

[fields."locations.city"]
column = "city"
[fields."locations.country"]
column = "country"

[[fields.url]]
column = "link"
[[fields.url]]
column = "alt_link"

[fields.keywords]
column = "tags"
split = "|"

[fields.opportunity_type]
constant = "http://data.europa.eu/snb/learning-opportunity/05053c1cbe"
"""

ROW = {
    "org": "Uni Zed",
    "code": "C-1",
    "title": "  Data   Science ",
    "summary": "<p>Short.</p>",
    "body": "Long &amp; detailed.",
    "notes": "Bring a laptop",
    "notes_fr": "Apportez un portable",
    "country": "Ireland",
    "lang": "Français, English",
    "level": "Level 6",
    "credits": "5 ECTS",
    "hours": "125",
    "mode": "",
    "pace": "at your  own speed",
    "subject": "Computing; Money",
    "start": "03/04/2025",
    "fee": "450",
    "city": "Dublin",
    "link": "NA",
    "alt_link": "https://zed.example/c1",
    "tags": "data|python|data",
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> MappingSpec:
    path: Path = tmp_path_factory.mktemp("spec") / "demo.toml"
    path.write_text(SPEC, encoding="utf-8")
    return load_spec(str(path))


def item(row: dict[str, str], pointer: str = "line 2") -> RawItem:
    return RawItem(json.dumps(row).encode(), CSV_ROW, pointer=pointer)


def test_maps_a_full_row(spec: MappingSpec) -> None:
    record = apply(spec, item(ROW), "demo")
    course = record.course
    assert course is not None and record.provider_ref == "Uni Zed:C-1"
    assert course.id == course_id("demo", "Uni Zed:C-1")
    assert course.provenance.pointer == "line 2" and course.provenance.source_id == "demo"
    assert course.languages == ("fr", "en")
    # text goes into the record's language (its first language), unless the rule says otherwise
    assert dict(course.title) == {"fr": "Data Science"}
    assert dict(course.description) == {"fr": "Short.\n\nLong & detailed."}
    assert dict(course.further_information) == {"fr": "Bring a laptop\n\nApportez un portable"}
    assert dict(course.provider.name) == {"fr": "Uni Zed"} and course.provider.country == "IRL"
    assert course.eqf_level == 6
    assert course.workload == Workload(ects=Decimal(5), hours=Decimal(125), ects_basis="stated")
    assert course.modes == ("online",)  # the default, since the cell is blank
    assert course.schedule == "self-paced"  # map keys match case- and space-insensitively
    assert course.isced_f == ("0613", "0311", "0412")
    assert course.start_date == date(2025, 4, 3)
    assert course.price == Price(Decimal(450), "EUR")
    assert course.locations == (Location(country="IRL", city="Dublin"),)
    assert course.url == "https://zed.example/c1"  # "NA" is a null value: the fallback rule is used
    assert course.keywords == ("data", "python")
    assert course.opportunity_type == "http://data.europa.eu/snb/learning-opportunity/05053c1cbe"
    assert record.issues == []


def test_originals_keep_published_text_of_normalised_fields(spec: MappingSpec) -> None:
    course = apply(spec, item(ROW), "demo").course
    assert course is not None
    assert course.originals["provider.country"] == "Ireland"
    assert course.originals["eqf_level"] == "Level 6"
    assert course.originals["schedule"] == "at your  own speed"
    assert course.originals["price"] == "450"
    assert "title" not in course.originals  # text fields are cleaned, not normalised
    assert "locations.city" not in course.originals  # unchanged values need no original


def test_bad_values_become_issues_and_keep_the_original(spec: MappingSpec) -> None:
    row = ROW | {"level": "Advanced", "country": "Atlantis", "start": "soon"}
    record = apply(spec, item(row, "line 9"), "demo")
    assert record.course is not None
    assert record.course.eqf_level is None and record.course.originals["eqf_level"] == "Advanced"
    found = {(i.field, i.severity, i.value) for i in record.issues}
    assert ("eqf_level", Severity.WARNING, "Advanced") in found
    assert ("provider.country", Severity.WARNING, "Atlantis") in found
    assert ("start_date", Severity.WARNING, "soon") in found
    assert all(i.record_ref == "Uni Zed:C-1" and i.pointer == "line 9" for i in record.issues)


def test_missing_required_field_rejects_the_record(spec: MappingSpec) -> None:
    record = apply(spec, item(ROW | {"title": "  "}), "demo")
    assert record.course is None and record.provider_ref == "Uni Zed:C-1"
    assert [(i.severity, i.field, i.code) for i in record.issues] == [
        (Severity.ERROR, "title", "missing-required")
    ]


def test_missing_id_rejects_the_record(spec: MappingSpec) -> None:
    record = apply(spec, item(ROW | {"org": "", "code": ""}), "demo")
    assert record.course is None and record.provider_ref is None
    assert record.issues[0].severity is Severity.ERROR and record.issues[0].code == "missing-id"


def test_guid_from_the_harvester_wins(spec: MappingSpec) -> None:
    raw = RawItem(json.dumps(ROW).encode(), CSV_ROW, guid="urn:x:1")
    assert apply(spec, raw, "demo").provider_ref == "urn:x:1"


def test_missing_column_is_reported(spec: MappingSpec) -> None:
    row = {k: v for k, v in ROW.items() if k != "city"}
    record = apply(spec, item(row), "demo")
    assert record.course is not None
    assert [(i.field, i.code) for i in record.issues] == [("locations.city", "missing-source")]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (RawItem(b"not json", CSV_ROW), "unreadable-item"),
        (RawItem(b"[1, 2]", CSV_ROW), "unreadable-item"),
        (RawItem(b"<course/>", "application/xml"), "wrong-media-type"),
    ],
)
def test_unreadable_items_are_rejected_not_raised(spec: MappingSpec, raw: RawItem, code: str) -> None:
    record = apply(spec, raw, "demo")
    assert record.course is None and record.issues[0].code == code


def test_parsed_cache_is_used(spec: MappingSpec) -> None:
    raw = RawItem(b"", CSV_ROW, parsed=ROW)
    course = apply(spec, raw, "demo").course
    assert course is not None and course.provenance.provider_ref == "Uni Zed:C-1"


def test_text_language_falls_back_to_default_language(spec: MappingSpec) -> None:
    course = apply(spec, item(ROW | {"lang": ""}), "demo").course
    assert course is not None and dict(course.title) == {"en": "Data Science"}


def test_scalar_target_with_several_values_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('format = "csv"\n[id]\ncolumn = "id"\n[fields.schedule]\ncolumn = "s"\nsplit = ","\n')
    record = apply(load_spec(str(path)), item({"id": "1", "s": "full time, part time"}), "x")
    assert record.course is not None and record.course.schedule == "full-time"
    assert [i.code for i in record.issues] == ["extra-values"]


def test_stated_ects_beats_an_estimate(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'format = "csv"\n[id]\ncolumn = "id"\n'
        '[fields.workload]\ncolumn = "h"\ntransform = ["hours", "estimate_ects"]\n'
        '[fields."workload.ects"]\ncolumn = "e"\n'
    )
    course = apply(load_spec(str(path)), item({"id": "1", "h": "100", "e": "6"}), "x").course
    assert course is not None
    assert course.workload == Workload(ects=Decimal(6), hours=Decimal(100), ects_basis="stated")


@pytest.mark.parametrize("code", ["C-\x001", "C-\ud8001", "C-\n1", "C-\x851"])
def test_an_id_a_store_or_url_cannot_hold_rejects_the_record(spec: MappingSpec, code: str) -> None:
    record = apply(spec, item(ROW | {"code": code}), "demo")
    assert record.course is None and record.provider_ref is None  # unidentified: nothing withdrawn
    assert [(i.severity, i.code) for i in record.issues] == [(Severity.ERROR, "invalid-id")]


def test_an_id_in_any_script_is_kept(spec: MappingSpec) -> None:
    record = apply(spec, item(ROW | {"code": "курс-№1 (2025)"}), "demo")
    assert record.course is not None and record.provider_ref == "Uni Zed:курс-№1 (2025)"
