"""The fixed relevance catalogue: every course of the bundled real public feeds, harvested once.

The catalogue is the union of the real-feed conformance corpus (`tests/fixtures/corpus/corpus.toml`:
edX 2020, Udemy 2017, Coursera 2023, XCRI-CAP Adam Smith College and Oxford, LHEO, OOAPI, CTDL, QDR
LOQ, ...). Each feed goes through the real pipeline (spec -> harvest -> store) into one SQLite
store under `bench/out/relevance/`, and each stored course becomes a search document with
`search.documents.to_document`, exactly as the indexer makes it. The feeds are committed
byte-for-byte, so the catalogue is the same on every machine; `catalogue_ids.txt` beside this
module pins its ids, and `load()` refuses a harvest that no longer gives the same set (a changed
mapping must then be re-judged, not silently measured on other courses).

    .venv/bin/python -m bench.relevance.catalogue          # (re)build and print counts
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search.backend import Document
from course_catalogue.search.documents import to_document

HERE = Path(__file__).parent
OUT = HERE.parent / "out" / "relevance"
DOCUMENTS = OUT / "catalogue.jsonl"
IDS = HERE / "catalogue_ids.txt"


class CatalogueChanged(RuntimeError):
    """The harvested catalogue is not the one the judgements were made on."""


def build() -> list[Document]:
    """Harvest every corpus feed into a fresh store and return the search documents, by id."""
    from tests.corpus.fidelity import harvest, load_manifest  # the corpus's own harvest path

    OUT.mkdir(parents=True, exist_ok=True)
    database = OUT / "catalogue.db"
    database.unlink(missing_ok=True)
    store = CatalogueStore(f"sqlite:///{database}")
    store.migrate()
    try:
        for feed in load_manifest():
            harvest(feed, store)
        documents = [to_document(stored) for stored in store.iter_courses()]
    finally:
        store.close()
    documents.sort(key=lambda doc: doc["id"])
    with DOCUMENTS.open("w", encoding="utf-8") as out:
        for doc in documents:
            out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    return documents


def load(*, check: bool = True) -> list[Document]:
    """The catalogue's documents (built on first use). With `check`, raises CatalogueChanged
    when their ids differ from the pinned `catalogue_ids.txt`."""
    if not DOCUMENTS.exists():
        build()
    with DOCUMENTS.open(encoding="utf-8") as lines:
        documents = [json.loads(line) for line in lines]
    if check and IDS.exists():
        pinned = IDS.read_text(encoding="utf-8").split()
        ids = [doc["id"] for doc in documents]
        if ids != pinned:
            missing = len(set(pinned) - set(ids))
            extra = len(set(ids) - set(pinned))
            raise CatalogueChanged(
                f"the harvested catalogue differs from {IDS.name}: {missing} pinned ids missing, "
                f"{extra} new; rebuild with --pin only after re-judging the queries"
            )
    return documents


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    documents = build()
    if "--pin" in args:
        IDS.write_text("".join(doc["id"] + "\n" for doc in documents), encoding="utf-8")
    by_source = Counter(doc.get("provider") or "?" for doc in documents)
    languages = Counter(lang for doc in documents for lang in doc.get("languages") or ["?"])
    print(f"{len(documents)} courses; top providers: {dict(by_source.most_common(8))}")
    print(f"languages: {dict(languages.most_common(12))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
