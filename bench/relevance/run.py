"""The relevance test set: run every system over the fixed catalogue and score it.

Systems (each returns up to 50 course ids per query):

* `keyword` -- the embedded tantivy engine as users get it (`EmbeddedBackend.search`, past and
  withdrawn-free catalogue, no filters);
* `vector-<model>` -- exact cosine nearest neighbours of the query vector (no ANN error), those
  at least the model's `min_similarity`, as hybrid search keeps them;
* `rrf-<model>`, `blend-<model>` -- the keyword top 100 fused with the vector top 100
  (`search.fusion`);
* `engine-hybrid-use` -- `retrieval=hybrid` as the service answers it (`HybridBackend`: the HNSW
  graph instead of exact neighbours, RRF), to check that the served mode scores what `rrf-use` does.

Judgements (`judgements.tsv`) are per information need, not per query: the queries of one need
(its translations and paraphrases) ask for the same courses, so a course judged for the need is
judged for all of them. Grades: 2 = the course is about the need, 1 = it covers the need in part
or as a clear component, 0 = not about it. Unjudged documents count as 0 (and `report` prints how
many of each system's top 20 were judged).

    .venv/bin/python -m bench.relevance.run pool      # write unjudged pooled candidates to judge
    .venv/bin/python -m bench.relevance.run report    # nDCG@10, recall@50, zero-result rate
    .venv/bin/python -m bench.relevance.run tune      # the blend weight: chosen on odd needs, checked on even
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.relevance.catalogue import OUT, load
from bench.relevance.embed import vectors
from course_catalogue.search.fusion import blend, rrf
from course_catalogue.search.query import Query
from course_catalogue.search.semantic import embedder
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.hybrid import HybridBackend

HERE = Path(__file__).parent
QUERIES = HERE / "queries.tsv"
JUDGEMENTS = HERE / "judgements.tsv"
POOL = OUT / "pool"
DEPTH = 50
CANDIDATES = 100  # each list handed to fusion
POOL_DEPTH = 20
MODELS = ("use", "e5")

Ranking = list[tuple[str, float]]


@dataclass(frozen=True)
class TestQuery:
    id: str
    lang: str
    text: str
    need: str

    @property
    def need_id(self) -> str:
        return self.id[2:]

    @property
    def cross_language(self) -> bool:
        """The catalogue is English above 95 %: every non-English query is cross-language."""
        return self.lang != "en"


def load_queries() -> list[TestQuery]:
    rows = [
        line.split("\t")
        for line in QUERIES.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return [TestQuery(*row) for row in rows]


def load_judgements() -> dict[str, dict[str, int]]:
    """need id -> course id -> grade."""
    judged: dict[str, dict[str, int]] = defaultdict(dict)
    if JUDGEMENTS.exists():
        with JUDGEMENTS.open(encoding="utf-8") as rows:
            for row in csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row and not row[0].startswith("#"):
                    judged[row[0]][row[1]] = int(row[2])
    return judged


class Systems:
    """Runs each system over the catalogue; rankings are cached per (system, query)."""

    def __init__(self, models: Sequence[str] = MODELS) -> None:
        self.documents = load()
        self.ids = [doc["id"] for doc in self.documents]
        index = OUT / "index"
        self.backend = EmbeddedBackend(index)
        if self.backend.count() != len(self.documents):
            self.backend.rebuild(self.documents)
        self.vectors = {model: vectors(model) for model in models}
        self.models = models
        # The served path: HybridBackend over the same catalogue, its graph filled with the
        # cached vectors (the same model, the same texts).
        self.engine: HybridBackend | None = None
        if "use" in models:
            self.engine = HybridBackend(OUT / "hybrid-index", model="use")
            if self.engine.count() != len(self.documents) or self.engine.vectors.count() != len(
                self.documents
            ):
                EmbeddedBackend.rebuild(self.engine, self.documents)
                self.engine.vectors.rebuild(())
                self.engine.vectors.add_vectors(self.ids, self.vectors["use"])

    def keyword(self, text: str, depth: int = DEPTH) -> Ranking:
        query = Query.create(text, {}, page_size=min(depth, 100), include_past=True, facets=())
        result = self.backend.search(query)
        return [(hit.id, hit.score) for hit in result.hits]

    def vector(self, model: str, text: str, depth: int = DEPTH) -> Ranking:
        encoder = embedder(model)
        sims = self.vectors[model] @ encoder.query(text)
        top = np.argsort(-sims, kind="stable")[:depth]
        return [(self.ids[i], float(sims[i])) for i in top if sims[i] >= encoder.min_similarity]

    def rankings(self, text: str) -> dict[str, Ranking]:
        keyword = self.keyword(text, CANDIDATES)
        out = {"keyword": keyword[:DEPTH]}
        for model in self.models:
            vector = self.vector(model, text, CANDIDATES)
            out[f"vector-{model}"] = vector[:DEPTH]
            out[f"rrf-{model}"] = rrf(keyword, vector)[:DEPTH]
            out[f"blend-{model}"] = blend(keyword, vector)[:DEPTH]
        if self.engine is not None:
            query = Query.create(text, {}, page_size=DEPTH, include_past=True, facets=(), retrieval="hybrid")
            out["engine-hybrid-use"] = [(hit.id, hit.score) for hit in self.engine.search(query).hits]
        return out


def dcg(grades: Sequence[int]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg(ranking: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    ideal = dcg(sorted(judged.values(), reverse=True)[:k])
    return dcg([judged.get(doc, 0) for doc in ranking[:k]]) / ideal if ideal > 0 else 0.0


def recall(ranking: Sequence[str], judged: Mapping[str, int], k: int = 50) -> float:
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def pool(systems: Systems) -> None:
    """Write, per need, the pooled top POOL_DEPTH of every system that is not judged yet."""
    judged = load_judgements()
    by_doc = {doc["id"]: doc for doc in systems.documents}
    wanted: dict[str, dict[str, None]] = defaultdict(dict)
    needs: dict[str, str] = {}
    for query in load_queries():
        needs[query.need_id] = query.need
        for ranking in systems.rankings(query.text).values():
            for doc, _ in ranking[:POOL_DEPTH]:
                if doc not in judged[query.need_id]:
                    wanted[query.need_id][doc] = None
    POOL.mkdir(parents=True, exist_ok=True)
    total = 0
    for need_id, docs in sorted(wanted.items()):
        lines = [f"# need {need_id}: {needs[need_id]}"]
        for doc_id in docs:
            doc = by_doc[doc_id]
            text = " ".join(str(doc.get("description") or doc.get("outcomes") or "").split())[:160]
            keywords = ", ".join(doc.get("keywords") or [])[:100]
            title = " ".join(str(doc["title"]).split())  # a title may hold newlines (a broken CSV row)
            lines.append(f"{doc_id}\t{title}\t{keywords}\t{text}")
        (POOL / f"need{need_id}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        total += len(docs)
    print(f"{total} unjudged pooled candidates in {len(wanted)} needs under {POOL}")


def report(systems: Systems, out: Callable[[str], None] = print) -> None:
    judged = load_judgements()
    queries = load_queries()
    runs = {query.id: systems.rankings(query.text) for query in queries}
    names = list(next(iter(runs.values())))
    groups = {
        "all": queries,
        "cross-language": [q for q in queries if q.cross_language],
        "English": [q for q in queries if not q.cross_language],
    }
    out(
        f"{len(queries)} queries, {len({q.need_id for q in queries})} needs, languages "
        + ", ".join(sorted({q.lang for q in queries}))
        + f"; {len(systems.documents)} courses; "
        + f"{sum(len(v) for v in judged.values())} judgements"
    )
    out("")
    out("| system | group | queries | nDCG@10 | recall@50 | zero-result | top-20 judged |")
    out("|---|---|---|---|---|---|---|")
    for name in names:
        for group, members in groups.items():
            nd, rc, zero, cover = [], [], 0, []
            for q in members:
                ranking = [doc for doc, _ in runs[q.id][name]]
                grades = judged.get(q.need_id, {})
                nd.append(ndcg(ranking, grades))
                rc.append(recall(ranking, grades))
                zero += not ranking
                top = ranking[:20]
                cover.append(sum(doc in grades for doc in top) / len(top) if top else 1.0)
            out(
                f"| {name} | {group} | {len(members)} | {statistics.mean(nd):.3f} "
                f"| {statistics.mean(rc):.3f} | {zero / len(members):.1%} | {statistics.mean(cover):.1%} |"
            )


def tune(systems: Systems, out: Callable[[str], None] = print) -> None:
    """The keyword weight of the linear blend: nDCG@10 for each weight on the odd-numbered needs
    (where it is chosen) and on the even-numbered ones (where it is checked), per model."""
    judged = load_judgements()
    queries = load_queries()
    halves = {
        "odd needs": [q for q in queries if int(q.need_id) % 2],
        "even needs": [q for q in queries if not int(q.need_id) % 2],
    }
    weights = [round(0.1 * step, 1) for step in range(11)]
    out("| model | weight | " + " | ".join(f"nDCG@10 {name}" for name in halves) + " |")
    out("|---|---|" + "---|" * len(halves))
    for model in systems.models:
        lists = {
            q.id: (systems.keyword(q.text, CANDIDATES), systems.vector(model, q.text, CANDIDATES))
            for q in queries
        }
        for weight in weights:
            cells = []
            for members in halves.values():
                scores = [
                    ndcg([doc for doc, _ in blend(*lists[q.id], weight=weight)], judged.get(q.need_id, {}))
                    for q in members
                ]
                cells.append(f"{statistics.mean(scores):.3f}")
            out(f"| {model} | {weight} | " + " | ".join(cells) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("pool", "report", "tune"))
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    systems = Systems(tuple(m for m in args.models.split(",") if m))
    {"pool": pool, "report": report, "tune": tune}[args.action](systems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
