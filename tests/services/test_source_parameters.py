"""A harvest maps its feed with the parameters its source declares (the pipeline binds them)."""

from __future__ import annotations

from types import MappingProxyType

from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.pipeline import run_harvest

# A hand-written XCRI-CAP 1.2 catalogue of a Scottish college: bare "Level 6", SVQ and NQ awards
# with their levels beside them, studyMode/attendanceMode as such feeds write them, bare costs.
FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="http://xcri.org/profiles/1.2/catalog" xmlns:mlo="http://purl.org/net/mlo"
         xmlns:dc="http://purl.org/dc/elements/1.1/" generated="2024-01-01T00:00:00Z">
  <provider>
    <dc:identifier>https://college.example</dc:identifier>
    <dc:title>Example College</dc:title>
    <course>
      <dc:identifier>c1</dc:identifier>
      <dc:title>Cookery</dc:title>
      <mlo:level>Level 6</mlo:level>
      <presentation>
        <dc:identifier>p1</dc:identifier>
        <studyMode>Part Time Day</studyMode>
        <attendanceMode>Evening</attendanceMode>
        <mlo:cost>450</mlo:cost>
      </presentation>
    </course>
    <course>
      <dc:identifier>c2</dc:identifier>
      <dc:title>Hospitality</dc:title>
      <mlo:level>Level 2</mlo:level>
      <mlo:qualification><dc:title>SVQ Hospitality</dc:title></mlo:qualification>
      <presentation>
        <dc:identifier>p2</dc:identifier>
        <studyMode identifier="FL">Flexible</studyMode>
        <attendanceMode>Full Time</attendanceMode>
      </presentation>
    </course>
  </provider>
</catalog>
"""


def _source(**parameters: object) -> Source:
    settings = {"parameters": parameters} if parameters else {}
    return Source(id="college", format="xcri-cap", mapping="xcri-cap", settings=MappingProxyType(settings))


def _courses(store: CatalogueStore) -> dict[str, object]:
    return {s.course.provenance.provider_ref: s.course for s in store.iter_courses(source_id="college")}


def test_bare_levels_are_ambiguous_until_the_source_declares_its_framework(store: CatalogueStore) -> None:
    store.save_source(_source())
    report = run_harvest(store, _source(), data=FEED)
    assert report.status is RunStatus.SUCCEEDED
    courses = _courses(store)
    assert courses["p1"].eqf_level is None  # type: ignore[attr-defined]
    assert ("eqf_level", "ambiguous-level") in {(i.field, i.code) for i in report.issues}
    assert courses["p2"].eqf_level == 3  # type: ignore[attr-defined]  # SVQ level 2 = SCQF 5 = EQF 3

    declared = _source(framework="SCQF", country="GBR", language="en")
    store.save_source(declared)
    report = run_harvest(store, declared, data=FEED)
    courses = _courses(store)
    p1, p2 = courses["p1"], courses["p2"]
    assert p1.eqf_level == 4  # type: ignore[attr-defined]  # SCQF 6
    notes = [i for i in report.issues if i.field == "eqf_level" and i.record_ref == "p1"]
    assert [i.code for i in notes] == ["level-crosswalk"] and "SCQF level 6" in notes[0].message
    assert p1.schedule == "part-time" and p2.schedule == "full-time"  # type: ignore[attr-defined]
    assert p1.provider.country == "GBR"  # type: ignore[attr-defined]


def test_bare_costs_take_the_currency_the_spec_fixes_over_the_sources(store: CatalogueStore) -> None:
    # xcri-cap sets currency GBP for its price field explicitly: the spec's argument wins.
    irish = _source(currency="EUR")
    store.save_source(irish)
    run_harvest(store, irish, data=FEED)
    price = _courses(store)["p1"].price  # type: ignore[attr-defined]
    assert price is not None and price.currency == "GBP"
