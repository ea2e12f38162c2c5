"""The harvest spool gives back every candidate, in order, whether it kept it in memory or on disk."""

from __future__ import annotations

from course_catalogue.catalogue.changes import Candidate
from course_catalogue.catalogue.codec import course_to_dict, record_hash
from course_catalogue.services.spool import Spool
from tests.search.conftest import catalogue


def candidates() -> list[Candidate]:
    out = []
    for stored in catalogue():
        record = course_to_dict(stored.course)
        out.append(
            Candidate(stored.course, record_hash(record), b"raw " + stored.id.encode(), "text/csv", record)
        )
    return out


def test_memory_then_disk_in_order_with_courses_rebuilt_exactly() -> None:
    given = candidates()
    with Spool(in_memory=3) as spool:
        for start in range(0, len(given), 2):
            spool.offer(given[start : start + 2])
        assert spool.on_disk and spool.records == len(given)
        for _ in range(2):  # readable more than once
            back = [c for batch in spool.batches() for c in batch]
            assert [c.course for c in back] == [c.course for c in given]  # codec round trip: equal courses
            assert [(c.content_hash, c.raw, c.media_type) for c in back] == [
                (c.content_hash, c.raw, c.media_type) for c in given
            ]
            assert [dict(c.record or {}) for c in back] == [dict(c.record or {}) for c in given]


def test_a_small_run_never_touches_the_disk() -> None:
    given = candidates()
    with Spool(in_memory=len(given)) as spool:
        spool.offer(given)
        assert not spool.on_disk
        assert [c for batch in spool.batches() for c in batch] == given


def test_candidates_read_back_know_their_ids_before_their_course_is_decoded() -> None:
    given = candidates()
    with Spool(in_memory=0) as spool:
        spool.offer(given)
        back = [c for batch in spool.batches() for c in batch]
    for original, again in zip(given, back, strict=True):
        assert again._course is None  # what the store reads needs no decoded course
        assert (again.course_id, again.source_id, again.provider_ref) == (
            original.course.id,
            original.course.provenance.source_id,
            original.course.provenance.provider_ref,
        )
        assert again._course is None
        assert again.course == original.course  # decoded on first use
        assert again == original
