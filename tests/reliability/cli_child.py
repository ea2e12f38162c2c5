"""`catalogue <args>` in a child process the tests can kill at a chosen point.

`python -m tests.reliability.cli_child <catalogue args...>`, with the instance given by
CATALOGUE_INSTANCE_PATH as for the real command. Two switches make the kill points exact
(test-only: they patch this process, never the product):

* STALL_INDEX_WRITES=1: every write to the embedded index prints "stalled" and blocks, so the
  process is stuck after its store transaction committed and before the index saw it;
* SLOW_SCHEME_BATCHES=<seconds>: each batch of a scheme evaluation sleeps that long after
  committing, so a kill lands mid-evaluation.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def _stall(*_args: Any, **_kwargs: Any) -> int:
    print("stalled", flush=True)
    time.sleep(3600)
    return 0


def main() -> None:
    if os.environ.get("STALL_INDEX_WRITES") == "1":
        from course_catalogue.search.tantivy.backend import EmbeddedBackend

        EmbeddedBackend.upsert = _stall  # type: ignore[method-assign]
    slow = float(os.environ.get("SLOW_SCHEME_BATCHES") or 0)
    if slow:
        from course_catalogue.catalogue import eligibility_jobs

        original = eligibility_jobs.evaluate_batch

        def slowed(*args: Any, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            print("batch", flush=True)
            time.sleep(slow)
            return found

        eligibility_jobs.evaluate_batch = slowed  # type: ignore[assignment]
    from course_catalogue.web.cli import main as catalogue

    catalogue(sys.argv[1:], prog_name="catalogue")


if __name__ == "__main__":
    main()
