"""OpenSearch beside the embedded engine in `bench.search_bench` (`--opensearch local|local:3|URL`).

`local` starts one node from tools/opensearch (search.opensearch.local, full JIT, no quick start)
in a temporary folder, `local:3` a 3-node cluster with an index of 2 primaries and 1 replica; a
URL uses an existing cluster (index prefix "bench", deleted afterwards). The bench corpus is
bulk-indexed into it with `OpenSearchBackend.rebuild`, which gives the bulk indexing figures:
documents per second of wall time (document generation excluded, timed apart), the client's CPU
and the nodes' JVM CPU (from /proc, local nodes only). The nodes are warmed up with queries of
every type before the measured run, as a long-running cluster would be.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.machine import percentiles
from course_catalogue.search.backend import Document
from course_catalogue.search.opensearch.backend import OpenSearchBackend
from course_catalogue.search.opensearch.local import LocalCluster
from course_catalogue.search.query import Query


@dataclass
class OpenSearchEngine:
    """A backend on a local or remote cluster, with what it took to fill it."""

    backend: OpenSearchBackend
    cluster: LocalCluster | None
    info: dict[str, Any] = field(default_factory=dict)

    def jvm_cpu_seconds(self) -> float | None:
        """CPU used so far by every local node's JVM (None on a remote cluster)."""
        if self.cluster is None:
            return None
        return round(sum(node.cpu_seconds() or 0.0 for node in self.cluster.nodes), 2)

    def memory_mb(self) -> dict[str, float | None] | None:
        return self.cluster.memory_mb() if self.cluster is not None else None

    def close(self) -> None:
        if self.cluster is None:
            names = list(self.backend._client.indices.get(index=f"{self.backend.alias}-*"))
            if names:
                self.backend._client.indices.delete(index=",".join(names))
        self.backend.close()
        if self.cluster is not None:
            self.cluster.close()


def open_engine(where: str, heap_mb: int) -> OpenSearchEngine:
    """Start (`local`, `local:N`) or connect to (a URL) the cluster to measure."""
    if where.startswith("local"):
        nodes = int(where.partition(":")[2] or 1)
        cluster = LocalCluster(nodes=nodes, heap_mb=heap_mb)
        cluster.start()
        shards, replicas = (2, 1) if nodes > 1 else (1, 0)
        backend = OpenSearchBackend(
            cluster.url, index_prefix="bench", shards=shards, replicas=replicas, timeout=120
        )
        info = {
            "where": f"{nodes} local node(s), {heap_mb} MB heap each",
            "version": cluster.version,
            "start_s": cluster.start_seconds,
            "start_jvm_cpu_s": round(sum(n.cpu_seconds() or 0.0 for n in cluster.nodes), 2),
            "rss_mb_after_start": cluster.memory_mb(),
            "shards": shards,
            "replicas": replicas,
        }
        return OpenSearchEngine(backend, cluster, info)
    backend = OpenSearchBackend(where, index_prefix="bench", timeout=120)
    return OpenSearchEngine(backend, None, {"where": "remote cluster", "shards": backend.shards})


def fill(engine: OpenSearchEngine, documents: Iterator[Document]) -> dict[str, Any]:
    """Bulk-index `documents` with `rebuild`; the bulk figures (generation timed apart)."""
    generate = generate_cpu = 0.0

    def timed() -> Iterator[Document]:
        nonlocal generate, generate_cpu
        while True:
            started, started_cpu = time.perf_counter(), time.process_time()
            doc = next(documents, None)
            generate += time.perf_counter() - started
            generate_cpu += time.process_time() - started_cpu
            if doc is None:
                return
            yield doc

    jvm_before = engine.jvm_cpu_seconds()
    cpu, wall = time.process_time(), time.perf_counter()
    count = engine.backend.rebuild(timed())
    wall = time.perf_counter() - wall - generate
    cpu = time.process_time() - cpu - generate_cpu
    jvm_after = engine.jvm_cpu_seconds()
    jvm = round(jvm_after - jvm_before, 1) if jvm_before is not None and jvm_after is not None else None
    report = {
        "documents": count,
        "bulk_wall_s": round(wall, 1),
        "docs_per_s": round(count / wall),
        "client_cpu_s": round(cpu, 1),
        "jvm_cpu_s": jvm,
        "docs_per_jvm_cpu_s": round(count / jvm) if jvm else None,
        "generate_s": round(generate, 1),
        "bulk_retries": engine.backend.retried,
        "rss_mb_after_indexing": engine.memory_mb(),
    }
    print(
        f"OpenSearch bulk: {count} documents in {wall:.1f} s ({report['docs_per_s']} docs/s wall), "
        f"client CPU {cpu:.1f} s, JVM CPU {jvm} s",
        file=sys.stderr,
    )
    return report


def warm_up(
    engine: OpenSearchEngine, makers: dict[str, Callable[[random.Random], Query]], count: int
) -> None:
    """`count` unmeasured queries of every type (other seeds than the measured ones)."""
    rng = random.Random("warm-up")
    samples = []
    for _ in range(count):
        for make in makers.values():
            started = time.perf_counter()
            engine.backend.search(make(rng))
            samples.append((time.perf_counter() - started) * 1000)
    print(f"OpenSearch warm-up: {len(samples)} queries, wall {percentiles(samples)}", file=sys.stderr)
