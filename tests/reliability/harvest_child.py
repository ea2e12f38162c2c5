"""A harvest in its own process, for the crash and concurrency tests to kill or race.

`python -m tests.reliability.harvest_child <db_url> <data_dir> <source_id> <file-or-url>`
Registers the source (CSV, edx-csv mapping) if needed and harvests it the way the CLI does:
`run_harvest_exclusive` under the file lock in <data_dir>/locks, the embedded index in
<data_dir>/index as the sink. Prints the attempt as JSON (status "already-running" when the
source was busy). Private addresses are allowed: the tests serve feeds on loopback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.services.jobs import run_harvest_exclusive
from course_catalogue.services.locks import open_locks
from course_catalogue.services.pipeline import HarvestSettings
from tests.sinks import IndexSync

SETTINGS = HarvestSettings(allow_private=True, retries=0, max_withdraw_share=None)


def main() -> None:
    url, data_dir, source_id, feed = sys.argv[1:5]
    store = CatalogueStore(url)
    source = Source(id=source_id, format="csv", name=source_id, mapping="edx-csv")
    if feed.startswith("http"):
        source = Source(id=source_id, format="csv", name=source_id, mapping="edx-csv", url=feed)
        data = None
    else:
        data = Path(feed).read_bytes()
    store.save_source(source)
    backend = EmbeddedBackend(Path(data_dir) / "index")
    locks = open_locks(url, Path(data_dir) / "locks")
    attempt = run_harvest_exclusive(
        store, source, locks=locks, data=data, sinks=[IndexSync(backend)], settings=SETTINGS
    )
    print(json.dumps(attempt.to_dict()), flush=True)


if __name__ == "__main__":
    main()
