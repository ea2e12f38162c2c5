"""What carrying a value's language inside a string (`mappings.values.Tagged`) costs a harvest.

Issue 19 asks whether `Tagged(str)` pays for itself against a plain (value, lang) form. A plain
form would do the same work (make the pair, re-tag what a rule derives, join same-language values)
with a tuple instead of a str subclass, so what it could save is bounded by what the tagged
values' own functions cost: `Tagged.__new__`, `tagged`, `retag`, `strip`, `join`, `lang_of`
(everything in mappings/values.py). This harness measures that bound: it harvests a generated
feed (a first load into a fresh SQLite store, `services.pipeline.run_harvest`, in a child
process) under py-spy (a dev dependency) and reports the share of the samples whose stack passes
through mappings/values.py, beside the share of the mapping engine.

    nice -n 10 .venv/bin/python -m bench.tagged_share --formats xcri-cap qdr-loq elm-rdf --docs 3000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harvest_bench import MAPPINGS, OUT, feed_path

VALUES = "mappings/values.py"
ENGINE = "mappings/engine.py"


def harvest_child(fmt: str, feed: Path) -> None:
    """One first load of `feed` into a fresh SQLite store (what py-spy samples)."""
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    data = feed.read_bytes()
    with tempfile.TemporaryDirectory(prefix="tagged-share-") as directory:
        store = CatalogueStore(f"sqlite:///{directory}/catalogue.db")
        store.migrate()
        source = Source(id="bench", format=fmt, name="Benchmark feed", mapping=MAPPINGS[fmt])
        store.save_source(source)
        report = run_harvest(store, source, data=data, settings=HarvestSettings(max_feed_bytes=len(data) + 1))
        if report.error:
            raise RuntimeError(f"the benchmark harvest failed: {report.error}")
        store.close()


def shares(raw: Path) -> dict[str, Any]:
    """Samples, and the shares (%) of those whose stack passes through values.py / the engine."""
    total = values = engine = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        values += n if VALUES in stack else 0
        engine += n if ENGINE in stack else 0
    return {
        "samples": total,
        "tagged_values_pct": round(100 * values / total, 2) if total else None,
        "mapping_engine_pct": round(100 * engine / total, 2) if total else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--formats", nargs="+", default=["xcri-cap", "qdr-loq", "elm-rdf"])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "FEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        harvest_child(args.child[0], Path(args.child[1]))
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for fmt in args.formats:
        feed = feed_path(fmt, args.docs, args.seed, args.out)
        with tempfile.TemporaryDirectory() as directory:
            raw = Path(directory) / "samples.txt"
            child = [sys.executable, "-m", "bench.tagged_share", "--child", fmt, str(feed)]
            command = [spy, "record", "-r", str(args.rate), "-f", "raw", "-o", str(raw), "--", *child]
            subprocess.run(command, check=True, capture_output=True)
            results[fmt] = shares(raw)
        print(f"{fmt:10} {json.dumps(results[fmt])}")
    (args.out / f"tagged-share-{args.docs}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
