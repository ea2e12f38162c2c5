"""What finding the JSON-LD keys no context defines costs a CTDL harvest (issue 17 follow-up).

The feed is the corpus CTDL graph (`tests/fixtures/corpus/ctdl/learning_program_1_graph.json`: a
LearningProgram and three Courses) repeated --copies times with fresh `@id`s, one `@graph`, read
with the `ctdl-jsonld` spec and the Credential Registry's context. Three CPU times
(`time.process_time`, median of --repeats), each over the same bytes:

* localise: JSON parse, remote contexts replaced by their local copies, JSON written back (what
  the RDF harvester always does before the JSON-LD parser);
* localise + scan: the same with `mappings.jsonld_keys.UndefinedKeys` walking the document;
* read_graph: the whole parse into the feed index (localise, scan, pyoxigraph's JSON-LD parser).

    .venv/bin/python -m bench.jsonld_keys_bench --copies 2500 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from course_catalogue.harvesters.elm import _offline_jsonld, read_graph, reading_of
from course_catalogue.mappings.jsonld_keys import UndefinedKeys
from course_catalogue.mappings.spec import load_spec

SAMPLE = (
    Path(__file__).parents[1] / "tests" / "fixtures" / "corpus" / "ctdl" / "learning_program_1_graph.json"
)


def feed(copies: int) -> bytes:
    document = json.loads(SAMPLE.read_bytes())
    nodes = []
    for number in range(copies):
        for node in document["@graph"]:
            twin = copy.deepcopy(node)
            twin["@id"] = f"{twin['@id']}/{number}"
            nodes.append(twin)
    return json.dumps({"@context": document["@context"], "@graph": nodes}).encode("utf-8")


def cpu(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--copies", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spec = load_spec("ctdl-jsonld")
    reading = reading_of(spec)
    data = feed(args.copies)
    nodes = 4 * args.copies
    localise = cpu(lambda: _offline_jsonld(data, reading), args.repeats)
    scanned = cpu(lambda: _offline_jsonld(data, reading, UndefinedKeys()), args.repeats)
    whole = cpu(lambda: read_graph(data, "json-ld", reading=reading, undefined=UndefinedKeys()), args.repeats)
    print(f"feed: {len(data) / 1e6:.1f} MB, {nodes} top-level nodes, median of {args.repeats} (CPU s)")
    print(f"localise          {localise:6.2f}")
    print(f"localise + scan   {scanned:6.2f}  (scan: +{scanned - localise:.2f})")
    print(f"read_graph        {whole:6.2f}  (scan: {100 * (scanned - localise) / whole:.0f}% of it)")


if __name__ == "__main__":
    main()
