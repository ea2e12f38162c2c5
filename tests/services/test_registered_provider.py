"""A source registration may name its provider; records that lack provider details take them."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.model import Course, Organisation, Provenance, lang_text
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source, registered_provider, with_registered_provider
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.pipeline import run_harvest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NAVARRA = {"name": "Universidad Pública de Navarra", "country": "ESP", "homepage": "https://www.unavarra.es"}


def _source(**settings: object) -> Source:
    return Source(id="upna", format="json", mapping="ooapi", settings=MappingProxyType(dict(settings)))


def test_ooapi_course_without_an_inline_organisation_lands_with_the_registered_provider(
    store: CatalogueStore,
) -> None:
    data = (FIXTURES / "ooapi_course_example.json").read_bytes()
    store.save_source(_source())
    bare = run_harvest(store, _source(), data=data)
    assert bare.counts["added"] == 0 and bare.counts["failed"] == 1  # no provider name anywhere

    store.save_source(_source(provider=NAVARRA))
    report = run_harvest(store, _source(provider=NAVARRA), data=data)
    assert report.status is RunStatus.SUCCEEDED and report.counts["added"] == 1
    assert "provider-from-source" in {issue.code for issue in report.issues}
    (stored,) = list(store.iter_courses(source_id="upna"))
    assert stored.course.provider.name == {"und": NAVARRA["name"]}
    assert stored.course.provider.country == "ESP"


def _course(provider: Organisation) -> Course:
    return Course(id="c1", title=lang_text("T", "en"), provider=provider, provenance=Provenance("s", "r"))


def test_an_aggregators_other_providers_are_left_alone() -> None:
    registered = Organisation(lang_text("Aggregator"), country="FRA")
    other = _course(Organisation(lang_text("Uni Zed", "en")))
    assert with_registered_provider(other, registered) == (other, False)
    same = _course(Organisation(lang_text("aggregator", "en")))
    filled, changed = with_registered_provider(same, registered)
    assert changed and filled.provider.country == "FRA" and filled.provider.name == {"en": "aggregator"}


@pytest.mark.parametrize("entry", [{"country": "ESP"}, {"name": " "}, {"name": "X", "country": "ES"}, "X"])
def test_a_malformed_registration_fails_loudly(entry: object) -> None:
    with pytest.raises(ConfigurationError):
        registered_provider(_source(provider=entry))


def test_a_malformed_registration_fails_the_run_and_changes_nothing(store: CatalogueStore) -> None:
    data = (FIXTURES / "ooapi_course_example.json").read_bytes()
    store.save_source(_source(provider={"country": "ESP"}))
    report = run_harvest(store, _source(provider={"country": "ESP"}), data=data)
    assert report.status is RunStatus.FAILED and store.count_courses(include_withdrawn=True) == 0
