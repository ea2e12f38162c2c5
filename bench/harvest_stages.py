"""Where a first load's CPU goes, by stage: one harvest sampled by py-spy, its stacks split into stages.

`run` does one first load of a generated feed (`bench.harvest_bench.bench_source`: a fresh SQLite
store, the benchmark's mapping) in this process; `split` reads the raw stacks py-spy wrote
(`--format raw`: one line per distinct stack, frames root first, then the sample count) and files
every sample under the stage of the DEEPEST frame that names one (`STAGES`, `TERMINAL`), so a selector run
inside the mapping counts as mapping, a hash inside the digest as the digest. Samples under
`run_harvest` that match no stage are "pipeline (other)"; samples outside it (imports, the store's
creation) are left out of the shares.

    nice -n 10 .venv/bin/python -m bench.harvest_stages --format csv --docs 10000
    # (runs: py-spy record --format raw -o STACKS -- python -m bench.harvest_stages --run ...)
"""

from __future__ import annotations

import argparse
import gc
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.generate import FORMATS
from bench.harvest_bench import MAPPINGS, OUT, bench_source, feed_path

STAGES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("read/parse", r"course_catalogue/harvesters/|lxml|/csv\.py|iterparse|pyoxigraph"),
        ("read/parse", r"rdf_reader\.py|rdf_spool\.py|\bparse \(course_catalogue/mappings/"),
        ("digest (recall)", r"item_digest|_content_digest|course_catalogue/services/recall\.py"),
        ("mapping", r"course_catalogue/mappings/(?!coverage)"),
        ("coverage", r"course_catalogue/mappings/coverage\.py"),
        ("registration fill", r"with_registered_provider"),
        ("validation", r"course_catalogue/catalogue/validate\.py|record_checks\.py|vocabularies\.py"),
        ("quality", r"course_catalogue/catalogue/quality\.py"),
        ("encoding/hashing", r"course_to_dict|record_hash|canonical_bytes|\bunstorable "),
        ("accounting (intake)", r"\bsettle |_repeated |_carry |\bnote \(course_catalogue/services/intake"),
        ("spool", r"course_catalogue/services/spool\.py"),
        (
            "store writes",
            r"course_catalogue/catalogue/(harvest_apply|course_writes|store|store_rows|item_memory|outbox"
            r"|runs|changes)\.py|sqlalchemy|sqlite3",
        ),
        ("sinks", r"deliver_changes"),
        ("gc", r"paced_collection|course_catalogue/catalogue/collector\.py|<gc>"),
    )
)
"""Stage name -> a pattern over one py-spy frame ("function (file:line)"); listed from the most
general to the most specific only for reading: the deepest matching frame decides (the last
pattern, for a frame several match), except below a frame of a `TERMINAL` stage."""

TERMINAL = frozenset({"coverage", "digest (recall)", "encoding/hashing"})
"""Stages whose frames call code another stage names (the XML coverage walks the record in
`mappings.xml_paths`, the hash encodes JSON): what runs below them is theirs."""


def run(fmt: str, docs: int, seed: int, out: Path) -> None:
    """One first load of the `fmt` feed of `docs` records, in this process."""
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    path = feed_path(fmt, docs, seed, out)
    limit = max(path.stat().st_size + 1, HarvestSettings().max_feed_bytes)
    with bench_source(fmt, path, limit) as (store, source, data):
        report = run_harvest(
            store, source, data=data, settings=HarvestSettings(max_feed_bytes=limit, workers=1)
        )
        if report.error:
            raise SystemExit(f"the harvest failed: {report.error}")


def item_stages(fmt: str, docs: int, seed: int, out: Path) -> dict[str, float]:
    """Microseconds of CPU per record of the item-level stages, each timed on its own over the
    whole feed (no profiler): reading (the reader's items, built), mapping (`mappings.engine.apply`,
    with the run's coverage counter), validation, `course_to_dict`, the storability check and the
    content hash, as `services.intake.MappingWork.process` runs them."""
    from datetime import UTC, datetime

    from course_catalogue.catalogue.codec import course_to_dict, record_hash
    from course_catalogue.catalogue.course_writes import unstorable
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.validate import validate
    from course_catalogue.harvesters.base import harvester_for, open_feed
    from course_catalogue.mappings.coverage import counter_for
    from course_catalogue.mappings.engine import apply
    from course_catalogue.services.pipeline import _spec_for

    path = feed_path(fmt, docs, seed, out)
    source = Source(id="bench", format=fmt, name="Benchmark feed", mapping=MAPPINGS[fmt])
    spec = _spec_for(source)
    times: dict[str, float] = {}

    def timed(name: str, step: Any, values: list[Any]) -> list[Any]:
        # the cyclic GC off while timed: the run paces it (`catalogue.collector`), and here the
        # whole feed's objects are alive at once, which would make each collection cost more
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            done = [step(v) for v in values]
            times[name] = time.process_time() - start
        finally:
            gc.enable()
        return done

    with open_feed(path) as data:  # (the items, built, are read before the feed is closed)
        harvester = harvester_for(fmt)
        (gathered,) = timed(
            "read/parse", lambda _: [(g, g.item) for g in harvester.gather(data, spec)], [None]
        )
    items = [item for g, item in gathered if not g.issues]
    coverage, when = counter_for(spec), datetime.now(UTC)
    mapped = timed(
        "mapping", lambda i: apply(spec, i, "bench", run_id=1, harvested_at=when, coverage=coverage), items
    )
    courses = [m.course for m in mapped if m.course is not None]
    timed("validation", validate, courses)
    records = timed("course_to_dict", course_to_dict, courses)
    timed("unstorable check", unstorable, records)
    timed("content hash", record_hash, records)
    return {name: round(seconds / len(items) * 1e6, 1) for name, seconds in times.items()}


def split(raw: str) -> tuple[Counter[str], int]:
    """Samples per stage under `run_harvest`, and their total (see the module docstring)."""
    stages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        at = next((i for i, f in enumerate(frames) if f.startswith("run_harvest ")), None)
        if at is None:
            continue
        stage = "pipeline (other)"
        for frame in frames[at + 1 :]:
            for name, pattern in STAGES:
                if pattern.search(frame):
                    stage = name
            if stage in TERMINAL:
                break
        stages[stage] += int(count)
        total += int(count)
    return stages, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--run", action="store_true", help="only run the harvest (what py-spy samples)")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here")
    parser.add_argument("--items", action="store_true", help="time the item-level stages instead (no py-spy)")
    args = parser.parse_args()
    if args.run:
        run(args.format, args.docs, args.seed, args.out)
        return
    if args.items:
        for name, micros in item_stages(args.format, args.docs, args.seed, args.out).items():
            print(f"  {name:22} {micros:8.1f} us per record")
        return
    feed_path(args.format, args.docs, args.seed, args.out)  # generated outside the sampled run
    with tempfile.TemporaryDirectory() as directory:
        raw = args.raw or Path(directory) / "stacks.txt"
        spy = str(Path(sys.executable).parent / "py-spy")
        command = [spy, "record", "--format", "raw", "--rate", str(args.rate), "--nonblocking"]
        command += ["-o", str(raw), "--", sys.executable, "-m", "bench.harvest_stages", "--run"]
        command += ["--format", args.format, "--docs", str(args.docs), "--seed", str(args.seed)]
        command += ["--out", str(args.out)]
        subprocess.run(command, check=True, capture_output=True)
        stages, total = split(raw.read_text())
    print(f"{args.format}, {args.docs} records: {total} samples under run_harvest at {args.rate}/s")
    for name, count in stages.most_common():
        print(f"  {name:22} {count / total:6.1%}")


if __name__ == "__main__":
    main()
