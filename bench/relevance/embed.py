"""Embed the relevance catalogue with one model, cached under bench/out/relevance/vectors-<model>.npy.

Reports throughput as process CPU time per course (the machine is shared; wall time varies).

    nice -n 10 .venv/bin/python -m bench.relevance.embed use
    nice -n 10 .venv/bin/python -m bench.relevance.embed e5
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bench.relevance.catalogue import OUT, load
from course_catalogue.search.semantic import Vectors, embedder, passage_text

BATCH = 64


def vectors(model: str) -> Vectors:
    """The catalogue's vectors under `model` (rows in catalogue order), computed once."""
    path = OUT / f"vectors-{model}.npy"
    documents = load()
    if path.exists():
        cached: Vectors = np.load(path)
        if cached.shape[0] == len(documents):
            return cached
    encoder = embedder(model)
    texts = [passage_text(doc) for doc in documents]
    cpu, wall = time.process_time(), time.perf_counter()
    parts = [encoder.passages(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = np.vstack(parts).astype(np.float32)
    np.save(path, result)
    chars = sum(len(t) for t in texts) / len(texts)
    print(
        f"{model}: {len(texts)} courses (mean {chars:.0f} chars) in {cpu:.1f} s CPU / {wall:.1f} s wall: "
        f"{len(texts) / cpu:.1f} courses per CPU second, dim {result.shape[1]}"
    )
    return result


if __name__ == "__main__":
    for name in sys.argv[1:] or ["use"]:
        vectors(name)
