"""Child process for the giant-input cases: harvest one giant feed under RLIMIT_AS (1.5 GiB).

`python -m tests.reliability.giant_child <dir> <feed> <kind>`; prints {"status", "error"} as JSON.
A MemoryError or a kill by the limit makes the parent test fail: the harvest must stay bounded.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from fuzz import harness

LIMIT = 1536 * 1024 * 1024


def giant(name: str, kind: str) -> bytes:
    seed = harness.FEEDS[name].load()
    big = 12 * 1024 * 1024  # under the harness' 16 MiB feed cap, so the readers see it all
    if kind == "giant-cell":
        rows = harness.csv_rows(seed)
        rows[2][13] = "z" * big
        return harness.csv_bytes(rows)
    if kind == "giant-text":
        at = seed.find(b"<dc:description>") + len(b"<dc:description>")
        return harness.splice(seed, at, b"w " * (big // 2))
    if kind == "giant-literal":
        return seed + b'\n<urn:x:giant> <http://purl.org/dc/terms/description> "' + b"q" * big + b'" .\n'
    if kind == "giant-string":
        return harness.json_giant(seed, big)
    if kind == "billion-laughs":
        lol = harness.BILLION_LAUGHS.split(b"\n", 1)[1].rsplit(b"<lolz>", 1)[0]
        return harness.with_doctype(seed, lol.replace(b"lolz", b"rdf:RDF"))
    if kind == "deep-nesting":
        return harness.splice(seed, seed.rfind(b"</"), b"<a>" * 200_000 + b"</a>" * 200_000)
    raise SystemExit(f"unknown kind {kind}")


def main() -> None:
    directory, name, kind = sys.argv[1:4]
    data = giant(name, kind)
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    url = f"sqlite:///{Path(directory) / 'catalogue.db'}"
    store = harness.open_store(url, [harness.FEEDS[name]])
    report = harness.check(store, url, harness.FEEDS[name], data)
    print(json.dumps({"status": report.status.value, "error": report.error}))


if __name__ == "__main__":
    main()
