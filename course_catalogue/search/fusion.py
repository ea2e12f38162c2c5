"""Fusing a keyword ranking and a vector ranking into one (hybrid retrieval).

Two methods, both measured in RELEVANCE.md:

* reciprocal-rank fusion (`rrf`): score = sum over the lists of 1 / (k + rank); uses ranks only,
  so the two score scales never meet. k = 60 as in Cormack et al. (2009).
* a linear blend (`blend`): score = w * keyword + (1 - w) * vector, where the keyword score
  (BM25, unbounded) is divided by the best keyword score of the query and the cosine similarity
  is rescaled from [floor, best] to [0, 1], so that both lie in [0, 1] per query. A document
  missing from one list gets 0 from it. `w` was tuned on half of the relevance needs and checked
  on the other half (RELEVANCE.md).

Inputs are (id, score) lists in rank order, best first; output is (id, fused score) best first,
ties broken by id so that the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60
BLEND_KEYWORD_WEIGHT = 0.3
"""The keyword share of the linear blend (tuned: RELEVANCE.md)."""
METHODS = ("rrf", "blend")
MAX_DEPTH = 1_000
"""How deep a fused ranking goes, on either engine (numbered pages and cursors alike): fusing
deeper means reading ever more keyword hits and neighbours per page. A page starting past it is
a QueryError that says so."""


def rrf(
    keyword: Sequence[tuple[K, float]], vector: Sequence[tuple[K, float]], k: int = RRF_K
) -> list[tuple[K, float]]:
    """Reciprocal-rank fusion of the two rankings."""
    scores: dict[K, float] = {}
    for ranking in (keyword, vector):
        for rank, (key, _score) in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return _ordered(scores)


def blend(
    keyword: Sequence[tuple[K, float]],
    vector: Sequence[tuple[K, float]],
    weight: float = BLEND_KEYWORD_WEIGHT,
) -> list[tuple[K, float]]:
    """Linear blend of per-query normalised keyword and vector scores (see the module doc)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError("the keyword weight must lie in [0, 1]")
    scores: dict[K, float] = {}
    best_keyword = max((score for _, score in keyword), default=0.0)
    if best_keyword > 0:
        for key, score in keyword:
            scores[key] = weight * max(score, 0.0) / best_keyword
    if vector:
        sims = [score for _, score in vector]
        top, floor = max(sims), min(sims)
        span = top - floor
        for key, score in vector:
            unit = (score - floor) / span if span > 0 else 1.0
            scores[key] = scores.get(key, 0.0) + (1.0 - weight) * unit
    return _ordered(scores)


def fuse(
    method: str, keyword: Sequence[tuple[K, float]], vector: Sequence[tuple[K, float]]
) -> list[tuple[K, float]]:
    """`rrf` or `blend` (with its tuned weight) by name; ValueError for another name."""
    if method == "rrf":
        return rrf(keyword, vector)
    if method == "blend":
        return blend(keyword, vector)
    raise ValueError(f"unknown fusion method {method!r}; use one of {', '.join(METHODS)}")


def _ordered(scores: dict[K, float]) -> list[tuple[K, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))
