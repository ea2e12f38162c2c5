"""Country normaliser: names, ISO codes, EU codes and IRIs -> ISO 3166-1 alpha-3."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.places import coordinate, country


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("France", "FRA"),
        ("FR", "FRA"),
        ("fra", "FRA"),
        ("Deutschland", "DEU"),
        ("Allemagne", "DEU"),
        ("United Kingdom", "GBR"),
        ("UK", "GBR"),
        ("GB", "GBR"),
        ("EL", "GRC"),
        ("Greece", "GRC"),
        ("Ireland", "IRL"),
        ("http://publications.europa.eu/resource/authority/country/IRL", "IRL"),
        ("United States", "USA"),
        ("USA", "USA"),
        ("The Netherlands", "NLD"),
        ("España", "ESP"),
    ],
)
def test_country(published: str, code: str) -> None:
    assert country(published) == (code, ())


@pytest.mark.parametrize("published", ["Atlantis", "", "ZZ", "Europe"])
def test_unknown_country_is_warned(published: str) -> None:
    result = country(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


@pytest.mark.parametrize(("published", "value"), [("48.8566", 48.8566), ("2,35", 2.35), ("-122.4", -122.4)])
def test_coordinate(published: str, value: float) -> None:
    assert coordinate(published).value == value


@pytest.mark.parametrize("published", ["north", "200", ""])
def test_bad_coordinate(published: str) -> None:
    assert coordinate(published).value is None
