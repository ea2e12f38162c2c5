"""Fast paths against the plain code, in one run: does each save at least 10% of its stage?

Issue 19's rule: a second, faster implementation beside the readable one stays only when it saves
at least 10% of the stage it serves. CPU time of this process (`time.process_time`), best of
`--repeat`; the machine is shared, so CPU rather than wall.

* **codec, Course -> JSON-safe dict**: the converters `catalogue.codec` generates with `exec` per
  model type against the generic walk (`_plain`, the converters switched off). The stage is a
  harvest (`services.pipeline.run_harvest` of the generated CSV feed into a fresh SQLite store),
  run with and without the converters.

    .venv/bin/python -m bench.fast_paths --docs 10000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.harvest_bench import MAPPINGS, OUT, feed_path
from bench.machine import describe_machine


def _cpu(run: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


@contextlib.contextmanager
def _generic_codec() -> Iterator[None]:
    """The codec without its generated converters: `_plain`'s generic walk for every type."""
    from course_catalogue.catalogue import codec

    saved = dict(codec._CONVERTERS)
    codec._CONVERTERS.clear()
    try:
        yield
    finally:
        codec._CONVERTERS.update(saved)


def codec_paths(docs: int, seed: int, repeat: int) -> dict[str, Any]:
    from course_catalogue.catalogue.codec import course_to_dict
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    data = feed_path("csv", docs, seed, OUT).read_bytes()
    settings = HarvestSettings(max_feed_bytes=max(len(data) + 1, HarvestSettings().max_feed_bytes))
    source = Source(id="bench", format="csv", name="Benchmark feed", mapping=MAPPINGS["csv"])

    def harvest() -> Any:
        with tempfile.TemporaryDirectory(prefix="fast-paths-") as tmp:
            store = CatalogueStore(f"sqlite:///{Path(tmp)}/catalogue.db")
            store.migrate()
            store.save_source(source)
            report = run_harvest(store, source, data=data, settings=settings)
            courses = [stored.course for stored in store.iter_courses()]
            store.close()
            return report, courses

    report, courses = harvest()
    with _generic_codec():
        generic = [course_to_dict(c) for c in courses]
    same = generic == [course_to_dict(c) for c in courses]

    def encode() -> None:
        for course in courses:
            course_to_dict(course)

    fast_s = _cpu(encode, repeat)
    with _generic_codec():
        plain_s = _cpu(encode, repeat)
    stage_fast = _cpu(harvest, repeat)
    with _generic_codec():
        stage_plain = _cpu(harvest, repeat)
    saved = stage_plain - stage_fast
    return {
        "courses": len(courses),
        "same_output": same,
        "course_to_dict_fast_cpu_s": round(fast_s, 3),
        "course_to_dict_plain_cpu_s": round(plain_s, 3),
        "stage": "harvest (run_harvest of the CSV feed into a fresh SQLite store)",
        "stage_fast_cpu_s": round(stage_fast, 3),
        "stage_plain_cpu_s": round(stage_plain, 3),
        "saved_share_of_stage": round(saved / stage_plain, 4),
        "keep": saved / stage_plain >= 0.10,
        "run_status": str(report.status),
    }


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(list(argv) if argv is not None else None)
    result = {"machine": describe_machine(), "codec": codec_paths(args.docs, args.seed, args.repeat)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
