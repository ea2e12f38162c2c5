"""Scale-out on a real 3-node OpenSearch cluster (search.opensearch.local, one JVM per node).

Indices have 2 primary shards and 1 replica, so every shard has a copy on two of the three nodes.
Nodes are killed with SIGKILL (a crashed machine) while searches or a harvest's indexing run:
searches must keep answering complete results, indexing must retry and lose nothing. Also:
reindexing with an alias swap under searches, cursors across a refresh, and bulk back-pressure
(429) on nodes whose write queue is tiny.

The cluster is started once for this module (the only one that needs three nodes) and stopped
after it; a test that killed a node gets it back before the next test (`healthy`). Data is small
(hundreds of documents): the behaviour is under test, not the speed.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch

from course_catalogue.catalogue.changes import StoredCourse
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import LocalClusterError
from course_catalogue.search.opensearch.backend import OpenSearchBackend
from course_catalogue.search.opensearch.local import LocalCluster
from course_catalogue.search.query import SearchResult
from tests.search.conftest import drop_indices, make_course, opensearch_unavailable, q
from tests.sinks import IndexSync

NODES = 3
WRITE_QUEUE = 2
"""Each node's write thread pool: one thread (node.processors 1) and a queue of two, so that a few
concurrent bulk requests meet real back-pressure (HTTP 429, rejected_execution_exception)."""
WORDS = ("python", "data", "project", "energy", "design", "finance", "health", "robotics")


class FailoverCluster(LocalCluster):
    """The local cluster, with the failures these tests inject."""

    def kill(self, index: int) -> None:
        """SIGKILL node `index`, as a crashed machine: no shutdown, no goodbye to the cluster."""
        self._end(self.nodes[index], signal.SIGKILL)

    def restart(self, index: int, *, timeout: float = 180.0) -> None:
        """Start node `index` again on its data and ports; wait until every node is back."""
        node = self.nodes[index]
        if node.alive:
            raise ValueError(f"{node.name} is running")
        node.ended = False
        self._spawn(node)
        self.wait_for(len(self.nodes), timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailoverCluster]:
    cluster = FailoverCluster(
        tmp_path_factory.mktemp("cluster"),
        NODES,
        processors=1,  # three JVMs share two cores
        quick_start=True,
        settings={"thread_pool.write.queue_size": WRITE_QUEUE},
    )
    try:
        cluster.start()
    except LocalClusterError as error:
        opensearch_unavailable(f"no local 3-node OpenSearch: {error}")
    yield cluster
    cluster.close()


@pytest.fixture
def healthy(cluster: FailoverCluster) -> FailoverCluster:
    """The cluster with every node up and every shard allocated (green)."""
    for index, node in enumerate(cluster.nodes):
        if not node.alive:
            cluster.restart(index)
    cluster.wait_for(NODES, status="green")
    return cluster


@pytest.fixture
def backend(healthy: FailoverCluster, request: pytest.FixtureRequest) -> Iterator[OpenSearchBackend]:
    """An empty 2-primary, 1-replica index reached through all three nodes' URLs."""
    prefix = f"scale-{uuid.uuid4().hex[:10]}"
    url = f"{healthy.url}?shards=2&replicas=1&prefix={prefix}"
    request.addfinalizer(lambda: drop_indices(url, prefix))
    backend = OpenSearchBackend(url, timeout=60, backoff=0.2, max_backoff=2.0, retries=12)
    yield backend
    backend.close()


def courses(count: int, tag: str = "c") -> list[StoredCourse]:
    """`count` current courses; every eighth is about python."""
    return [
        make_course(
            f"{tag}{i}",
            f"{WORDS[i % len(WORDS)].title()} course {tag} {i}",
            description=f"Module {i} on {WORDS[(i * 3) % len(WORDS)]} for working adults.",
            price=str(i % 500),
            ects=str(1 + i % 30),
            start=date(2025, 7, 1) + timedelta(days=i % 300),
        )
        for i in range(count)
    ]


def admin(cluster: FailoverCluster) -> OpenSearch:
    return OpenSearch(hosts=[node.url for node in cluster.alive_nodes()])


def shard_copies(cluster: FailoverCluster, index: str) -> list[dict[str, Any]]:
    client = admin(cluster)
    try:
        rows: list[dict[str, Any]] = client.cat.shards(index=index, format="json")
        return rows
    finally:
        client.close()


def live_index(backend: OpenSearchBackend) -> str:
    (name,) = backend._client.indices.get_alias(name=backend.alias)
    return str(name)


def victim(cluster: FailoverCluster, backend: OpenSearchBackend, *, manager: bool) -> int:
    """Index of the node to kill: the elected cluster manager (`manager`), or a node holding a
    primary of the live index, one that is not the manager when there is such a node. Every node
    holds a copy of some shard (four copies over three nodes)."""
    client = admin(cluster)
    try:
        elected = client.cat.cluster_manager(format="json")[0]["node"]
    finally:
        client.close()
    copies = shard_copies(cluster, live_index(backend))
    names = [node.name for node in cluster.nodes]
    if manager:
        assert elected in {row["node"] for row in copies}
        return names.index(elected)
    primaries = sorted({row["node"] for row in copies if row["prirep"] == "p"}, key=lambda n: n == elected)
    return names.index(primaries[0])


class Searches:
    """Searches in a background thread until stopped (at most `limit` seconds), recording the
    total of each answer and every error."""

    def __init__(self, run: Callable[[], SearchResult], limit: float = 180.0) -> None:
        self.run = run
        self.totals: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                self.totals.append(self.run().total)
            except Exception as error:  # recorded, asserted on by the test
                self.errors.append(error)

    def __enter__(self) -> Searches:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Until `count` more searches have answered (or failed)."""
        target = len(self.totals) + len(self.errors) + count
        deadline = time.monotonic() + timeout
        while len(self.totals) + len(self.errors) < target and time.monotonic() < deadline:
            time.sleep(0.05)


# -- layout ---------------------------------------------------------------------------------------------


def test_index_spreads_two_primaries_and_their_replicas_over_three_nodes(
    healthy: FailoverCluster, backend: OpenSearchBackend
) -> None:
    backend.rebuild(to_document(c) for c in courses(200))
    healthy.wait_for(NODES, status="green")
    copies = shard_copies(healthy, live_index(backend))
    layout = sorted((row["shard"], row["prirep"]) for row in copies)
    assert layout == [("0", "p"), ("0", "r"), ("1", "p"), ("1", "r")]
    assert all(row["state"] == "STARTED" for row in copies)
    for shard in ("0", "1"):  # a primary and its replica never share a node
        assert len({row["node"] for row in copies if row["shard"] == shard}) == 2
    assert {row["node"] for row in copies} == {node.name for node in healthy.nodes}
    assert backend.count() == 200


# -- a node dies ----------------------------------------------------------------------------------------


def test_searches_keep_answering_when_a_node_dies(
    healthy: FailoverCluster, backend: OpenSearchBackend
) -> None:
    # The victim is the elected cluster manager and holds shard copies: a new manager is
    # elected, and the surviving copies answer, while the searches go on.
    backend.rebuild(to_document(c) for c in courses(400))
    healthy.wait_for(NODES, status="green")
    expected = backend.search(q()).total
    python = backend.search(q("python")).total
    assert expected == 400 and python == 50
    dead = victim(healthy, backend, manager=True)
    queries = itertools.cycle([q(), q("python")])
    with Searches(lambda: backend.search(next(queries))) as searches:
        searches.wait_for(20)
        healthy.kill(dead)
        health = healthy.wait_for(NODES - 1, status="yellow")
        searches.wait_for(50)
    assert not searches.errors, searches.errors[:3]
    assert len(searches.totals) >= 70
    assert set(searches.totals) <= {expected, python}  # never a partial answer
    assert health["status"] in ("yellow", "green") and health["number_of_nodes"] == NODES - 1
    assert backend.count() == 400


def test_indexing_retries_through_a_node_death_and_loses_nothing(
    healthy: FailoverCluster, backend: OpenSearchBackend
) -> None:
    # A harvest's indexing: the store's changes flow through IndexSync in batches.
    backend.rebuild(to_document(c) for c in courses(100, "seed"))
    healthy.wait_for(NODES, status="green")
    dead = victim(healthy, backend, manager=False)
    batches = [courses(50, f"b{n}-") for n in range(24)]
    sink = IndexSync(backend)
    done: list[int] = []
    errors: list[BaseException] = []

    def harvest() -> None:
        for number, batch in enumerate(batches):
            try:
                sink.apply(batch)
            except Exception as error:  # recorded, asserted on below
                errors.append(error)
            done.append(number)

    writer = threading.Thread(target=harvest, daemon=True)
    writer.start()
    while len(done) < 6 and writer.is_alive():
        time.sleep(0.05)
    healthy.kill(dead)
    writer.join(300)
    assert not writer.is_alive()
    assert not errors, errors[:3]
    healthy.wait_for(NODES - 1, status="yellow")
    inventory = backend.inventory()
    wanted = {c.id for batch in batches for c in batch} | {c.id for c in courses(100, "seed")}
    assert set(inventory) == wanted  # every document of every batch, nothing else
    assert backend.search(q(page_size=1)).total == len(wanted)


# -- reindex, cursors, back-pressure --------------------------------------------------------------------


def test_reindex_swaps_the_alias_under_searches_and_removes_the_old_index(
    healthy: FailoverCluster, backend: OpenSearchBackend
) -> None:
    docs = [to_document(c) for c in courses(300)]
    backend.rebuild(iter(docs))
    first = live_index(backend)
    with Searches(lambda: backend.search(q())) as searches:
        for _ in range(3):
            searches.wait_for(5)
            assert backend.rebuild(iter(docs)) == 300
        searches.wait_for(5)
    assert not searches.errors, searches.errors[:3]
    assert searches.totals and set(searches.totals) == {300}
    client = admin(healthy)
    try:
        names = set(client.indices.get(index=f"{backend.alias}-*", expand_wildcards="all"))
        assert names == {live_index(backend)} and first not in names  # the old ones are gone
        assert not client.indices.exists_alias(name=backend.building_alias)
    finally:
        client.close()


@pytest.mark.parametrize("sort", ["start_date", "title", "price", "ects"])
def test_cursor_is_stable_across_a_refresh(backend: OpenSearchBackend, sort: str) -> None:
    original = courses(60)
    backend.rebuild(to_document(c) for c in original)
    everything = [h.id for h in backend.search(q(sort=sort, page_size=100)).hits]
    seen: list[str] = []
    result = backend.search(q(sort=sort, page_size=7))
    round_ = 0
    while True:
        seen += [h.id for h in result.hits]
        if result.next_cursor is None:
            break
        # Between pages: new courses everywhere in the order (upsert refreshes both shards).
        round_ += 1
        backend.upsert(to_document(c) for c in courses(3, f"r{round_}-"))
        result = backend.search(q(sort=sort, page_size=7, cursor=result.next_cursor))
    assert len(seen) == len(set(seen))  # nothing twice
    assert [i for i in seen if i in set(everything)] == everything  # the original order, nothing skipped


def test_bulk_back_pressure_is_retried_until_everything_is_written(
    healthy: FailoverCluster, backend: OpenSearchBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.rebuild([])
    writers = 6
    errors: list[BaseException] = []
    written: list[str] = []
    lock = threading.Lock()

    def write(worker: int, round_: int) -> None:
        batch = courses(150, f"w{round_}-{worker}-")
        try:
            backend.upsert(to_document(c) for c in batch)
        except Exception as error:  # recorded, asserted on below
            errors.append(error)
        else:
            with lock:
                written.extend(c.id for c in batch)

    # Concurrent bulks against one write thread and a queue of two per node: rejections are all
    # but certain in the first round; a few more rounds only if the machine happened to be idle.
    for round_ in range(5):
        threads = [threading.Thread(target=write, args=(w, round_)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        if backend.retried:
            break
    assert not errors, errors[:3]
    assert backend.retried > 0, "no bulk request met back-pressure"
    assert "429" in caplog.text
    assert set(backend.inventory()) == set(written)
