"""Skills inferred by meaning: sentences in any language against English ESCO labels (opt-in).

ESCO's labels in our data are English, so label matching (`linking`) finds nothing in a French,
Spanish or Polish sentence. The multilingual sentence encoder of hybrid search
(`search.semantic`, universal-sentence-encoder-multilingual) puts a sentence and a label of the
same meaning near each other whatever their languages. For each course text in a language other
than English (its language tag says so), the title and the first `MAX_SENTENCES` sentences of its
outcomes and description are embedded and compared with every preferred label; the nearest label
of a sentence is a candidate when the cosine is at least `FLOOR`, with the cosine as confidence
(method `embedding`). Links are published at `PUBLISH_THRESHOLD` (SKILLS.md: hand-checked pairs).

Off unless `CATALOGUE_SKILLS_SEMANTIC` names an embedding model (`use`): it costs a few ms of
CPU per non-English course at indexing (several sentences to embed), and the label vectors are
computed once (about 5 s CPU for 13,412 labels) and cached beside the taxonomy's cache.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_catalogue.skills.taxonomy import Taxonomy, cache_dir

FLOOR = 0.45
"""Cosine under which the nearest label of a sentence is not even a candidate."""
PUBLISH_THRESHOLD = 0.65
"""Embedding links below this cosine are not published (SKILLS.md, `python -m bench.skills
semantic-precision`)."""
MAX_SENTENCES = 6
ENGLISH = frozenset({"en"})
UNKNOWN = frozenset({"und", "zxx", ""})
log = logging.getLogger(__name__)


class SemanticLinker:
    """Nearest preferred labels of sentences, by cosine of multilingual sentence vectors.

    `embedder`: a `search.semantic.Embedder` (passages(texts) -> L2-normalised rows)."""

    def __init__(self, taxonomy: Taxonomy, embedder: object, vectors: np.ndarray | None = None) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.uris = list(taxonomy.skills)
        self.vectors = vectors if vectors is not None else self._embed_labels()

    def _embed_labels(self) -> np.ndarray:
        labels = [self.taxonomy.skills[uri].label for uri in self.uris]
        return np.asarray(self.embedder.passages(labels), dtype=np.float32)  # type: ignore[attr-defined]

    def nearest(self, sentences: Sequence[str]) -> Iterator[tuple[int, str, float]]:
        """(sentence index, skill URI, cosine) of each sentence's nearest label, at FLOOR or above."""
        if not sentences or not len(self.uris):
            return
        rows = np.asarray(self.embedder.passages(list(sentences)), dtype=np.float32)  # type: ignore[attr-defined]
        scores = rows @ self.vectors.T
        best = scores.argmax(axis=1)
        for i, j in enumerate(best):
            cosine = float(scores[i, j])
            if cosine >= FLOOR:
                yield i, self.uris[int(j)], cosine


def foreign(tag: str) -> bool:
    """Whether text tagged `tag` is in a known language other than English."""
    primary = tag.split("-", 1)[0].lower()
    return primary not in ENGLISH and primary not in UNKNOWN


def vectors_path(taxonomy: Taxonomy, model: str) -> Path:
    return cache_dir() / f"esco-label-vectors-{taxonomy.version}-{model}.npy".replace("/", "_")


Embedders = Callable[[str], Any]
"""Model name -> embedder (`search.semantic.embedder`: passed in, as the search layer owns the models)."""


def build(taxonomy: Taxonomy, model: str, embedders: Embedders) -> SemanticLinker:
    """The linker of `taxonomy` with the embedding model `model`, label vectors from the cache when
    it holds them (written after the first computation)."""
    model_ = embedders(model)
    path = vectors_path(taxonomy, model)
    try:
        vectors = np.load(path)
        if vectors.shape != (len(taxonomy), model_.dim):
            raise ValueError("stale vectors")
    except (OSError, ValueError):
        linker = SemanticLinker(taxonomy, model_)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, linker.vectors)
        except OSError as error:
            log.warning("cannot cache the ESCO label vectors at %s: %s", path, error)
        return linker
    return SemanticLinker(taxonomy, model_, vectors)


_lock = threading.Lock()
_current: dict[int, SemanticLinker | None] = {}


def model_name() -> str | None:
    """The model `CATALOGUE_SKILLS_SEMANTIC` names for links by meaning, or None (off)."""
    return os.environ.get("CATALOGUE_SKILLS_SEMANTIC", "").strip() or None


def current(taxonomy: Taxonomy | None, embedders: Embedders) -> SemanticLinker | None:
    """The process-wide semantic linker of `taxonomy`, when `CATALOGUE_SKILLS_SEMANTIC` names a
    model; None otherwise (or without a taxonomy)."""
    model = model_name()
    if not model or taxonomy is None:
        return None
    key = id(taxonomy)
    with _lock:
        linker = _current.get(key)
        if linker is None or linker.taxonomy is not taxonomy:
            linker = _current[key] = build(taxonomy, model, embedders)
    return linker
