"""The approximate-nearest-neighbour index of course vectors kept beside the embedded search index.

One HNSW graph (usearch, cosine metric, vectors stored as f16: half the size of f32 for no
measurable loss of ranking on normalised vectors) per index directory, in
`<index_dir>/vectors/<model>/`:

* `graph.usearch` -- the usearch index, keys are 63-bit labels of course ids (`label`);
* `ids.json` -- label -> course id, to turn neighbours back into ids;
* `meta.json` -- the embedding model and dimension the graph was built with.

Writes are incremental like the keyword index's: `upsert` removes the documents' old vectors and
adds the new ones, `delete` removes, `rebuild` writes a fresh graph. Each write saves to temporary
files and renames them into place, so a reader in another process sees the old graph or the new
one; readers reload when the graph file changes (`_stamp`). Writers are serialised by the caller
(the embedded backend holds its write lock around both indexes).

A graph built with another model (or none yet while the keyword index has documents) is
`stale`: the hybrid backend then rebuilds it from the keyword index's stored documents.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from usearch.index import Index

from course_catalogue.search.backend import Document
from course_catalogue.search.errors import IndexingError
from course_catalogue.search.semantic import Embedder, passage_text
from course_catalogue.search.tantivy.index import id_hash

BATCH = 256
"""Documents embedded per call: big enough to amortise the model's per-call cost, small enough to
keep memory flat during a rebuild of a million courses."""
CONNECTIVITY = 16
EXPANSION_SEARCH = 256
"""HNSW search breadth: 96 found 94 % of the exact 100 nearest on the relevance catalogue, 256
finds 98.5 % (`bench.relevance`); BENCHMARKS.md has the latency with it."""


def label(course_id: str) -> int:
    """The graph key of a course id: the index's own `id_hash` (ID_HASH), so that a neighbour is
    found in the index by a term-set query and mapped back by its fast column."""
    return id_hash(course_id)


class VectorIndex:
    """Course vectors of one model in an HNSW graph, with the ids to map neighbours back."""

    def __init__(self, root: Path, model: Embedder) -> None:
        self._dir = root / "vectors" / model.name
        self._model = model
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._ids: dict[int, str] = {}
        self._stamp: tuple[int, int] | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def model(self) -> Embedder:
        return self._model

    def count(self) -> int:
        index, _ = self._current()
        return len(index)

    def stale(self, documents_in_keyword_index: int) -> bool:
        """True when the graph does not match the model or misses the keyword index's documents."""
        meta = self._dir / "meta.json"
        if not meta.exists():
            return documents_in_keyword_index > 0
        stored = json.loads(meta.read_text(encoding="utf-8"))
        if stored.get("model") != self._model.name or stored.get("dim") != self._model.dim:
            return True
        return self.count() != documents_in_keyword_index

    # -- writes ------------------------------------------------------------------------------

    def upsert(self, documents: Iterable[Document]) -> int:
        """Embed and add `documents`, replacing the vectors they had; returns how many."""
        index, ids = self._current(copy=True)
        count = 0
        for batch in _batches(documents):
            labels = np.array([label(str(doc["id"])) for doc in batch], dtype=np.uint64)
            present = [key for key in labels if int(key) in ids]
            if present:
                index.remove(np.array(present, dtype=np.uint64))
            index.add(labels, self._model.passages([passage_text(doc) for doc in batch]))
            ids.update((int(key), str(doc["id"])) for key, doc in zip(labels, batch, strict=True))
            count += len(batch)
        self._save(index, ids)
        return count

    def delete(self, course_ids: Sequence[str]) -> None:
        index, ids = self._current(copy=True)
        keys = [label(course_id) for course_id in course_ids]
        present = [key for key in keys if key in ids]
        if not present:
            return
        index.remove(np.array(present, dtype=np.uint64))
        for key in present:
            ids.pop(key, None)
        self._save(index, ids)

    def rebuild(self, documents: Iterable[Document]) -> int:
        """Replace the graph with the vectors of `documents`."""
        index = self._new()
        ids: dict[int, str] = {}
        for batch in _batches(documents):
            labels = np.array([label(str(doc["id"])) for doc in batch], dtype=np.uint64)
            index.add(labels, self._model.passages([passage_text(doc) for doc in batch]))
            ids.update((int(key), str(doc["id"])) for key, doc in zip(labels, batch, strict=True))
        self._save(index, ids)
        return len(ids)

    def add_vectors(self, course_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors computed elsewhere (a benchmark reusing embeddings); same contract as upsert."""
        index, ids = self._current(copy=True)
        labels = np.array([label(course_id) for course_id in course_ids], dtype=np.uint64)
        present = [key for key in labels if int(key) in ids]
        if present:
            index.remove(np.array(present, dtype=np.uint64))
        index.add(labels, np.asarray(vectors, dtype=np.float32))
        ids.update((int(key), course_id) for key, course_id in zip(labels, course_ids, strict=True))
        self._save(index, ids)

    # -- reads -------------------------------------------------------------------------------

    def nearest_keys(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """Up to `count` (graph key, cosine similarity) nearest to `vector`, best first."""
        keys, similarities = self.nearest(vector, count)
        return list(zip(keys.tolist(), similarities.tolist(), strict=True))

    def nearest(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """`nearest_keys` as arrays (keys int64, similarities float64), for callers that filter
        thousands of neighbours without making a Python object of each."""
        index, _ids = self._current()
        if len(index) == 0 or count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        matches = index.search(vector, min(count, len(index)))
        keys = np.asarray(matches.keys, dtype=np.int64)  # labels are 63-bit: they fit
        return keys, 1.0 - np.asarray(matches.distances, dtype=np.float64)

    # -- files -------------------------------------------------------------------------------

    def _new(self) -> Index:
        return Index(
            ndim=self._model.dim,
            metric="cos",
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_search=EXPANSION_SEARCH,
        )

    def _current(self, *, copy: bool = False) -> tuple[Index, dict[int, str]]:
        """The graph and ids as on disk (reloaded when the file changed); a private copy to write."""
        graph = self._dir / "graph.usearch"
        with self._lock:
            stamp = _stamp(graph)
            if self._index is None or stamp != self._stamp:
                index = self._new()
                ids: dict[int, str] = {}
                if stamp is not None:
                    try:
                        index.load(str(graph))
                        raw = json.loads((self._dir / "ids.json").read_text(encoding="utf-8"))
                    except (OSError, ValueError, RuntimeError) as error:
                        raise IndexingError(
                            f"cannot read the vector index at {self._dir}: {error}"
                        ) from error
                    ids = {int(key): value for key, value in raw.items()}
                self._index, self._ids, self._stamp = index, ids, stamp
            if not copy:
                return self._index, self._ids
            return self._index.copy(), dict(self._ids)

    def _save(self, index: Index, ids: dict[int, str]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            for name, write in (
                ("ids.json", lambda path: path.write_text(json.dumps(ids), encoding="utf-8")),
                ("meta.json", lambda path: path.write_text(json.dumps(self._meta()), encoding="utf-8")),
                ("graph.usearch", lambda path: index.save(str(path))),
            ):
                temporary = self._dir / f".{name}.tmp"
                write(temporary)
                os.replace(temporary, self._dir / name)  # the graph last: readers reload on it
        except (OSError, RuntimeError) as error:
            raise IndexingError(f"cannot write the vector index at {self._dir}: {error}") from error
        with self._lock:
            self._index, self._ids, self._stamp = index, ids, _stamp(self._dir / "graph.usearch")

    def _meta(self) -> dict[str, Any]:
        return {"model": self._model.name, "dim": self._model.dim}


def _batches(documents: Iterable[Document]) -> Iterable[list[Document]]:
    batch: list[Document] = []
    for doc in documents:
        batch.append(doc)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_size
