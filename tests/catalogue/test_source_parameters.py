"""Source parameters: one domain validation for every interface, with errors naming the parameter."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.sources import (
    Source,
    SourceParameters,
    check_parameters,
    set_parameters,
    source_parameters,
)

FRAMEWORKS = {"eqf": "EQF", "scqf": "SCQF", "rqf": "RQF", "nfq": "NFQ-IE", "nfq-ie": "NFQ-IE"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"framework": "scqf"}, SourceParameters(framework="SCQF")),
        ({"framework": "NFQ"}, SourceParameters(framework="NFQ-IE")),
        ({"framework": "EQF"}, SourceParameters(framework="EQF")),
        ({"currency": "gbp"}, SourceParameters(currency="GBP")),
        ({"currency": "CHF"}, SourceParameters(currency="CHF")),
        ({"country": "GB"}, SourceParameters(country="GBR")),
        ({"country": "irl"}, SourceParameters(country="IRL")),
        ({"language": "EN"}, SourceParameters(language="en")),
        ({"language": "gsw"}, SourceParameters(language="gsw")),
        ({"language": "fra"}, SourceParameters(language="fr")),
        ({"hours_per_ects": 30}, SourceParameters(hours_per_ects=Decimal(30))),
        ({"hours_per_ects": "27.5"}, SourceParameters(hours_per_ects=Decimal("27.5"))),
        ({}, SourceParameters()),
    ],
)
def test_parameters_are_normalised(raw: dict[str, Any], expected: SourceParameters) -> None:
    assert check_parameters(raw, FRAMEWORKS) == expected


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"framework": "ZZQF"}, "parameters.framework"),
        ({"framework": 3}, "parameters.framework"),
        ({"currency": "pounds"}, "parameters.currency"),
        ({"currency": "XXQ"}, "parameters.currency"),
        ({"country": "Atlantis"}, "parameters.country"),
        ({"country": "UK"}, "parameters.country"),
        ({"language": "English"}, "parameters.language"),
        ({"hours_per_ects": 0}, "parameters.hours_per_ects"),
        ({"hours_per_ects": -25}, "parameters.hours_per_ects"),
        ({"hours_per_ects": 1000}, "parameters.hours_per_ects"),
        ({"hours_per_ects": "many"}, "parameters.hours_per_ects"),
        ({"hours_per_ects": True}, "parameters.hours_per_ects"),
        ({"speed": 3}, "unknown parameter(s) speed"),
        (["SCQF"], "parameters must be an object"),
    ],
)
def test_a_bad_parameter_is_a_clear_error_naming_it(raw: Any, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_parameters(raw, FRAMEWORKS)


def test_the_framework_error_lists_the_known_frameworks() -> None:
    with pytest.raises(ConfigurationError, match="known: EQF, NFQ-IE, RQF, SCQF"):
        check_parameters({"framework": "ZZQF"}, FRAMEWORKS)


def test_changes_merge_into_the_current_parameters_and_null_or_empty_removes_one() -> None:
    current = check_parameters({"framework": "SCQF", "currency": "GBP"}, FRAMEWORKS)
    changed = check_parameters({"currency": None, "country": "GBR"}, FRAMEWORKS, current)
    assert changed == SourceParameters(framework="SCQF", country="GBR")
    assert check_parameters({"framework": ""}, FRAMEWORKS, changed) == SourceParameters(country="GBR")


def test_parameters_are_stored_in_the_settings_and_read_back() -> None:
    source = Source(id="zed", format="xcri-cap", settings=MappingProxyType({"provider": {"name": "Zed"}}))
    params = check_parameters({"framework": "SCQF", "hours_per_ects": "27.5", "country": "GB"}, FRAMEWORKS)
    stored = set_parameters(source, params)
    assert stored.settings["parameters"] == {"framework": "SCQF", "country": "GBR", "hours_per_ects": 27.5}
    assert stored.settings["provider"] == {"name": "Zed"}  # the rest of the settings stay
    assert source_parameters(stored) == params
    assert "parameters" not in set_parameters(stored, SourceParameters()).settings
    assert source_parameters(source) == SourceParameters()


def test_a_malformed_stored_entry_fails_loudly() -> None:
    bad = Source(id="zed", format="csv", settings=MappingProxyType({"parameters": {"hours_per_ects": -1}}))
    with pytest.raises(ConfigurationError, match="source zed"):
        source_parameters(bad)
