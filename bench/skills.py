"""Precision of inferred ESCO skill links on the relevance catalogue (6,585 real courses), by hand.

    .venv/bin/python -m bench.skills sample      # write bench/out/skills/pairs.tsv to judge (seeded)
    .venv/bin/python -m bench.skills precision   # precision per confidence band from the judgements
    .venv/bin/python -m bench.skills cost        # CPU per record of linking, taxonomy load time

The judgements (`bench/skills_judgements.tsv`: course id, skill URI, verdict y/n, one-line reason)
were made by reading the course text and the skill's ESCO definition, never from the linker's
score. `precision` recomputes every link with the current linker, so a changed linker is measured
on the pairs that were judged (a pair the linker no longer makes is reported as dropped; pairs it
now makes but nobody judged are not counted). The full taxonomy is needed (`make install`).
"""

from __future__ import annotations

import csv
import random
import resource
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.relevance.catalogue import load as load_catalogue
from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.linking import (
    PUBLISH_THRESHOLD,
    CourseText,
    SkillLink,
    label_index,
    link,
    published,
)

HERE = Path(__file__).parent
OUT = HERE / "out" / "skills"
JUDGEMENTS = HERE / "skills_judgements.tsv"
BANDS: Sequence[tuple[float, float]] = ((0.0, 0.4), (0.4, 0.55), (0.55, 0.65), (0.65, 0.75), (0.75, 1.01))
"""Confidence bands [low, high) the sample is drawn from and precision is reported for."""
PER_BAND = 44
SEED = 20
FIELDS = ("course", "uri", "confidence", "verdict", "reason", "label", "sentence", "title")


def course_text(document: Mapping[str, Any]) -> CourseText:
    """The linker's input from a search document of the catalogue (its texts are untagged)."""

    def tagged(field: str) -> list[dict[str, str]]:
        text = str(document.get(field) or "")
        return [{"und": text}] if text else []

    return CourseText(
        tagged("title"), list(document.get("keywords") or []), tagged("outcomes"), tagged("description")
    )


def all_links(documents: Iterable[Mapping[str, Any]]) -> dict[str, list[SkillLink]]:
    taxonomy = skill_taxonomy.require()
    return {doc["id"]: link(course_text(doc), taxonomy) for doc in documents}


def band(confidence: float) -> tuple[float, float]:
    return next(b for b in BANDS if b[0] <= confidence < b[1])


def _write_pairs(name: str, chosen: list[tuple[str, Any]], titles: dict[str, str]) -> Path:
    """Write drawn (course id, link) pairs to OUT/`name` for judging: verdict and reason left blank."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(FIELDS)
        for cid, item in chosen:
            writer.writerow([cid, item.uri, item.confidence, "", "", item.label, item.sentence, titles[cid]])
    return path


def sample() -> Path:
    documents = load_catalogue()
    titles = {doc["id"]: str(doc.get("title") or "") for doc in documents}
    pairs = [(cid, item) for cid, links in all_links(documents).items() for item in links if not item.stated]
    rng = random.Random(SEED)
    chosen: list[tuple[str, SkillLink]] = []
    for low_high in BANDS:
        in_band = [pair for pair in pairs if band(pair[1].confidence) == low_high]
        chosen += rng.sample(in_band, min(PER_BAND, len(in_band)))
    path = _write_pairs("pairs.tsv", chosen, titles)
    print(f"{len(chosen)} pairs -> {path}")
    return path


def read_judgements(path: Path = JUDGEMENTS) -> dict[tuple[str, str], bool]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    verdicts = {}
    for row in rows:
        if row["verdict"] not in ("y", "n"):
            raise ValueError(f"verdict of {row['course']} {row['uri']} is {row['verdict']!r}, not y or n")
        verdicts[(row["course"], row["uri"])] = row["verdict"] == "y"
    return verdicts


def precision() -> None:
    verdicts = read_judgements()
    links = all_links(load_catalogue())
    current = {(cid, item.uri): item.confidence for cid, items in links.items() for item in items}
    dropped = [pair for pair in verdicts if pair not in current]
    scored = [(current[pair], right) for pair, right in verdicts.items() if pair in current]
    print(f"{len(verdicts)} judged pairs; {len(dropped)} no longer made by the linker")
    print(f"{'band':>12} {'pairs':>6} {'right':>6} {'precision':>9}")
    for low, high in BANDS:
        in_band = [right for conf, right in scored if low <= conf < high]
        if in_band:
            right = sum(in_band)
            print(f"{low:5.2f}-{min(high, 1):4.2f} {len(in_band):6d} {right:6d} {right / len(in_band):9.2f}")
    population = list(current.values())
    print("estimated precision of what a threshold publishes: band precision weighted by the")
    print("number of links the linker makes in each band over the whole catalogue")
    print(f"{'threshold':>12} {'links':>7} {'est. precision':>14}")
    for threshold in [low for low, _ in BANDS[1:]]:
        weighted = links_above = 0.0
        for low, high in BANDS:
            if low < threshold:
                continue
            judged = [right for conf, right in scored if low <= conf < high]
            made = sum(1 for conf in population if low <= conf < high)
            if judged:
                weighted += made * sum(judged) / len(judged)
                links_above += made
        mark = "  <- PUBLISH_THRESHOLD" if threshold == PUBLISH_THRESHOLD else ""
        if links_above:
            print(f"{threshold:12.2f} {int(links_above):7d} {weighted / links_above:14.2f}{mark}")
    published = sum(1 for conf in current.values() if conf >= PUBLISH_THRESHOLD)
    courses = sum(1 for items in links.values() if any(i.confidence >= PUBLISH_THRESHOLD for i in items))
    print(f"published at {PUBLISH_THRESHOLD}: {published} links on {courses} of {len(links)} courses")


def cost() -> None:
    """CPU time of the taxonomy load (cache read, label index) and of linking, per record."""
    start = time.process_time()
    taxonomy = skill_taxonomy.load()
    loaded = time.process_time()
    label_index(taxonomy)
    indexed = time.process_time()
    documents = load_catalogue()
    begin = time.process_time()
    for doc in documents:
        link(course_text(doc), taxonomy)
    done = time.process_time()
    documents_cost = _document_cost(taxonomy)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"taxonomy: {len(taxonomy)} skills, load {loaded - start:.3f} s CPU, ", end="")
    print(f"label index {indexed - loaded:.3f} s CPU")
    print(f"linking: {len(documents)} records, {(done - begin) / len(documents) * 1e3:.3f} ms CPU per record")
    if documents_cost is not None:
        on, off, count = documents_cost
        print(f"to_document: {count} stored courses, {on * 1e3:.3f} ms CPU per course with skills, ", end="")
        print(f"{off * 1e3:.3f} ms without (skills off): +{(on - off) * 1e3:.3f} ms per course")
    print(f"peak RSS {peak:.0f} MB (process, catalogue loaded)")


def _document_cost(taxonomy: skill_taxonomy.Taxonomy) -> tuple[float, float, int] | None:
    """CPU per course of `search.documents.to_document` with skills on and off (best of 3 each),
    over the relevance catalogue's store (what a reindex pays per course for linking)."""
    from bench.relevance.catalogue import OUT as CATALOGUE_OUT
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.search.documents import to_document

    database = CATALOGUE_OUT / "catalogue.db"
    if not database.exists():
        return None
    store = CatalogueStore(f"sqlite:///{database}")
    try:
        courses = list(store.iter_courses())
    finally:
        store.close()

    def per_course(active: skill_taxonomy.Taxonomy | None) -> float:
        best = float("inf")
        with skill_taxonomy.use(active):
            for _ in range(3):
                start = time.process_time()
                for stored in courses:
                    to_document(stored)
                best = min(best, time.process_time() - start)
        return best / len(courses)

    return per_course(taxonomy), per_course(None), len(courses)


FACET_COPIES = 30
"""The relevance catalogue is indexed this many times (ids suffixed) for `facet`: ~200k courses with
the real distribution of skills (thousands of distinct URIs), to see what counting them costs."""


def facet() -> None:
    """CPU per search (p50/p90 of 60) counting the skill facet alone, the provider facet alone (the
    other open-ended facet, counted on integer hashes) and the country facet alone, over copies of
    the relevance catalogue with their skill links."""
    import statistics
    import tempfile

    from course_catalogue.search.query import Query
    from course_catalogue.search.tantivy.backend import EmbeddedBackend

    taxonomy = skill_taxonomy.require()
    documents = load_catalogue()
    for doc in documents:  # the catalogue's documents were written before skills: link them now
        links = [item for item in link(course_text(doc), taxonomy) if item.confidence >= PUBLISH_THRESHOLD][
            :12
        ]
        doc["skills"] = [item.uri for item in links]
        doc["skill_links"] = [item.as_dict() for item in links]
    copies = ({**doc, "id": f"{doc['id']}-{n}"} for n in range(FACET_COPIES) for doc in documents)
    with tempfile.TemporaryDirectory() as directory:
        backend = EmbeddedBackend(Path(directory) / "index")
        count = backend.rebuild(copies)
        distinct = len({uri for doc in documents for uri in doc["skills"]})
        print(f"{count} courses indexed, {distinct} distinct published skills")
        for words in ("", "management", "data analysis"):
            for name in ("skill", "provider", "country"):
                times = []
                for attempt in range(65):
                    query = Query.create(text=words, include_past=True, facets=(name,))
                    start = time.process_time()
                    backend.search(query)
                    if attempt >= 5:
                        times.append(time.process_time() - start)
                times.sort()
                p50, p90 = statistics.median(times) * 1e3, times[int(len(times) * 0.9)] * 1e3
                print(f"q={words!r:16} facet {name:9} CPU p50 {p50:6.2f} ms  p90 {p90:6.2f} ms")
        backend.close()


SEMANTIC_JUDGEMENTS = HERE / "skills_semantic_judgements.tsv"
SEMANTIC_BANDS: Sequence[tuple[float, float]] = (
    (0.45, 0.55),
    (0.55, 0.6),
    (0.6, 0.65),
    (0.65, 0.7),
    (0.7, 1.01),
)
SEMANTIC_PER_BAND = 12


def tagged_text(document: Mapping[str, Any]) -> CourseText:
    """The linker's input with the language tags the document's per-language fields carry
    (`title_es`, ...; `*_other` is untagged): what the embedding method needs."""

    def texts(kind: str) -> list[dict[str, str]]:
        out = []
        for key, value in document.items():
            if key.startswith(kind + "_") and value:
                lang = key.removeprefix(kind + "_")
                out.append({"und" if lang == "other" else lang: str(value)})
        return out

    return CourseText(
        texts("title"), list(document.get("keywords") or []), texts("outcomes"), texts("description")
    )


def semantic_links() -> tuple[list[dict[str, Any]], dict[str, list[SkillLink]]]:
    from course_catalogue.search.semantic import embedder
    from course_catalogue.skills import semantic

    taxonomy = skill_taxonomy.require()
    linker = semantic.build(taxonomy, "use", embedder)
    documents = load_catalogue()
    found: dict[str, list[SkillLink]] = {}
    for doc in documents:
        text = tagged_text(doc)
        if any(
            semantic.foreign(tag)
            for kind in (text.title, text.outcomes, text.description)
            for t in kind
            for tag in t
        ):
            found[doc["id"]] = [item for item in link(text, taxonomy, linker) if item.method == "embedding"]
    return documents, found


def semantic_sample() -> None:
    documents, found = semantic_links()
    titles = {doc["id"]: str(doc.get("title") or "") for doc in documents}
    pairs = [(cid, item) for cid, items in found.items() for item in items]
    print(f"{len(found)} courses with non-English text, {len(pairs)} embedding links")
    rng = random.Random(SEED)
    chosen = []
    for low, high in SEMANTIC_BANDS:
        in_band = [pair for pair in pairs if low <= pair[1].confidence < high]
        chosen += rng.sample(in_band, min(SEMANTIC_PER_BAND, len(in_band)))
    path = _write_pairs("semantic_pairs.tsv", chosen, titles)
    print(f"{len(chosen)} pairs -> {path}")


def semantic_precision() -> None:
    from course_catalogue.skills.semantic import PUBLISH_THRESHOLD as SEMANTIC_THRESHOLD

    verdicts = read_judgements(SEMANTIC_JUDGEMENTS)
    _, found = semantic_links()
    current = {(cid, item.uri): item.confidence for cid, items in found.items() for item in items}
    scored = [(current[pair], right) for pair, right in verdicts.items() if pair in current]
    print(f"{len(verdicts)} judged pairs; {len(verdicts) - len(scored)} no longer made")
    for low, high in SEMANTIC_BANDS:
        in_band = [right for conf, right in scored if low <= conf < high]
        if in_band:
            right = sum(in_band)
            share = right / len(in_band)
            print(f"{low:5.2f}-{min(high, 1):4.2f} {len(in_band):4d} judged {right:4d} right {share:5.2f}")
    population = list(current.values())
    for threshold in [low for low, _ in SEMANTIC_BANDS]:
        weighted = made_above = 0.0
        for low, high in SEMANTIC_BANDS:
            judged = [right for conf, right in scored if low <= conf < high]
            made = sum(1 for conf in population if low <= conf < high)
            if low >= threshold and judged:
                weighted += made * sum(judged) / len(judged)
                made_above += made
        mark = "  <- PUBLISH_THRESHOLD" if threshold == SEMANTIC_THRESHOLD else ""
        if made_above:
            estimate = weighted / made_above
            print(f"at >= {threshold:4.2f}: {int(made_above)} links, est. precision {estimate:.2f}{mark}")


FRESH_JUDGEMENTS = HERE / "skills_fresh_judgements.tsv"
FRESH_SEED = 2026
FRESH_PAIRS = 100


def fresh_sample() -> None:
    """A simple random sample of the label links the final linker PUBLISHES (not stratified, none
    of the pairs judged before): its precision estimates the published links' precision directly,
    on pairs that played no part in choosing the threshold."""
    documents = load_catalogue()
    titles = {doc["id"]: str(doc.get("title") or "") for doc in documents}
    judged = set(read_judgements())
    pairs = [
        (cid, item)
        for cid, items in all_links(documents).items()
        for item in published(items)
        if not item.stated and (cid, item.uri) not in judged
    ]
    chosen = random.Random(FRESH_SEED).sample(pairs, FRESH_PAIRS)
    path = _write_pairs("fresh_pairs.tsv", chosen, titles)
    print(f"{len(pairs)} published label links not judged before; {len(chosen)} drawn -> {path}")


def fresh_precision() -> None:
    verdicts = read_judgements(FRESH_JUDGEMENTS)
    links = all_links(load_catalogue())
    shown = {(cid, item.uri) for cid, items in links.items() for item in published(items)}
    kept = [right for pair, right in verdicts.items() if pair in shown]
    share = sum(kept) / len(kept)
    half = 1.96 * (share * (1 - share) / len(kept)) ** 0.5
    print(f"{len(verdicts)} judged; {len(kept)} still published; right {sum(kept)}: ", end="")
    print(f"precision {share:.2f} (95% +-{half:.2f})")


COMMANDS = {
    "fresh-sample": fresh_sample,
    "fresh-precision": fresh_precision,
    "sample": sample,
    "precision": precision,
    "cost": cost,
    "facet": facet,
    "semantic-sample": semantic_sample,
    "semantic-precision": semantic_precision,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m bench.skills {{{','.join(COMMANDS)}}}")
    COMMANDS[sys.argv[1]]()
