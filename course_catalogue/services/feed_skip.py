"""Recognising a byte-identical feed as a whole, before it is parsed: the level above the
per-item skip of `services.recall`.

A run's *feed key* (`feed_key`) digests the feed's bytes together with the same inputs the item
digests are keyed by (`services.recall.run_key`: the mapping spec's file and name, the source's
parameters, registered provider and publishing policy, and a fingerprint of every file of the
packages that read, map, validate and store, so a release that changes any of them changes every
key), plus what decides the run beyond its items: the source's format (its reader) and whether
the feed is complete (withdrawals). A source whose reader fetches documents of its own (a
"jsonld-pages" listing) has no key: identical listing bytes say nothing about the pages.

When the source's last fully applied harvest had the same key and nothing has touched its courses
since (`catalogue.feed_memory.recognised` states the conditions), the new run repeats that run's
outcome exactly, so it is not read at all (`carry_forward`): it is recorded SUCCEEDED with every
record the previous run applied counted UNCHANGED (its rejected ones FAILED again, as they would
be), nothing added, updated or withdrawn, no store writes; its report carries the previous run's
item-level issues, their exact totals and its coverage report, and says that the feed was
byte-identical and not read (an INFO issue `feed-unchanged` naming that run). Notes about the
previous run itself rather than its feed (a failing sink, a 304) are not carried.

The pipeline records the key in each harvest's own transaction (`record_feed`), so only a run
that committed can be carried forward, and a run that held withdrawals removes the record; a
skipped run takes the record over (it is the source's last applied run from then on).
`HarvestSettings.skip_unchanged_feeds` False (`catalogue harvest --force`) reads the feed
whatever its key (it is still recorded); a remap never reads a feed, so never skips.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime

from course_catalogue.catalogue.changes import HarvestDiff
from course_catalogue.catalogue.feed_memory import carried, forget, recognised, remember
from course_catalogue.catalogue.harvest_apply import HarvestSession
from course_catalogue.catalogue.runs import Issue, Outcome, RunReport, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Feed, Harvester, MappedFeed, NonEmpty

CODE = "feed-unchanged"
"""The INFO issue of a run whose feed was recognised and not read."""
NOT_CARRIED = frozenset({CODE, "not-modified", "sink-failed"})
"""Issue codes about a run itself, not about its feed's records: not carried forward."""
_VERSION = b"feed-skip/1"
_CHUNK = 1 << 20
"""Bytes hashed at a time (a mapped feed is paged in and released as it goes)."""


def feed_digest(data: Feed) -> bytes:
    """The digest of a feed's bytes, read once in chunks (a mapped file's pages are released
    afterwards, see `harvesters.base.MappedFeed`). SHA-256: hardware-accelerated where the CPU
    has the SHA extensions, ~2 GB/s here."""
    digest = hashlib.sha256()
    with memoryview(data) as view:
        for start in range(0, len(view), _CHUNK):
            digest.update(view[start : start + _CHUNK])
    if isinstance(data, MappedFeed):
        data.release()
    return digest.digest()


def feed_key(
    run_key: bytes | None, source: Source, complete: bool, harvester: Harvester, data: Feed
) -> str | None:
    """The key of a run of `source` reading `data` with `harvester` (hex); None when the run
    cannot be recognised by its feed: no run key (a spec built in code) or a reader that fetches
    documents of its own (`fetches`, see `harvesters.base.harvester_for`)."""
    reader = harvester.harvester if isinstance(harvester, NonEmpty) else harvester
    if run_key is None or getattr(reader, "fetches", False):
        return None
    digest = hashlib.blake2b(digest_size=32)
    for part in (_VERSION, run_key, source.format.encode(), b"complete" if complete else b"partial"):
        digest.update(part)
        digest.update(b"\x00")
    digest.update(feed_digest(data))
    return digest.hexdigest()


def carry_forward(store: CatalogueStore, report: RunReport, key: str) -> bool:
    """If the source's last applied run read a feed of the same `key` and nothing changed its
    courses since, fill `report` as that run's repetition (see the module docstring) and return
    True; else leave `report` as it is and return False."""
    with store.reading() as conn:
        run_id = recognised(conn, report.source_id, key)
    if run_id is None or report.run_id is None:
        return False
    with store.writing() as conn:
        carried(conn, report.source_id, run_id, report.run_id)
    previous = store.get_run(run_id)
    applied = sum(previous.counts[o] for o in (Outcome.ADDED, Outcome.UPDATED, Outcome.UNCHANGED))
    report.count(Outcome.UNCHANGED, applied)
    if previous.counts[Outcome.FAILED]:
        report.count(Outcome.FAILED, previous.counts[Outcome.FAILED])
    report.issues.append(
        Issue(
            Severity.INFO,
            f"the feed is byte-identical to the one run {run_id} applied, with the same mapping, "
            "parameters and code, and the source's courses have not changed since: it was not read "
            f"again, its {applied} record(s) are unchanged and run {run_id}'s issues are carried forward",
            code=CODE,
            value=str(run_id),
        )
    )
    report.issues.extend(
        i for i in previous.issues if i.code not in NOT_CARRIED
    )  # (a skipped run's: the same)
    report.dropped = Counter({kind: n for kind, n in previous.dropped.items() if kind[1] not in NOT_CARRIED})
    report.coverage = previous.coverage
    return True


def record_feed(session: HarvestSession, report: RunReport, key: str | None, diff: HarvestDiff) -> None:
    """Inside a real run's transaction, after `finish()`: record its feed key for the runs after
    it, or forget the source's record when this run cannot be carried forward (no key, or it held
    withdrawals)."""
    if report.run_id is None or report.dry_run:
        return
    if key is None or diff.held_withdrawals:
        forget(session.connection, report.source_id)
    else:
        remember(session.connection, report.source_id, report.run_id, key, datetime.now(UTC))
