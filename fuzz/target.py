"""One atheris fuzz target per seed feed: mutated bytes -> run_harvest -> the harness invariant.

`python -m fuzz.<name>_target -atheris_runs=N [corpus_dir]` (libFuzzer flags pass through).
The seed corpus is the feed's fixture (plus whatever corpus directory is given). Harvesters and
mappings are instrumented, so coverage guides the mutations into the readers' branches. A
violated invariant raises, and atheris reports the crashing input and exits non-zero.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["harvesters", "mappings", "course_catalogue.catalogue.validate"]):
    from fuzz import harness


def main(name: str) -> None:
    feed = harness.FEEDS[name]
    directory = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    url = f"sqlite:///{directory / 'catalogue.db'}"
    store = harness.open_store(url, [feed])
    corpus = directory / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(feed.load())
    runs = [0]

    def one(data: bytes) -> None:
        runs[0] += 1
        harness.check(store, url, feed, data)

    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(str(corpus))  # the seed corpus, unless the caller named corpus directories
    argv = [*argv, f"-max_len={max(4096, 2 * len(feed.load()))}", "-rss_limit_mb=3072"]
    logging.disable(logging.WARNING)  # every FAILED run logs a warning; the fuzzer's output is enough
    atheris.Setup(argv, one)
    atheris.Fuzz()
