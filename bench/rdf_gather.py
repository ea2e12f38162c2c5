"""CPU time of the RDF harvester's gather (parse, index, cut one subgraph per record) over one feed.

Measures `harvesters.elm.RdfHarvester.gather` alone (no mapping, no store), with the records the
spec's `[reader]` names: the cost of record classes read from the spec and of the reference-
following closure. Median and minimum of `--repeats` runs, CPU time (`time.process_time`), since
the machine may be shared.

    .venv/bin/python -m bench.generate --docs 10000 --format elm-rdf --out /tmp/elm10k.ttl
    nice -n 10 .venv/bin/python -m bench.rdf_gather /tmp/elm10k.ttl --spec elm-rdf --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from course_catalogue.harvesters.elm import RdfHarvester
from course_catalogue.mappings.spec import load_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("feed", type=Path)
    parser.add_argument("--spec", default="elm-rdf")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = args.feed.read_bytes()
    spec = load_spec(args.spec)
    times: list[float] = []
    records = 0
    for _ in range(args.repeats):
        start = time.process_time()
        records = sum(1 for _ in RdfHarvester().gather(data, spec))
        times.append(time.process_time() - start)
    median = statistics.median(times)
    print(
        f"{args.feed.name}: {len(data) / 1e6:.1f} MB, {records} records, CPU median {median:.2f} s "
        f"(min {min(times):.2f} s), {records / median:,.0f} records per CPU-second"
    )


if __name__ == "__main__":
    main()
