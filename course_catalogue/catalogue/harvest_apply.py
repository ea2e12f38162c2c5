"""Applying one harvest run to the store: its records streamed in batches through ONE transaction.

`HarvestSession` is what `CatalogueStore.harvesting()` yields, bound to the one connection (and
transaction) the store opened for the run. For each batch `offer()`ed it reads what the store holds
for just those provider_refs, decides added / updated / unchanged and, unless dry, writes the batch
(`catalogue.course_writes`: executemany, COPY for new rows on PostgreSQL). `finish()` then
decides the withdrawals of a complete run (behind the mass-withdrawal guard) and updates the held
withdrawals of earlier runs.
Nothing is visible to anyone else until the `harvesting()` block ends and commits; any exception
in it rolls the whole run back, so a feed that breaks halfway leaves the catalogue as it was.

Memory for the whole run is the ids of the diff, the set of refs offered, a seq range and
counters: a batch's courses are dropped once it is written (except the first `keep` added and
updated ones, kept for a preview). The changed courses are read back for the sinks after the commit
(`CatalogueStore.iter_changed`), by the run's seq range.

The mass-withdrawal guard (`withdrawals_held`) protects every source, whatever its size: a run
whose withdrawals it holds withdraws nothing and is marked HELD, with the ids kept on the run
until `CatalogueStore.confirm_withdrawals` (`catalogue runs confirm`) applies them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.changes import Candidate, CourseStatus, HarvestDiff
from course_catalogue.catalogue.course_writes import (
    insert_courses,
    merge_spans,
    raw_digest,
    refresh_statistics,
    store_raw,
    update_courses,
    withdraw,
)
from course_catalogue.catalogue.errors import StoreError
from course_catalogue.catalogue.item_memory import Carried, remember
from course_catalogue.catalogue.runs import RunReport, RunStatus
from course_catalogue.catalogue.schema import courses, raw_items, runs
from course_catalogue.catalogue.store_rows import CHUNK, chunks

GUARD_SHARE = 0.1
"""Default share of a source's active courses one run may withdraw without a confirmation."""
GUARD_COUNT = 1000
"""Default number of courses one run may withdraw without a confirmation, whatever the share."""
GUARD_ALLOWANCE = 1
"""Withdrawals always allowed below the share (one course of a small source), unless they would
withdraw every course of the source."""
STATISTICS_FROM = 20_000
"""Rows a session writes before it first refreshes the planner's statistics of the tables it
grows (`course_writes.refresh_statistics`), then again each time its count doubles."""


def withdrawals_held(withdrawing: int, n_active: int, share: float | None, count: int | None = None) -> bool:
    """Whether a complete run that would withdraw `withdrawing` of the source's `n_active` active
    courses must wait for a confirmation. `share` None turns the guard off (the owner deleting a
    source, a remap); `count` None means no absolute cap. Held when the run would:

    * withdraw every active course of the source, however few (a header-only or cut feed, or a
      provider that renamed every id, must never empty a source silently);
    * withdraw more than `count` courses (a cut feed of a large source loses thousands of rows
      while staying under the share);
    * withdraw more than `share` of the active courses and more than `GUARD_ALLOWANCE` (a feed cut
      at a row boundary, a partial export sent as a complete one).
    """
    if share is None or withdrawing <= 0:
        return False
    if withdrawing >= n_active:
        return True
    if count is not None and withdrawing > count:
        return True
    return withdrawing > max(share * n_active, GUARD_ALLOWANCE)


class _Known(NamedTuple):
    """What the store holds for one provider_ref of the source."""

    id: str
    content_hash: str
    active: bool
    digest: str | None  # of the stored raw payload


class HarvestSession:
    """One run's changes to its source, offered in batches inside one transaction.

    Contract: call `offer()` for each batch of valid candidates (each provider_ref at most once per
    run: within one batch the last candidate of a ref wins, a ref offered again in a later batch is
    a ValueError), then `finish()` once. A dry session (`write=False`) computes the same diff and
    writes nothing. Raises ValueError for a candidate of another source.
    """

    def __init__(
        self,
        conn: Connection,
        report: RunReport,
        *,
        write: bool,
        now: datetime,
        keep: int = 0,
        recalled_after: int | None = None,
    ) -> None:
        self.source_id = report.source_id
        self.run_id = report.run_id
        self.kept: list[Candidate] = []  # the first `keep` added and `keep` updated candidates
        self._conn = conn
        self._write = write
        self._now = now
        self._keep = keep
        self._offered: set[str] = set()
        self._active_offered = 0  # offered refs whose stored course was active before the run
        self._added: list[str] = []
        self._updated: list[str] = []
        self._unchanged: list[str] = []
        self._n_kept_added = self._n_kept_updated = 0
        self._seqs: tuple[int, int] | None = None
        self._diff: HarvestDiff | None = None
        # Carried records were recalled from a store whose changes up to seq `recalled_after`
        # they saw (None: any change may be unseen); what changed since, read once (`_changed`)
        self._recalled_after = recalled_after or 0
        self._changed_since: dict[str, str | None] | None = None
        # Whether the source held no course at all when the run began (read before its first
        # write): then none of the refs it offers can be stored yet (a ref is offered once, and
        # this transaction is the source's only writer: it holds the seq lock, see
        # catalogue.store; a finer lock must stay per source), so a first load looks nothing up
        self._first_load: bool | None = None
        self._written = 0  # rows the session wrote, and when it refreshes statistics next
        self._refresh_at = STATISTICS_FROM

    @property
    def connection(self) -> Connection:
        """The run's connection, inside its transaction: for what must commit with the run (the
        feed record of `catalogue.feed_memory`), once no batch is being written."""
        return self._conn

    @property
    def diff(self) -> HarvestDiff:
        """What `finish()` decided; RuntimeError before."""
        if self._diff is None:
            raise RuntimeError("the harvest session was not finished")
        return self._diff

    def offer(self, candidates: Iterable[Candidate | Carried]) -> None:
        """Plan and (unless dry) write one batch of the run's valid records.

        A `Carried` record (an item the run recognised from an earlier run, see
        `catalogue.item_memory`) counts UNCHANGED; if its stored course is no longer active with
        the recalled content hash (changed between the recall and this transaction), the run
        fails with a StoreError rather than keep a course it did not map."""
        if self._diff is not None:
            raise RuntimeError("the harvest session is finished")
        latest: dict[str, Candidate | Carried] = {}
        for candidate in candidates:
            source_id, ref = candidate.source_id, candidate.provider_ref
            if source_id != self.source_id:
                raise ValueError(
                    f"candidate {candidate.course_id} belongs to {source_id!r}, not {self.source_id!r}"
                )
            if ref in self._offered:
                raise ValueError(f"provider_ref {ref!r} was offered twice in one run")
            latest[ref] = candidate
        self._offered.update(latest)
        for chunk in chunks(list(latest.values()), CHUNK):
            self._apply_chunk(chunk)

    def finish(
        self,
        *,
        seen_refs: Collection[str],
        complete: bool,
        max_withdraw_share: float | None,
        max_withdraw_count: int | None = None,
    ) -> HarvestDiff:
        """Decide (and unless dry, apply) withdrawals, update earlier runs' held withdrawals and
        mark a run whose withdrawals the guard held HELD. `seen_refs`: every ref the feed listed,
        valid or not (a rejected record is not withdrawn); `complete`: absent courses go.
        `max_withdraw_share` (None: no guard) and `max_withdraw_count`: see `withdrawals_held`."""
        if self._diff is not None:
            raise RuntimeError("the harvest session is finished")
        withdrawn: list[str] = []
        held: list[str] = []
        if complete:
            absent, n_active = self._absent(seen_refs)
            if withdrawals_held(len(absent), n_active, max_withdraw_share, max_withdraw_count):
                held = absent
            else:
                withdrawn = absent
        if self._write:
            self._note_seqs(withdraw(self._conn, withdrawn, self.run_id, self._now))
            self._supersede_held(seen_refs, complete)
            if held and self.run_id is not None:
                values = {"status": RunStatus.HELD.value, "held_withdrawals": held}
                self._conn.execute(runs.update().where(runs.c.id == self.run_id).values(**values))
        self._diff = HarvestDiff(
            added=self._added,
            updated=self._updated,
            unchanged=self._unchanged,
            withdrawn=withdrawn,
            held_withdrawals=held,
            seqs=self._seqs,
        )
        return self._diff

    # --- one batch ------------------------------------------------------------------------------

    def _apply_chunk(self, chunk: list[Candidate | Carried]) -> None:
        if self._first_load is None:
            held = sa.select(courses.c.id).where(courses.c.source_id == self.source_id).limit(1)
            self._first_load = self._conn.execute(held).first() is None
        self._check_carried([c for c in chunk if isinstance(c, Carried)])
        known = self._known([c.provider_ref for c in chunk if not isinstance(c, Carried)])
        added: list[Candidate] = []
        updated: list[Candidate] = []
        stale_raw: list[Candidate] = []  # content unchanged, raw payload changed: refresh it only
        remembered: list[Candidate] = []  # mapped and now stored as they are: their fingerprints
        for candidate in chunk:
            if isinstance(candidate, Carried):
                self._active_offered += 1
                self._unchanged.append(candidate.course_id)
                continue
            row = known.get(candidate.provider_ref)
            if row is None:
                added.append(candidate)
                continue
            self._active_offered += row.active
            if row.active and row.content_hash == candidate.content_hash:
                remembered.append(candidate)
                self._unchanged.append(row.id)
                if row.digest != raw_digest(candidate.raw):
                    stale_raw.append(candidate)
            else:
                updated.append(candidate)
        self._added.extend(c.course_id for c in added)
        self._updated.extend(c.course_id for c in updated)
        self._keep_sample(added, updated)
        if self._write:
            self._write_chunk(added, updated, stale_raw)
            remember(self._conn, self.source_id, [*added, *updated, *remembered])

    def _check_carried(self, carried: list[Carried]) -> None:
        """StoreError unless every carried course is still active with the content hash it was
        recalled with (it could have changed between the recall and this transaction).

        Every change of a course gives it a new seq, commits come in seq order and courses are
        only deleted with their source, so only the courses with a seq past `recalled_after` can
        differ from what the recall saw: those are read once, at the first carried record (by
        the seq index: a run's recalled courses are not read again one by one; what this
        session wrote before is read too, harmlessly: it is never carried), and a carried course
        among them must still be active with its recalled hash."""
        if not carried:
            return
        changed_since = self._changed()
        changed = 0
        for c in carried:
            if c.course_id in changed_since and changed_since[c.course_id] != c.content_hash:
                changed += 1
        if changed:
            raise StoreError(
                f"{changed} course(s) recalled as unchanged changed while the run read its feed "
                "(withdrawn, remapped or confirmed meanwhile); run it again"
            )

    def _changed(self) -> dict[str, str | None]:
        """Courses of the source changed since `recalled_after`: id -> content hash while active,
        None once not active."""
        if self._changed_since is None:
            # Only the seq in the WHERE clause: SQLite would otherwise pick the (source_id, status)
            # index and read every course of the source.
            query = sa.select(
                courses.c.id, courses.c.content_hash, courses.c.source_id, courses.c.status
            ).where(courses.c.seq > self._recalled_after)
            active = CourseStatus.ACTIVE.value
            self._changed_since = {
                cid: chash if status == active else None
                for cid, chash, source_id, status in self._conn.execute(query)
                if source_id == self.source_id
            }
        return self._changed_since

    def _known(self, refs: list[str]) -> dict[str, _Known]:
        """What the store holds for `refs` (one query per chunk, by the unique index on
        (source_id, provider_ref) once the planner's statistics are right, see `_write_chunk`)."""
        if not refs or self._first_load:
            return {}
        query = (
            sa.select(
                courses.c.provider_ref,
                courses.c.id,
                courses.c.content_hash,
                courses.c.status,
                raw_items.c.digest,
            )
            .select_from(courses.outerjoin(raw_items))
            .where(courses.c.source_id == self.source_id, courses.c.provider_ref.in_(refs))
        )
        active = CourseStatus.ACTIVE.value
        return {
            ref: _Known(cid, chash, status == active, digest)
            for ref, cid, chash, status, digest in self._conn.execute(query)
        }

    def _write_chunk(
        self, added: list[Candidate], updated: list[Candidate], stale_raw: list[Candidate]
    ) -> None:
        conn, run_id, now = self._conn, self.run_id, self._now
        if added:
            self._note_seqs(insert_courses(conn, added, self.source_id, run_id, now))
        if updated:
            self._note_seqs(update_courses(conn, updated, run_id, now))
        if stale_raw:
            store_raw(conn, stale_raw, now)
        # The tables grow inside this one transaction, where autovacuum cannot see the new rows:
        # with statistics of the table before (empty, for a first load) PostgreSQL planned the
        # next chunks' lookups as a scan of the source's courses filtered by the chunk's 2,000
        # refs, which grows with every chunk (~10 s a chunk at 50k courses, a stalled 1M load).
        self._written += len(added) + len(updated) + len(stale_raw)
        if self._written >= self._refresh_at:
            refresh_statistics(conn)
            self._refresh_at = 2 * self._written

    def _keep_sample(self, added: list[Candidate], updated: list[Candidate]) -> None:
        if self._n_kept_added < self._keep:
            take = added[: self._keep - self._n_kept_added]
            self.kept.extend(take)
            self._n_kept_added += len(take)
        if self._n_kept_updated < self._keep:
            take = updated[: self._keep - self._n_kept_updated]
            self.kept.extend(take)
            self._n_kept_updated += len(take)

    def _note_seqs(self, span: tuple[int, int] | None) -> None:
        self._seqs = merge_spans(self._seqs, span)

    # --- the end of the run ---------------------------------------------------------------------

    def _absent(self, seen_refs: Collection[str]) -> tuple[list[str], int]:
        """Ids of the source's active courses the run neither saw nor offered, and how many
        courses of the source were active before the run (what the guard compares against)."""
        if self._first_load:  # every course of the source came in this run
            return [], self._active_offered
        # a set or mapping answers `in` itself (a run's `services.seen.SeenRefs` from its file)
        seen = seen_refs if isinstance(seen_refs, (AbstractSet, Mapping)) else set(seen_refs)
        query = (
            sa.select(courses.c.provider_ref, courses.c.id)
            .where(courses.c.source_id == self.source_id, courses.c.status == CourseStatus.ACTIVE.value)
            .execution_options(yield_per=20_000)  # a server-side cursor on PostgreSQL
        )
        absent: list[str] = []
        n_active = self._active_offered  # offered courses are active now whatever they were before
        for ref, cid in self._conn.execute(query):
            if ref in self._offered:
                continue
            n_active += 1
            if ref not in seen:
                absent.append(cid)
        return absent, n_active

    def _supersede_held(self, seen_refs: Collection[str], complete: bool) -> None:
        """Keep earlier runs' held withdrawals "still absent": a complete run re-decided every
        withdrawal of the source, so it clears them; any run removes the courses it saw."""
        query = sa.select(runs.c.id, runs.c.held_withdrawals).where(
            runs.c.source_id == self.source_id, runs.c.status == RunStatus.HELD.value
        )
        if self.run_id is not None:
            query = query.where(runs.c.id != self.run_id)
        held_runs = [(rid, held) for rid, held in self._conn.execute(query) if held]
        if not held_runs:
            return
        seen_ids: set[str] = set()
        if not complete:
            held_ids = sorted({cid for _, held in held_runs for cid in held})
            for chunk in chunks(held_ids, CHUNK):
                refs = sa.select(courses.c.id, courses.c.provider_ref).where(
                    courses.c.source_id == self.source_id, courses.c.id.in_(chunk)
                )
                seen_ids.update(cid for cid, ref in self._conn.execute(refs) if ref in seen_refs)
        for rid, held in held_runs:
            keep = [] if complete else [cid for cid in held if cid not in seen_ids]
            if keep != held:
                self._conn.execute(runs.update().where(runs.c.id == rid).values(held_withdrawals=keep))
