"""The RDF reader alone over a feed file: CPU, items per CPU-second and resident memory over time.

Reads a feed as `catalogue harvest --file` does (mapped, `open_feed`) with the ELM spec's reader
(`RdfHarvester.gather`), building every item (a first load) or only gathering (`--gathered`, what
an unchanged re-harvest asks of the reader). A thread samples the process's resident set every
`--every` seconds and notes the reader's phase (parsing/spooling, indexing, cutting records), so
the report says where the peak is, not only how high it is. `--tracemalloc` adds the top Python
allocation sites at the end of the indexing phase and after the last item (slow: ~3x the CPU).

    nice -n 10 .venv/bin/python -m bench.rdf_reader /tmp/elmmem/feed-100000-1.ttl
    nice -n 10 .venv/bin/python -m bench.rdf_reader /tmp/elmmem/feed-100000-1.jsonld --spool always
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import course_catalogue.harvesters.elm as elm
import course_catalogue.harvesters.rdf_spool as rdf_spool
from course_catalogue.harvesters.base import harvester_for, open_feed
from course_catalogue.mappings.spec import load_spec


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class _Sampler(threading.Thread):
    """The resident set every `every` seconds, with the phase the reader was in."""

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        self.every, self.phase, self.stop = every, "start", threading.Event()
        self.peaks: dict[str, float] = {}
        self.items = 0

    def run(self) -> None:
        ticks = 0
        while not self.stop.wait(self.every):
            self.note()
            ticks += 1
            if ticks % max(1, round(30 / self.every)) == 0:  # progress, for runs cut short
                self.progress()

    def progress(self) -> None:
        line = {"phase": self.phase, "cpu_s": round(time.process_time(), 1), "items": self.items}
        line.update(rss_mb=round(_rss_mb()), peaks=self.peaks)
        print(json.dumps(line), file=sys.stderr, flush=True)

    def note(self) -> None:
        rss = _rss_mb()
        if rss > self.peaks.get(self.phase, 0.0):
            self.peaks[self.phase] = round(rss, 1)


def _top(limit: int = 8) -> list[str]:
    snapshot = tracemalloc.take_snapshot()
    return [str(stat) for stat in snapshot.statistics("lineno")[:limit]]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("feed", type=Path)
    parser.add_argument("--spec", default="elm-rdf")
    parser.add_argument("--gathered", action="store_true", help="do not build the items")
    parser.add_argument("--spool", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    if args.spool != "auto":
        elm.SPOOL_FEED_BYTES = -1 if args.spool == "always" else 1 << 62
    spec = load_spec(args.spec)
    sampler = _Sampler(args.every)
    sampler.note()
    sampler.start()
    if args.tracemalloc:
        tracemalloc.start(4)
    finish = rdf_spool.SpooledGraph.finish

    def finishing(graph: rdf_spool.SpooledGraph) -> None:  # the phase: SQLite builds its indexes
        sampler.note()
        sampler.phase = "spool-index"
        finish(graph)
        sampler.note()
        sampler.phase = "roots"

    rdf_spool.SpooledGraph.finish = finishing  # type: ignore[method-assign]
    tops: dict[str, list[str]] = {}
    started = time.process_time()
    wall = time.perf_counter()
    items = problems = 0
    first_item_cpu = None
    with open_feed(args.feed) as data:
        sampler.phase = "parse"
        for gathered in harvester_for(spec.format).gather(data, spec):
            if first_item_cpu is None:
                first_item_cpu = time.process_time() - started
                sampler.note()
                sampler.phase = "records"
                if args.tracemalloc:
                    tops["indexed"] = _top()
            if not args.gathered:
                gathered.item  # noqa: B018 -- builds a deferred item
            items += 1
            sampler.items = items
            problems += bool(gathered.issues)
    cpu = time.process_time() - started
    sampler.note()
    if args.tracemalloc:
        tops["end"] = _top()
    sampler.stop.set()
    result = {
        "feed": str(args.feed),
        "feed_mb": round(args.feed.stat().st_size / 2**20, 1),
        "spool": args.spool,
        "built": not args.gathered,
        "items": items,
        "items_with_issues": problems,
        "cpu_s": round(cpu, 2),
        "cpu_to_first_item_s": round(first_item_cpu or 0.0, 2),
        "items_per_cpu_s": round(items / cpu) if cpu else None,
        "wall_s": round(time.perf_counter() - wall, 1),
        "peak_rss_mb_by_phase": sampler.peaks,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **({"tracemalloc_top": tops} if tops else {}),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
