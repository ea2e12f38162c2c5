"""Hostile and broken feeds through every harvester and mapping: a clean run report, never a crash.

Each feed format's real fixture is mutated by hypothesis (truncated, bytes flipped, re-encoded,
junk spliced in, giant fields, ragged CSV rows, formula cells, entity declarations) and
harvested with `services.pipeline.run_harvest` into a real SQLite store that already holds the
seed feed. The invariant is `fuzz.harness.check`: the run ends SUCCEEDED, FAILED or HELD, and a
FAILED run leaves courses, raw payloads and the change log byte-for-byte as they were.

"No hang": every example runs under a hard SIGALRM deadline. "Bounded memory": the giant and
entity-bomb classics run in a child process under RLIMIT_AS and a wall-clock timeout.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.store import CatalogueStore
from fuzz import harness
from fuzz.harness import FEEDS, Feed

EXAMPLE_SECONDS = 30  # hard limit per harvested example (the slowest honest one takes < 1 s)
ROOT = Path(__file__).resolve().parents[2]


class Hung(Exception):
    pass


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def fire(_signum: int, _frame: object) -> None:
        raise Hung(f"harvest still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CatalogueStore, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'catalogue.db'}"
    store = harness.open_store(url, list(FEEDS.values()))
    yield store, url
    store.close()


def harvest(seeded: tuple[CatalogueStore, str], feed: Feed, data: bytes) -> RunStatus:
    store, url = seeded
    with deadline(EXAMPLE_SECONDS):
        return harness.check(store, url, feed, data).status


# --- strategies ---------------------------------------------------------------------------------


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """Generic byte-level damage to a seed feed."""
    positions = st.integers(0, len(seed))
    return st.one_of(
        positions.map(lambda at: harness.truncate(seed, at)),
        st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=12).map(
            lambda edits: harness.flip(seed, edits)
        ),
        st.sampled_from(harness.ENCODINGS).map(lambda enc: harness.reencode(seed, enc)),
        st.tuples(positions, st.binary(min_size=1, max_size=64)).map(lambda p: harness.splice(seed, *p)),
        st.tuples(positions, st.sampled_from([b"\x00", b"\xff\xfe", b"]]>", b"<", b"&", b'"', b"\r"])).map(
            lambda p: harness.splice(seed, *p)
        ),
        st.tuples(positions, st.integers(10_000, 600_000), st.sampled_from([b"A", b"\xc3\xa9", b" "])).map(
            lambda p: harness.splice(seed, p[0], p[2] * p[1])
        ),
    )


@st.composite
def hostile_csv(draw: st.DrawFn) -> bytes:
    """CSV damage that keeps the file mostly CSV: ragged rows, formula cells, giant cells, quotes."""
    rows = harness.csv_rows(FEEDS["csv"].load())
    header, body = rows[0], rows[1:]
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(body) - 1))
        row = list(body[index]) or [""]
        kind = draw(st.sampled_from(["short", "long", "formula", "giant", "quote", "empty"]))
        if kind == "short":
            row = row[: draw(st.integers(0, len(row) - 1))]
        elif kind == "long":
            row += draw(st.lists(st.text(max_size=20), min_size=1, max_size=5))
        elif kind == "formula":
            row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(harness.FORMULAS))
        elif kind == "giant":
            row[draw(st.integers(0, len(row) - 1))] = "x" * draw(st.integers(100_000, 1_200_000))
        elif kind == "quote":
            row[draw(st.integers(0, len(row) - 1))] += '"'
        else:
            row = []
        body[index] = row
    data = harness.csv_bytes([header, *body])
    if draw(st.booleans()):  # an unbalanced quote in the raw bytes, which the csv module cannot write
        data = harness.splice(data, draw(st.integers(0, len(data))), b'"')
    return data


@st.composite
def hostile_xml(draw: st.DrawFn, name: str) -> bytes:
    """An XML feed with a hostile DOCTYPE, or generic damage."""
    seed = FEEDS[name].load()
    doctype = draw(
        st.sampled_from(
            [
                harness.BILLION_LAUGHS.split(b"\n", 1)[1].rsplit(b"<lolz>", 1)[0],
                b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">',
                b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
                b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
            ]
        )
    )
    return harness.with_doctype(seed, doctype) if draw(st.booleans()) else draw(mutated(seed))


# --- the properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FEEDS))
@settings(settings.get_profile("reliability"))
@given(data=st.data())
def test_mutated_feed_gives_a_clean_report(
    seeded: tuple[CatalogueStore, str], name: str, data: st.DataObject
) -> None:
    feed = FEEDS[name]
    if feed.format in {"xcri-cap", "qdr-loq", "xml"} or name == "rdfxml":
        blob = data.draw(hostile_xml(name))
    elif name == "csv":
        blob = data.draw(st.one_of(hostile_csv(), mutated(feed.load())))
    else:
        blob = data.draw(mutated(feed.load()))
    harvest(seeded, feed, blob)


@settings(settings.get_profile("reliability"))
@given(blob=st.binary(max_size=4096))
@pytest.mark.parametrize("name", sorted(FEEDS))
def test_random_bytes_give_a_clean_report(seeded: tuple[CatalogueStore, str], name: str, blob: bytes) -> None:
    harvest(seeded, FEEDS[name], blob)


# --- targeted classics --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["xcri", "qdr", "lheo", "rdfxml"])
@pytest.mark.parametrize("bomb", ["billion-laughs", "external-entity", "external-dtd"])
def test_entity_attacks_fail_the_feed_and_change_nothing(
    seeded: tuple[CatalogueStore, str], name: str, bomb: str
) -> None:
    doctype = {
        "billion-laughs": harness.BILLION_LAUGHS.split(b"\n", 1)[1].rsplit(b"<lolz>", 1)[0],
        "external-entity": b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "external-dtd": b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">',
    }[bomb]
    store, url = seeded
    with deadline(EXAMPLE_SECONDS):
        report = harness.check(store, url, FEEDS[name], harness.with_doctype(FEEDS[name].load(), doctype))
    assert report.status is RunStatus.FAILED  # refused (or unparseable): nothing expanded, nothing read


def test_partly_bad_csv_lands_the_good_records(seeded: tuple[CatalogueStore, str]) -> None:
    """Ragged rows and an oversized cell fail alone; every other record lands as it was."""
    store, url = seeded
    rows = harness.csv_rows(FEEDS["csv"].load())
    rows[3] = rows[3][:4]  # short row
    rows[5] = [*rows[5], "extra", "cells"]  # long row
    rows[7][13] = "y" * 1_100_000  # over the reader's cell limit
    report = harness.check(store, url, FEEDS["csv"], harness.csv_bytes(rows))
    assert report.status is RunStatus.SUCCEEDED
    assert report.counts[Outcome.FAILED] == 3
    assert store.count_courses(source_id="fuzz-csv") >= harness.CSV_SEED_ROWS - 3


def test_formula_cells_are_stored_as_inert_text(seeded: tuple[CatalogueStore, str]) -> None:
    """A spreadsheet formula in a feed is data: stored verbatim, never evaluated (exports must
    neutralise it; see test_csv_exports_neutralise_formulas)."""
    store, url = seeded
    rows = harness.csv_rows(FEEDS["csv"].load())
    rows[1][0] = harness.FORMULAS[0]  # the title
    report = harness.check(store, url, FEEDS["csv"], harness.csv_bytes(rows))
    assert report.status is RunStatus.SUCCEEDED
    titles = [s.course.title.get("en") for s in store.iter_courses(source_id="fuzz-csv")]
    assert harness.FORMULAS[0] in titles


def test_csv_snapshot_export_neutralises_formulas(seeded: tuple[CatalogueStore, str]) -> None:
    """The CSV snapshot export (catalogue.exports, GET /api/v1/snapshot.csv) never starts a
    cell with = + - @ or a control character: formula cells from a feed arrive inert."""
    exports = pytest.importorskip("course_catalogue.catalogue.exports")
    store, url = seeded
    rows = harness.csv_rows(FEEDS["csv"].load())
    for i, formula in enumerate(harness.FORMULAS, start=1):
        rows[i][0] = formula  # titles
        rows[i][4] = formula  # institution -> provider
    assert harness.check(store, url, FEEDS["csv"], harness.csv_bytes(rows)).status is RunStatus.SUCCEEDED
    courses = list(store.iter_courses(source_id="fuzz-csv"))
    cells = [cell for stored in courses for cell in exports.csv_row(stored)]
    assert any(cell.lstrip("'") in harness.FORMULAS for cell in cells)
    assert not [c for c in cells if c[:1] in {"=", "+", "-", "@", "\t", "\r"}]


# --- giant inputs under a memory cap, in a child process -----------------------------------------

GIANTS = {
    "csv-giant-cell": ("csv", "giant-cell"),
    "xml-giant-text": ("xcri", "giant-text"),
    "turtle-giant-literal": ("turtle", "giant-literal"),
    "json-giant-string": ("json", "giant-string"),
    "rdfxml-billion-laughs": ("rdfxml", "billion-laughs"),
    "xml-deep-nesting": ("lheo", "deep-nesting"),
}


@pytest.mark.parametrize("case", sorted(GIANTS))
def test_giant_inputs_stay_within_memory_and_time(tmp_path: Path, case: str) -> None:
    name, kind = GIANTS[case]
    out = subprocess.run(
        [sys.executable, "-m", "tests.reliability.giant_child", str(tmp_path), name, kind],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] in {"succeeded", "failed", "held"}
