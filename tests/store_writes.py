"""A run's records written to the store in one call, for tests that set up a catalogue without
the harvest pipeline (production writes go through `services.pipeline`, which streams batches
through `CatalogueStore.harvesting`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from course_catalogue.catalogue.changes import Candidate, HarvestDiff
from course_catalogue.catalogue.harvest_apply import GUARD_COUNT, GUARD_SHARE
from course_catalogue.catalogue.runs import RunReport
from course_catalogue.catalogue.store import CatalogueStore


def apply_harvest(
    store: CatalogueStore,
    report: RunReport,
    candidates: Sequence[Candidate],
    *,
    seen_refs: Collection[str],
    complete: bool,
    dry_run: bool = False,
    max_withdraw_share: float | None = GUARD_SHARE,
    max_withdraw_count: int | None = GUARD_COUNT,
) -> HarvestDiff:
    """Apply one run's valid records to its source in ONE transaction (`store.harvesting` with a
    single batch), and return the diff with the changed courses in `changed` (seq order).

    If the same provider_ref is offered twice, the last candidate wins. Raises ValueError for a
    candidate of another source. Applying a run also updates the held withdrawals of earlier runs
    of the source: a complete run supersedes them, any run drops those it saw."""
    with store.harvesting(report, dry_run=dry_run) as session:
        session.offer(candidates)
        session.finish(
            seen_refs=seen_refs,
            complete=complete,
            max_withdraw_share=max_withdraw_share,
            max_withdraw_count=max_withdraw_count,
        )
    diff = session.diff
    return replace(diff, changed=[stored for batch in store.iter_changed(diff) for stored in batch])
