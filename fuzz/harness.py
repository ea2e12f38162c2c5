"""What every hostile-feed check shares: the seed feeds, byte mutations, and the one invariant.

Used by the atheris targets (`python -m fuzz.<format>_target`) and by the hypothesis suite
(tests/reliability/test_hostile_feeds.py), so both exercise the same harvest path:
`services.pipeline.run_harvest` on a real SQLite store.

The invariant (`check`): whatever the bytes, the harvest returns a finished run report
(SUCCEEDED, FAILED or HELD) and raises nothing; a FAILED run leaves the catalogue (courses,
raw payloads, change log) exactly as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import sqlalchemy as sa

from course_catalogue.catalogue import schema
from course_catalogue.catalogue.runs import RunReport, RunStatus
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore, open_engine
from course_catalogue.services.pipeline import HarvestSettings, run_harvest

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CSV_SEED_ROWS = 25  # the edX feed is 2 MB; its first rows carry every column's quirks


@dataclass(frozen=True)
class Feed:
    """A seed feed and the source that reads it."""

    name: str
    format: str
    mapping: str
    load: Callable[[], bytes]
    provider: str | None = None  # the registration's provider, for feeds that only cite an org id

    def source(self) -> Source:
        settings = {"provider": {"name": self.provider}} if self.provider else {}
        return Source(
            id=f"fuzz-{self.name}",
            format=self.format,
            name=self.name,
            mapping=self.mapping,
            settings=MappingProxyType(settings),
        )


def _file(name: str) -> Callable[[], bytes]:
    return lambda: (FIXTURES / name).read_bytes()


def _edx_head() -> bytes:
    """The edX CSV's header and first rows, re-serialised (its records span several lines)."""
    text = (FIXTURES / "csv_edx_courses.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))[: CSV_SEED_ROWS + 1]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _rdf_xml() -> bytes:
    """The LOQ Turtle example as RDF/XML (no RDF/XML fixture exists; same graph, other syntax)."""
    import pyoxigraph as ox

    triples = ox.parse((FIXTURES / "lo_example_loq.ttl").read_bytes(), ox.RdfFormat.TURTLE)
    return ox.serialize(triples, format=ox.RdfFormat.RDF_XML) or b""


FEEDS: dict[str, Feed] = {
    feed.name: feed
    for feed in (
        Feed("csv", "csv", "edx-csv", _edx_head),
        Feed("xcri", "xcri-cap", "xcri-cap", _file("xcri-cap12_open_university_2011.xml")),
        Feed("qdr", "qdr-loq", "qdr-loq", _file("qdr_loq_handmade.xml")),
        Feed("lheo", "xml", "lheo", _file("lheo_handmade.xml")),
        Feed("turtle", "elm-rdf", "elm-rdf", _file("lo_example_loq.ttl")),
        Feed("jsonld", "elm-rdf", "elm-rdf", _file("lo_example_loq.edc-context.jsonld")),
        Feed("rdfxml", "elm-rdf", "elm-rdf", _rdf_xml),
        # The OOAPI example cites its organisation by id only: registered as OOAPI sources are.
        Feed("json", "json", "ooapi", _file("ooapi_course_example.json"), "Universidad Pública de Navarra"),
    )
}

# Generous enough for every fixture, small enough that a giant-field case fails fast.
SETTINGS = HarvestSettings(max_feed_bytes=16 * 1024 * 1024)
OUTCOMES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.HELD})
_TABLES = (schema.courses, schema.raw_items, schema.changes)


def open_store(url: str, feeds: list[Feed]) -> CatalogueStore:
    """A migrated store with each feed's source registered and its seed harvested once."""
    store = CatalogueStore(url)
    store.migrate()
    for feed in feeds:
        store.save_source(feed.source())
        report = run_harvest(store, feed.source(), data=feed.load(), settings=SETTINGS)
        if report.status is not RunStatus.SUCCEEDED:
            raise AssertionError(f"seed feed {feed.name} does not harvest: {report.error}")
    return store


_engines: dict[str, sa.Engine] = {}


def dump(url: str) -> list[tuple[object, ...]]:
    """Every row of the catalogue's data tables, in a stable order (for byte-for-byte checks)."""
    engine = _engines.get(url) or _engines.setdefault(url, open_engine(url))
    rows: list[tuple[object, ...]] = []
    with engine.connect() as conn:
        for table in _TABLES:
            order = list(table.primary_key.columns)
            rows += [(table.name, *row) for row in conn.execute(sa.select(table).order_by(*order))]
    return rows


def check(store: CatalogueStore, url: str, feed: Feed, data: bytes) -> RunReport:
    """Harvest `data` as `feed`'s source in `store` (at `url`), assert the invariant, return the report."""
    before = dump(url)
    report = run_harvest(store, feed.source(), data=data, settings=SETTINGS)
    assert report.status in OUTCOMES, report.status
    assert report.finished_at is not None, "the run was left unfinished"
    if report.status is RunStatus.FAILED:
        assert report.error, "a FAILED run must say why"
        assert dump(url) == before, f"FAILED run changed the catalogue ({report.error})"
    return report


# --- mutations (deterministic given their parameters; the strategies/fuzzers pick these) -------


def truncate(data: bytes, at: int) -> bytes:
    return data[: at % (len(data) + 1)]


def flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out)


def splice(data: bytes, at: int, insert: bytes) -> bytes:
    at %= len(data) + 1
    return data[:at] + insert + data[at:]


def reencode(data: bytes, encoding: str) -> bytes:
    """The feed's text in another encoding, its declaration left claiming the original."""
    return data.decode("utf-8", "replace").encode(encoding, "replace")


ENCODINGS = ("utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "cp500", "shift_jis", "utf-8-sig")

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>\n"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<foo>&xxe;</foo>\n'
)
EXTERNAL_DTD = b'<?xml version="1.0"?>\n<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">\n<foo/>\n'
FORMULAS = (
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1)",
    '=HYPERLINK("http://evil")',
)


def with_doctype(data: bytes, doctype: bytes) -> bytes:
    """An XML feed with `doctype` inserted after its XML declaration (or at the start)."""
    if data.startswith(b"<?xml"):
        end = data.find(b"?>") + 2
        return data[:end] + b"\n" + doctype + data[end:]
    return doctype + data


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8", "replace"))))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def json_giant(data: bytes, size: int) -> bytes:
    """The JSON feed with a giant string added to its top object (or wrapped if not an object)."""
    loaded = json.loads(data)
    if isinstance(loaded, dict):
        loaded["description"] = [{"language": "en", "value": "x" * size}]
    return json.dumps(loaded).encode()
