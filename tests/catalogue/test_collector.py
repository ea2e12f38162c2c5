"""Cyclic garbage collection paced by bulk jobs (catalogue.collector)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from course_catalogue.catalogue.collector import Pacer, paced_collection


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A two-node reference cycle nobody else holds: only the cyclic collector frees it."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_automatic_collection_is_off_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with paced_collection(10):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), paced_collection(10):
        raise RuntimeError("the job failed")
    assert gc.isenabled()


def test_nested_jobs_restore_only_when_the_last_ends() -> None:
    with paced_collection(10):
        with paced_collection(10):
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer job is still running
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with paced_collection(10):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_concurrent_jobs_in_threads_share_the_state() -> None:
    inside, release = threading.Event(), threading.Event()

    def job() -> None:
        with paced_collection(10):
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=job)
    worker.start()
    inside.wait(10)
    with paced_collection(10):
        pass
    assert not gc.isenabled()  # the thread's job is still running
    release.set()
    worker.join(10)
    assert gc.isenabled()


def test_the_pacer_frees_cyclic_garbage_every_n_records() -> None:
    with paced_collection(3) as pacer:
        gc.collect()
        garbage = _cycle()
        pacer.tick()
        pacer.tick()
        assert garbage() is not None  # automatic collection is off: nothing freed it yet
        pacer.tick()
        assert garbage() is None
        garbage = _cycle()
        pacer.tick(5)  # a batch of records at once
        assert garbage() is None


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
