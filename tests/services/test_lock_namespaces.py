"""Locks of other kinds than harvests (the index outbox's drain lock) live in their own namespace:
a source may be called anything without ever sharing a lock with them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.locks import AlreadyRunning, SourceLocks, lock_key, open_locks
from course_catalogue.services.runtime import OUTBOX_LOCK_NAMESPACE


@pytest.fixture
def both(store_url: str, store: CatalogueStore, tmp_path: Path) -> Iterator[tuple[SourceLocks, SourceLocks]]:
    harvests = open_locks(store_url, tmp_path / "locks")
    outbox = open_locks(store_url, tmp_path / "locks" / "outbox", namespace=OUTBOX_LOCK_NAMESPACE)
    yield harvests, outbox
    harvests.close()
    outbox.close()


def test_a_source_named_like_the_drain_lock_does_not_share_it(both: tuple[SourceLocks, SourceLocks]) -> None:
    harvests, outbox = both
    # a source called "index" and the drain lock, both held; the drain lock itself stays exclusive
    with harvests.hold("index"), outbox.hold("index"), pytest.raises(AlreadyRunning), outbox.hold("index"):
        pass
    assert lock_key("public:index") != lock_key("public:index", OUTBOX_LOCK_NAMESPACE)
