"""Unchanged RDF records skip the work, and a change anywhere a record reaches lands exactly.

The RDF reader defers its items (`harvesters.elm._Forms`): a record is recognised by the digests
of the nodes its closure expands, shared ones (organisations, places) included, without writing
its N-Triples. These tests run the real pipeline on a generated ELM Turtle feed, in memory and
spooled to SQLite, and check that exactly the records whose item bytes change are mapped again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import course_catalogue.harvesters.elm as elm
from bench.generate import write_feed
from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.spec import load_spec
from course_catalogue.services.pipeline import run_harvest
from tests.services.test_recall import Mapped, assert_reharvest_builds_nothing

RECORDS = 40


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("elm") / "feed.ttl"
    write_feed("elm-rdf", path, RECORDS, seed=3)
    return path.read_bytes()


@pytest.fixture(params=["memory", "spooled"])
def spooled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param == "spooled":
        monkeypatch.setattr(elm, "SPOOL_FEED_BYTES", 0)
    return bool(request.param == "spooled")


def _contents(data: bytes) -> dict[str | None, bytes]:
    """guid -> the item's bytes, as the reader builds them."""
    return {g.guid: g.item.content for g in harvester_for("elm-rdf").gather(data, load_spec("elm-rdf"))}


def _shared_org(data: bytes) -> tuple[bytes, bytes]:
    """The line of the organisation most records are provided by (up to its legal name), and
    the country code of its place."""
    counts: dict[bytes, int] = {}
    for org in re.findall(rb"elm:providedBy (org:\d+)", data):
        counts[org] = counts.get(org, 0) + 1
    org = max(counts, key=counts.__getitem__)
    assert counts[org] > 1
    pattern = (
        rb"\n"
        + re.escape(org)
        + rb' a elm:Organisation ; rov:legalName "[^"]+"\S* ; elm:location place:(\w+)'
    )
    match = re.search(pattern, data)
    assert match is not None
    return match.group(0), match.group(1)


def _edits(data: bytes) -> dict[str, tuple[bytes, bytes]]:
    org, country = _shared_org(data)
    address = b"place:%s-address a elm:Address ; elm:countryCode <http://publications.europa.eu/resource/authority/country/%s>"
    other = b"ZZZ"
    price = re.search(rb'rdf:value "\d+\.\d\d"\^\^xsd:decimal', data)
    assert price is not None
    return {
        # a node many records share: every record provided by that organisation
        "shared organisation": (org, org.replace(b' ; rov:legalName "', b' ; rov:legalName "New ')),
        # a node two levels down that organisations share: every record provided in that country
        "shared place": (address % (country, country), address % (country, other)),
        # a blank node inside one record (its price amount)
        "blank node": (price.group(0), price.group(0).replace(b'"', b'"1', 1)),
    }


@pytest.mark.parametrize("edit", ["shared organisation", "shared place", "blank node"])
def test_a_change_in_any_node_a_record_reaches_maps_exactly_those_records_again(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, feed: bytes, spooled: bool, edit: str
) -> None:
    old, new = _edits(feed)[edit]
    assert feed.count(old) == 1
    changed_feed = feed.replace(old, new)
    before, after = _contents(feed), _contents(changed_feed)
    assert before.keys() == after.keys()
    changed = {guid for guid in before if before[guid] != after[guid]}
    assert 0 < len(changed) < len(before)
    source = Source(id="recall-rdf", format="elm-rdf", name="ELM", mapping="elm-rdf")
    store.save_source(source)
    first = run_harvest(store, source, data=feed)
    assert first.status is RunStatus.SUCCEEDED and first.counts[Outcome.FAILED] == 0
    assert first.counts[Outcome.ADDED] == len(before)
    mapped = Mapped(monkeypatch)
    report = run_harvest(store, source, data=changed_feed)
    assert mapped.calls == len(changed)
    assert report.counts[Outcome.UPDATED] == len(changed)
    assert report.counts[Outcome.UNCHANGED] == len(before) - len(changed)
    again = run_harvest(store, source, data=changed_feed)
    assert again.counts[Outcome.UNCHANGED] == len(before) and mapped.calls == len(changed)


def test_a_recalled_rdf_record_is_never_built(
    store: CatalogueStore, monkeypatch: pytest.MonkeyPatch, feed: bytes, spooled: bool
) -> None:
    """Digest first: an unchanged re-harvest recognises the RDF items by their raw form alone
    (the coverage report's examples taken out, as for the XML readers)."""
    source = Source(id="recall-rdf", format="elm-rdf", name="ELM", mapping="elm-rdf")
    store.save_source(source)
    assert_reharvest_builds_nothing(store, monkeypatch, source, feed)


def test_deferred_items_are_the_items_built_at_once(feed: bytes, spooled: bool) -> None:
    """The raw form is a function of the item: building deferred items gives the same bytes
    whether they are built in feed order, all after the feed was read, or twice."""
    gathered = list(harvester_for("elm-rdf").gather(feed, load_spec("elm-rdf")))
    assert all(g.raw is not None for g in gathered)
    contents = [g.item.content for g in reversed(gathered)][::-1]
    assert contents == list(_contents(feed).values())
    raws = [g.raw for g in harvester_for("elm-rdf").gather(feed, load_spec("elm-rdf"))]
    assert raws == [g.raw for g in gathered]
    assert len(set(raws)) == len(raws)


def test_the_fixture_of_the_elm_spec_is_deferred_too(spooled: bool) -> None:
    data = (Path(__file__).parents[1] / "fixtures" / "lo_example_loq.ttl").read_bytes()
    (gathered,) = harvester_for("elm-rdf").gather(data, load_spec("elm-rdf"))
    assert gathered.raw is not None and gathered.item.content.count(b"\n") > 10
