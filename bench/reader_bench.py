"""One reader alone over a feed file: items per CPU-second and peak memory, on the path an
unchanged re-harvest takes (each item's raw form, nothing built) or, with --build, building
every item as a first load does.

The feed is mapped (`harvesters.base.open_feed`), as `catalogue harvest --file` and
`bench.harvest_bench` give it; the XML readers' `reader.max_bytes` is lifted so the size cap does
not decide what is measured. The digest printed covers what was read (raw forms, or items with
their pointers, ids and issues): equal digests from two versions of a reader mean equal output.

    nice -n 10 .venv/bin/python -m bench.reader_bench xcri-cap bench/out/feed-100000-1.xcri.xml
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import resource
import time

from course_catalogue.harvesters.base import harvester_for, open_feed
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.xml_paths import XmlRecords


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description="One reader alone over a feed: CPU and peak memory.")
    parser.add_argument("format", help="a format with a bundled mapping of that name")
    parser.add_argument("feed", help="the feed file")
    parser.add_argument("--build", action="store_true", help="build every item (a first load's path)")
    args = parser.parse_args()
    spec = load_spec(args.format)
    language = spec.selector_language
    if isinstance(language, XmlRecords):
        spec = dataclasses.replace(spec, selector_language=dataclasses.replace(language, max_bytes=1 << 50))
    before = _peak_mb()
    digest = hashlib.blake2b(digest_size=8)
    items = 0
    cpu = time.process_time()
    with open_feed(args.feed) as data:
        for gathered in harvester_for(args.format).gather(data, spec):
            items += 1
            raw = None if args.build else gathered.raw
            if raw is not None:
                digest.update(raw)
                continue
            digest.update(gathered.item.content)
            issues = [(i.severity, i.message, i.code, i.value, i.pointer) for i in gathered.issues]
            digest.update(repr((gathered.pointer, gathered.guid, gathered.media_type, issues)).encode())
    cpu = time.process_time() - cpu
    print(
        f"{args.format} {'build' if args.build else 'raw forms'}: {items} items, {cpu:.2f} CPU-s, "
        f"{cpu / items * 1e6:.1f} us per item, peak RSS {_peak_mb()} MB ({before} MB before reading), "
        f"digest {digest.hexdigest()}"
    )


if __name__ == "__main__":
    main()
