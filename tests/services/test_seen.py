"""A run's seen refs answer the same in memory and from their file, from any one thread at a time."""

from __future__ import annotations

import threading

import pytest

from course_catalogue.services.seen import SeenRefs


def test_first_occurrences_memory_then_disk() -> None:
    seen = SeenRefs(in_memory=3)
    try:
        refs = [f"ref-{n}" for n in range(10)]
        for n, ref in enumerate(refs):
            assert seen.first(ref, b"first %d" % n) is None
        assert seen._db is not None  # past three, the earlier ones went to the file
        for n, ref in enumerate(refs):  # repeats, wherever the first one is kept
            assert seen.first(ref, b"again") == b"first %d" % n
        assert len(seen) == 10 and set(seen) == set(refs)
        assert all(ref in seen for ref in refs)
        assert "ref-10" not in seen and 10 not in seen
        assert seen == set(refs)  # a Set: compares as one
    finally:
        seen.close()
    assert len(seen) == 0 and "ref-1" not in seen


def test_a_run_that_stays_small_never_opens_a_file() -> None:
    seen = SeenRefs(in_memory=5)
    for ref in "abcde":
        seen.first(ref, ref.encode())
    assert seen._db is None and len(seen) == 5
    seen.close()


def test_another_thread_reads_it_at_the_end_of_the_run() -> None:
    seen = SeenRefs(in_memory=2)
    for n in range(6):
        seen.first(str(n), b"x")
    found: list[bool] = []
    reader = threading.Thread(target=lambda: found.extend(str(n) in seen for n in range(7)))
    reader.start()
    reader.join()
    assert found == [True] * 6 + [False]
    seen.close()


def test_at_least_one_ref_in_memory() -> None:
    with pytest.raises(ValueError):
        SeenRefs(in_memory=0)
