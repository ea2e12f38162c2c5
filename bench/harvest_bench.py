"""Harvest throughput per input format, against the raw parse speed of the same file as the ceiling.

For each format (csv, xcri-cap, qdr-loq, elm-rdf, elm-jsonld) and size, a feed is generated once
(`bench.generate`, seeded, ~1% bad records, cached under --out) and measured, each measurement in
its own child process so peak memory (`ru_maxrss`) does not mix between measurements:

* ceiling: the raw parser alone over the same bytes: `csv.DictReader`; lxml `iterparse` with
  `clear()` at the end of every record element; `pyoxigraph.parse` iterating every triple;
* harvest: `services.pipeline.run_harvest` into a fresh SQLite store in a temporary directory
  (read, map, validate, hash, store): a first load (every record ADDED), a re-harvest of the
  unchanged feed (every record UNCHANGED, the common scheduled case: the same bytes, recognised
  as a whole and not read, `services.feed_skip`), the same bytes read item by item
  (`skip_unchanged_feeds` off, what `--force` does and what a feed whose bytes differ but whose
  records do not costs: every item's digest recalled, `services.recall`) and one of the feed with
  one word changed (`one_changed`: one record, or the records copying one XML element, UPDATED),
  in the same child.

Rates are records per second of wall time and per CPU-second of the child (`time.process_time`,
plus its mapping workers' CPU once they are reaped: `--workers N` sets `HarvestSettings.workers`),
since the machine may be shared; "share of ceiling" compares CPU rates. Medians over --repeats.

Size limits are operator settings and stay at their secure defaults in the product; the bench
raises them explicitly so they do not decide what is measured: `HarvestSettings.max_feed_bytes`
(200 MB) and, for XML feeds, the mapping's `reader.max_bytes` (100 MiB, raised in a copy of the
spec). `--max-feed-bytes N` sets both; by default they are raised to just fit the feed.

    .venv/bin/python -m bench.harvest_bench --formats csv xcri-cap qdr-loq elm-rdf --docs 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.generate import FORMATS, SUFFIXES, write_feed
from bench.machine import describe_machine

OUT = Path(__file__).parent / "out"
SPEC = Path(__file__).parent / "specs" / "bench-csv.toml"
MAPPINGS = {
    "csv": str(SPEC),
    "xcri-cap": "xcri-cap",
    "qdr-loq": "qdr-loq",
    "elm-rdf": "elm-rdf",
    "elm-jsonld": "elm-rdf",  # the same records as JSON-LD (a top-level @graph), read by the same spec
}
SOURCE_FORMATS = {"elm-jsonld": "elm-rdf"}  # feed formats read by another source format's harvester
CEILINGS = {
    "csv": "csv.DictReader",
    "xcri-cap": "lxml iterparse + clear()",
    "qdr-loq": "lxml iterparse + clear()",
    "elm-rdf": "pyoxigraph.parse (every triple)",
    "elm-jsonld": "pyoxigraph.parse of the JSON-LD (every triple)",
}
_XCRI = "{http://xcri.org/profiles/1.2/catalog}"
_LOQ = "{http://data.europa.eu/snb/model/ap/loq-constraints/}"
_XML_RECORDS = {"xcri-cap": {_XCRI + "presentation"}, "qdr-loq": {_LOQ + "learningOpportunity"}}


def feed_path(fmt: str, docs: int, seed: int, out: Path) -> Path:
    """The feed of `docs` records in `fmt`, generated once and cached under `out`."""
    path = out / f"feed-{docs}-{seed}.{SUFFIXES[fmt]}"
    if not path.exists():
        partial = path.with_suffix(path.suffix + ".part")
        write_feed(fmt, partial, docs, seed)
        partial.rename(path)
    return path


# -- what runs in a child process --------------------------------------------------------------------


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def ceiling(fmt: str, data: bytes) -> int:
    """Records seen by the raw parser of `fmt` over `data` (parse only, nothing kept)."""
    if fmt == "csv":
        return sum(1 for _ in csv.DictReader(io.StringIO(data.decode("utf-8"))))
    if fmt in ("elm-rdf", "elm-jsonld"):
        import pyoxigraph as ox

        lo = "http://data.europa.eu/snb/model/elm/LearningOpportunity"
        syntax = ox.RdfFormat.TURTLE if fmt == "elm-rdf" else ox.RdfFormat.JSON_LD
        return sum(1 for q in ox.parse(data, syntax) if q.object.value == lo)
    from lxml import etree

    records, count = _XML_RECORDS[fmt], 0
    for _, element in etree.iterparse(io.BytesIO(data), events=("end",)):
        if element.tag in records:
            count += 1
        if len(element) == 0 or element.tag in records or element.getparent() is None:
            continue
        element.clear()  # a finished subtree: free it
    return count


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the harvest's mapping workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure_child(
    kind: str, fmt: str, path: Path, max_feed_bytes: int | None = None, workers: int | None = None
) -> dict[str, Any]:
    if kind == "ceiling":
        data = path.read_bytes()
        cpu, wall = time.process_time(), time.perf_counter()
        records = ceiling(fmt, data)
        return {
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "records": records,
            "peak_mb": _peak_mb(),
        }
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    # A 100k-record ELM Turtle feed is 226 MB, a 1M-record CSV 850 MB: over the default 200 MB cap
    # on a feed, raised here (an operator setting) so the cap does not decide what is measured.
    size = path.stat().st_size
    limit = max_feed_bytes or max(size + 1, HarvestSettings().max_feed_bytes)
    settings = HarvestSettings(max_feed_bytes=limit, workers=workers)

    result: dict[str, Any] = {}
    # The feed file is mapped, not read (`open_feed`): as a file given to the CLI is, so the peak
    # memory measured is the harvest's, not the feed's.
    with bench_source(fmt, path, limit) as (store, source, data):
        passes = ["first load", "unchanged re-harvest", "unchanged, item by item"]
        if not os.environ.get("BENCH_SKIP_CHANGE"):
            passes.append("one-record change")
        per_item = replace(settings, skip_unchanged_feeds=False)
        for name in passes:
            # the changed feed is a copy in memory (the feed is mapped): made only for its pass,
            # so it does not count in the peak memory of the passes before
            feed = one_changed(data) if name == "one-record change" else data
            cpu, wall = _cpu(), time.perf_counter()
            chosen = per_item if name == "unchanged, item by item" else settings
            report = run_harvest(store, source, data=feed, settings=chosen)
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            if report.error:
                raise RuntimeError(f"the benchmark harvest failed: {report.error}")
            counts = {str(k): v for k, v in report.counts.items()}
            result[name] = {"wall_s": wall, "cpu_s": cpu, "counts": counts, "peak_mb": _peak_mb()}
            # each pass as it ends, on stderr (the parent passes it through): a 1M pass takes an
            # hour on a shared machine, and a run stopped in its re-harvest keeps its first load
            print(json.dumps({"pass": name, "format": fmt, **result[name]}), file=sys.stderr, flush=True)
    return result


@contextmanager
def bench_source(fmt: str, path: Path, limit: int) -> Iterator[tuple[Any, Any, Any]]:
    """(store, source, data) for a benchmark harvest of the feed at `path`: a fresh migrated store
    (`_database`: SQLite, or a PostgreSQL schema with BENCH_POSTGRES), one source `bench` of `fmt`
    whose mapping accepts `limit` bytes, and the feed opened as the CLI opens a file (mapped, not
    read: `open_feed`). The store is closed and the database removed afterwards."""
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.harvesters.base import open_feed

    with (
        tempfile.TemporaryDirectory(prefix="harvest-bench-") as directory,
        _database(directory) as url,
        open_feed(path) as data,
    ):
        store = CatalogueStore(url)
        try:
            store.migrate()
            mapping = _mapping_allowing(MAPPINGS[fmt], limit, Path(directory))
            source = Source(
                id="bench", format=SOURCE_FORMATS.get(fmt, fmt), name="Benchmark feed", mapping=mapping
            )
            store.save_source(source)
            yield store, source, data
        finally:
            store.close()


def one_changed(data: bytes) -> bytes:
    """`data` with one word of free text changed near its middle (" course " -> " Course "): in
    the generated feeds of every format that is inside one record's description (or, in the XML
    formats, one element the records around it copy)."""
    at = data.find(b" course ", len(data) // 2)
    if at < 0:
        raise SystemExit("no ' course ' after the middle of the feed to change")
    return data[:at] + b" Course " + data[at + len(b" course ") :]


@contextmanager
def _database(directory: str) -> Iterator[str]:
    """The store's URL: SQLite in `directory`, or with BENCH_POSTGRES set (a PostgreSQL URL, see
    --postgres) a fresh schema of that database, dropped afterwards."""
    server = os.environ.get("BENCH_POSTGRES")
    if not server:
        yield f"sqlite:///{directory}/catalogue.db"
        return
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _mapping_allowing(mapping: str, max_bytes: int, directory: Path) -> str:
    """`mapping`, or a copy of it in `directory` whose XML reader accepts `max_bytes` when that is
    over the reader's default cap (only the XML reader has one among the benched formats)."""
    from course_catalogue.mappings.spec import load_spec
    from course_catalogue.mappings.xml_paths import XmlRecords

    spec = load_spec(mapping)
    language = spec.selector_language
    if not isinstance(language, XmlRecords) or max_bytes <= language.max_bytes:
        return mapping
    original = Path(__file__).parents[1] / "course_catalogue" / "mappings" / "specs" / f"{mapping}.toml"
    text = original.read_text(encoding="utf-8")
    if "\n[reader]\n" not in text or "max_bytes" in text:
        raise SystemExit(f"cannot raise reader.max_bytes in a copy of {original}")
    copy = directory / original.name
    copy.write_text(
        text.replace("\n[reader]\n", f"\n[reader]\nmax_bytes = {max_bytes}\n", 1), encoding="utf-8"
    )
    load_spec(str(copy))  # fails here, not mid-measurement, if the copy is not a valid spec
    return str(copy)


def _child(
    kind: str, fmt: str, path: Path, max_feed_bytes: int | None = None, workers: int | None = None
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.harvest_bench", "--child", kind, fmt, str(path)]
    command += [str(max_feed_bytes or 0), str(workers or 0)]
    # stderr goes through (each pass's figures as it ends, and any traceback)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (its stderr is above)")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the parent: runs children, takes medians -----------------------------------------------------


def measure(
    fmt: str,
    docs: int,
    seed: int,
    repeats: int,
    out: Path,
    max_feed_bytes: int | None = None,
    workers: int | None = None,
    skip_ceiling: bool = False,
) -> dict[str, Any]:
    path = feed_path(fmt, docs, seed, out)
    rows = None
    if fmt == "csv":
        with open(path, "rb") as lines:
            rows = sum(1 for _ in lines) - 1
    ceilings = [] if skip_ceiling else [_child("ceiling", fmt, path) for _ in range(repeats)]
    harvests = [_child("harvest", fmt, path, max_feed_bytes, workers) for _ in range(repeats)]
    if rows is not None:
        records = rows
    elif ceilings:
        records = ceilings[0]["records"]
    else:  # no ceiling pass to count them: the first load's report has every record in the feed
        records = sum(harvests[0]["first load"]["counts"].values())
    top = _summary(records, ceilings) if ceilings else None
    result: dict[str, Any] = {
        "records": records,
        "feed_bytes": path.stat().st_size,
        "ceiling": {"parser": CEILINGS[fmt], **top} if top else None,
        "passes": {},
    }
    for name in harvests[0]:
        rates = _summary(records, [h[name] for h in harvests])
        if top:
            rates["share_of_ceiling_cpu"] = round(rates["records_per_cpu_s"] / top["records_per_cpu_s"], 4)
        rates["counts"] = harvests[0][name]["counts"]
        result["passes"][name] = rates
        share = f" ({rates['share_of_ceiling_cpu']:.1%} of {top['records_per_cpu_s']})" if top else ""
        print(
            f"{fmt:9} {docs:>8} {name:22} {rates['records_per_s']:8.0f} rec/s wall, "
            f"{rates['records_per_cpu_s']:8.0f} rec/CPU-s{share}, peak {rates['peak_mb']} MB",
            flush=True,
        )
    return result


def _summary(records: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    return {
        "runs": len(runs),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "records_per_s": round(records / wall) if wall else None,
        "records_per_cpu_s": round(records / cpu) if cpu else None,
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    argv = list(argv) if argv is not None else None
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--child"]:
        kind, fmt, path = args_list[1:4]
        limit = int(args_list[4]) if len(args_list) > 4 else 0
        workers = int(args_list[5]) if len(args_list) > 5 else 0
        print(json.dumps(measure_child(kind, fmt, Path(path), limit or None, workers or None)))
        return {}
    parser = argparse.ArgumentParser(description="Harvest throughput per format against the raw parser.")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per size; medians are reported")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--max-feed-bytes",
        type=int,
        default=None,
        help="feed size limits for the harvest (default: raised to just fit each feed)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="mapping processes of the harvest (HarvestSettings.workers; default one per core)",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="harvest into a fresh schema of this PostgreSQL database (dropped after) instead of SQLite",
    )
    parser.add_argument(
        "--skip-change",
        action="store_true",
        help="measure the first load and the unchanged re-harvest only (not the one-record change)",
    )
    parser.add_argument(
        "--skip-ceiling",
        action="store_true",
        help="no raw-parser pass (it reads the whole feed into memory: 1.8-2.7 GB at 1M in XML)",
    )
    args = parser.parse_args(args_list)
    if args.skip_change:
        os.environ["BENCH_SKIP_CHANGE"] = "1"  # the children read it
    if args.postgres:
        os.environ["BENCH_POSTGRES"] = args.postgres  # the children read it
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "bench": "harvest",
        "command": " ".join(["python -m bench.harvest_bench", *args_list]),
        "seed": args.seed,
        "repeats": args.repeats,
        "machine": describe_machine(),
        "results": {
            fmt: {
                str(docs): measure(
                    fmt,
                    docs,
                    args.seed,
                    args.repeats,
                    args.out,
                    args.max_feed_bytes,
                    args.workers,
                    args.skip_ceiling,
                )
                for docs in args.docs
            }
            for fmt in args.formats
        },
    }
    report["machine_after"] = describe_machine()
    name = "-".join(str(d) for d in args.docs) + (f"-w{args.workers}" if args.workers else "")
    name += "-pg" if args.postgres else ""
    (args.out / f"harvest-{name}.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
