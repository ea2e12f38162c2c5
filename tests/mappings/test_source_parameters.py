"""Source parameters in the mapping engine: what a registration declares fills what the spec
leaves unset, an explicit spec argument wins, and a spec is compiled once per parameters."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import course_catalogue.mappings.spec as spec_module
from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.model import Price
from course_catalogue.catalogue.sources import SourceParameters
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import CSV_ROW, RawItem
from course_catalogue.mappings.spec import MappingSpec, bind_parameters, load_spec

SPEC = """
format = "csv"
default_language = "en"

[id]
column = "code"

[fields.title]
column = "title"

[fields."provider.name"]
column = "org"
[fields."provider.country"]
column = "country"

[fields.eqf_level]
column = "level"                      # bare levels: the source's framework says what they are

[fields.price]
column = "fee"                        # bare amounts: the source's currency

[fields."workload.hours"]
column = "hours"
transform = ["hours", "estimate_ects"]
"""

EXPLICIT = """
format = "csv"

[id]
column = "code"

[fields.title]
column = "title"

[fields.eqf_level]
column = "level"
args = { framework = "EQF" }          # this export's levels are EQF levels, whatever the source says

[fields.price]
column = "fee"
args = { currency = "GBP" }

[fields."workload.hours"]
column = "hours"
transform = ["hours", "estimate_ects"]
args = { hours_per_ects = 25 }
"""

ROW = {"code": "c1", "title": "Cookery", "org": "Zed College", "country": "", "level": "Level 6"}
ROW |= {"fee": "450", "hours": "60"}
SCOTTISH = SourceParameters(
    framework="SCQF", currency="EUR", country="GBR", language="fr", hours_per_ects=Decimal(30)
)


def _spec(tmp_path: Path, text: str) -> MappingSpec:
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(str(path))


def _map(spec: MappingSpec, row: dict[str, str] = ROW) -> tuple[object, list[tuple[str | None, str]]]:
    record = apply(spec, RawItem(json.dumps(row).encode(), CSV_ROW, pointer="line 2"), "s1")
    return record.course, [(i.field, i.code) for i in record.issues]


def test_without_parameters_a_bare_level_is_ambiguous_and_a_bare_amount_has_no_currency(
    tmp_path: Path,
) -> None:
    course, issues = _map(_spec(tmp_path, SPEC))
    assert course is not None and course.eqf_level is None and course.price is None  # type: ignore[attr-defined]
    assert ("eqf_level", "ambiguous-level") in issues and ("price", "unknown-currency") in issues
    assert course.provider.country is None  # type: ignore[attr-defined]


def test_the_sources_parameters_fill_what_the_spec_leaves_unset(tmp_path: Path) -> None:
    record = apply(
        bind_parameters(_spec(tmp_path, SPEC), SCOTTISH),
        RawItem(json.dumps(ROW).encode(), CSV_ROW, pointer="line 2"),
        "s1",
    )
    course = record.course
    assert course is not None
    assert course.eqf_level == 4  # SCQF 6 = EQF 4
    (note,) = [i for i in record.issues if i.field == "eqf_level"]
    assert note.code == "level-crosswalk" and "SCQF level 6" in note.message and "declared" in note.message
    assert course.price == Price(Decimal(450), "EUR")
    assert course.workload is not None and course.workload.hours_per_ects == 30 and course.workload.ects == 2
    assert course.title == {"fr": "Cookery"}  # the source's language beats the spec's default_language
    assert course.provider.country == "GBR"  # the record gives none


def test_a_country_the_record_gives_is_kept(tmp_path: Path) -> None:
    course, _ = _map(bind_parameters(_spec(tmp_path, SPEC), SCOTTISH), ROW | {"country": "Ireland"})
    assert course.provider.country == "IRL"  # type: ignore[attr-defined]


def test_an_argument_the_spec_sets_explicitly_wins(tmp_path: Path) -> None:
    course, issues = _map(bind_parameters(_spec(tmp_path, EXPLICIT), SCOTTISH))
    assert course.eqf_level == 6  # type: ignore[attr-defined]
    assert course.price == Price(Decimal(450), "GBP")  # type: ignore[attr-defined]
    assert course.workload.hours_per_ects == 25  # type: ignore[attr-defined]
    assert ("eqf_level", "level-crosswalk") not in issues


def test_a_spec_is_compiled_once_per_parameters_not_per_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(tmp_path, SPEC)
    compiled: list[str] = []
    real = spec_module.compile_runner
    monkeypatch.setattr(
        spec_module, "compile_runner", lambda rule: compiled.append(rule.target) or real(rule)
    )
    bound = bind_parameters(spec, SCOTTISH)
    assert sorted(compiled) == ["eqf_level", "price", "workload.hours"]  # the rules a parameter reaches
    for n in range(50):
        _map(bound, ROW | {"code": f"c{n}"})
    assert bind_parameters(spec, SCOTTISH) is bound  # cached per (spec, parameters)
    assert len(compiled) == 3
    assert bind_parameters(spec, SourceParameters()) is spec  # nothing declared: the spec itself
    untouched = dict(spec.fields)
    assert [r.run for r in dict(bound.fields)[next(t for t in untouched if t.path == "title")]] == [
        r.run for r in untouched[next(t for t in untouched if t.path == "title")]
    ]


def test_a_parameter_a_transform_cannot_take_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="currency"):
        bind_parameters(_spec(tmp_path, SPEC), SourceParameters(currency="ZZZ"))


def test_the_shipped_xcri_spec_keeps_its_scqf_credit_level_and_reads_bare_levels_by_the_source() -> None:
    spec = load_spec("xcri-cap")
    rules = dict((t.path, r) for t, r in spec.fields)["eqf_level"]
    assert rules[0].args["framework"] == "SCQF" and "framework" not in rules[1].args
    bound = dict((t.path, r) for t, r in bind_parameters(spec, SourceParameters(framework="RQF")).fields)
    assert bound["eqf_level"][0] is rules[0]  # the spec's own framework is not overridden
    assert bound["eqf_level"][1] is not rules[1]
