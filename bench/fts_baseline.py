"""The SQLite FTS5 baseline: the same search documents and the same Query, answered by SQL.

The honest, straightforward implementation: one FTS5 table with the text columns (unicode61
tokenizer, diacritics removed, bm25 weighted like the embedded engine's field boosts), one
table of normal columns for the filters, one (course, facet, value) table for the multi-valued
facets. Per query the MATCH runs once into a temporary table of rowids (a JOIN against the FTS
table would re-run the match per row; see _IN_MATCH for the other table); filters, the page and
every facet's GROUP BY count then work on that set, each facet without its own filter, as the
embedded engine counts them.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from course_catalogue.search.analysis import split_text
from course_catalogue.search.backend import Document
from course_catalogue.search.documents import CARD_FIELDS
from course_catalogue.search.query import FACETS, FACETS_BY_NAME, Query
from course_catalogue.search.tantivy.index import visible_until

_SCALAR = {"country": "country", "eqf": "eqf", "provider": "provider_key"}
_MULTI = {"language": "languages", "mode": "modes", "field": "isced_broad", "funding": "eligible"}
# The facets this baseline models; the place, schedule, ISCED drill-down and start date facets
# added later are not (so the engine counts more facets than the baseline).
_COUNTED = tuple(
    spec
    for spec in FACETS
    if spec.name in {"country", "eqf", "language", "mode", "field", "provider", "ects", "price", "funding"}
)
_FILTER_MULTI = {"field": "isced"}  # a broad ISCED filter selects every narrower code, as in tantivy
_SCHEMA = """
CREATE TABLE courses (rowid INTEGER PRIMARY KEY, id TEXT, status TEXT, country TEXT, eqf TEXT,
    provider_key TEXT, ects REAL, price REAL, visible_until INTEGER, card TEXT);
CREATE TABLE course_values (rowid INTEGER, facet TEXT, value TEXT);
CREATE VIRTUAL TABLE fts USING fts5(title, description, outcomes, provider, keywords,
    tokenize='unicode61 remove_diacritics 2');
"""
# Joining the match set to `courses` makes SQLite 3.38+ build a Bloom filter over the whole
# table per query; an IN over the match set's rowids probes only the matching rows.
_IN_MATCH = "c.rowid IN (SELECT rowid FROM m)"
_RANK = "(SELECT rank FROM m WHERE m.rowid = c.rowid)"
_INDEXES = """
CREATE INDEX course_values_facet ON course_values(facet, value, rowid);
CREATE INDEX course_values_row ON course_values(rowid, facet);
"""


class FtsBaseline:
    """An FTS5 database at `path`; `load` fills it, `search` answers a Query."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA cache_size = -1000000")  # up to 1 GB of page cache
        self._db.execute("PRAGMA mmap_size = 8000000000")
        self._db.execute("PRAGMA temp_store = MEMORY")
        self._count = 0
        self._in_match = _IN_MATCH

    @property
    def count(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()

    def create(self) -> None:
        self._db.executescript(_SCHEMA)
        self._count = 0

    def insert(self, docs: list[Document]) -> None:
        """Add documents (call `create` first and `finish` after the last batch)."""
        self._count += self._insert(self._count, docs)

    def finish(self) -> int:
        """Build the secondary indexes, merge the FTS segments, analyse; return the row count."""
        db = self._db
        db.executescript(_INDEXES)
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        db.commit()
        db.execute("ANALYZE")
        db.commit()
        return self._count

    def _insert(self, start: int, docs: list[Document]) -> int:
        rows, values, texts = [], [], []
        for offset, doc in enumerate(docs, start=start + 1):
            rows.append(_course_row(offset, doc))
            for facet, key in {**_MULTI, **_FILTER_MULTI}.items():
                name = f"{facet}:filter" if facet in _FILTER_MULTI else facet
                values += [(offset, name, v) for v in doc.get(key) or ()]
            texts.append((offset, *_texts(doc)))
        self._db.executemany("INSERT INTO courses VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        self._db.executemany("INSERT INTO course_values VALUES (?,?,?)", values)
        self._db.executemany("INSERT INTO fts(rowid, title, description, outcomes, provider, keywords) "
                             "VALUES (?,?,?,?,?,?)", texts)  # fmt: skip
        return len(docs)

    # -- search ----------------------------------------------------------------------------------

    def search(self, query: Query) -> dict[str, Any]:
        """{total, hits: [card dicts with snippet], facets: {name: {value: count}}}."""
        db = self._db
        match = _match_expression(query.text)
        # The match set, keyed by rowid so every later step looks rows up instead of scanning.
        db.execute("DROP TABLE IF EXISTS temp.m")
        db.execute("CREATE TEMP TABLE m (rowid INTEGER PRIMARY KEY, rank REAL)")
        if match is not None:
            db.execute(
                "INSERT INTO m SELECT rowid, bm25(fts, 3.0, 1.0, 1.5, 2.0, 1.5) FROM fts WHERE fts MATCH ?",
                (match,),
            )
        self._in_match = _IN_MATCH if match is not None else "1"  # no text: every course
        visible, visible_args = _visibility(query)
        filters = {name: _filter(name, values) for name, values in query.filters.items()}
        where, args = _where([(visible, visible_args), *filters.values()])
        total = db.execute(
            f"SELECT count(*) FROM courses c WHERE {self._in_match} AND {where}", args
        ).fetchone()[0]
        order = "rank, c.rowid" if match and query.sort == "relevance" else "c.rowid"
        page = db.execute(
            f"SELECT c.rowid, c.card, {_RANK if match else 0} AS rank FROM courses c "
            f"WHERE {self._in_match} AND {where} ORDER BY {order} "
            "LIMIT ? OFFSET ?",
            [*args, query.page_size, query.offset],
        ).fetchall()
        hits = [json.loads(card) for _, card, _ in page]
        if match is not None and page:
            snippets = dict(
                db.execute(
                    "SELECT rowid, snippet(fts, 1, '<b>', '</b>', '…', 24) FROM fts WHERE fts MATCH ? "
                    f"AND rowid IN ({','.join('?' * len(page))})",
                    [match, *(rowid for rowid, _, _ in page)],
                ).fetchall()
            )
            for hit, (rowid, _, _) in zip(hits, page, strict=True):
                hit["snippet"] = snippets.get(rowid)
        wanted = [spec for spec in _COUNTED if query.facets is None or spec.name in query.facets]
        facets = {spec.name: self._facet(spec.name, visible, visible_args, filters) for spec in wanted}
        return {"total": total, "hits": hits, "facets": facets}

    def _facet(
        self, name: str, visible: str, visible_args: list[Any], filters: dict[str, tuple[str, list[Any]]]
    ) -> dict[str, int]:
        others = [f for n, f in filters.items() if n != name]
        where, args = _where([(visible, visible_args), *others])
        spec = FACETS_BY_NAME[name]
        if spec.ranges:
            cases = " ".join(
                f"WHEN c.{spec.field} >= {r.low if r.low is not None else -1e18} "
                f"AND c.{spec.field} < {r.high if r.high is not None else 1e18} THEN '{r.key}'"
                for r in spec.ranges
            )
            sql = (f"SELECT CASE {cases} END AS k, count(*) FROM courses c WHERE {self._in_match} "
                   f"AND {where} AND c.{spec.field} IS NOT NULL GROUP BY k")  # fmt: skip
        elif name in _SCALAR:
            column = _SCALAR[name]
            sql = (f"SELECT c.{column}, count(*) FROM courses c WHERE {self._in_match} AND {where} "
                   f"AND c.{column} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT {spec.size}")  # fmt: skip
        else:
            sql = (f"SELECT v.value, count(*) FROM course_values v WHERE v.facet = '{name}' AND v.rowid IN "
                   f"(SELECT c.rowid FROM courses c WHERE {self._in_match} AND {where}) "
                   f"GROUP BY 1 ORDER BY 2 DESC LIMIT {spec.size}")  # fmt: skip
        return {str(k): int(n) for k, n in self._db.execute(sql, args).fetchall() if k is not None}


def _course_row(rowid: int, doc: Document) -> tuple[Any, ...]:
    card = {name: doc.get(name) for name in CARD_FIELDS}
    return (
        rowid,
        doc["id"],
        doc.get("status") or "active",
        doc.get("country"),
        doc.get("eqf"),
        doc.get("provider_key"),
        doc.get("ects"),
        doc.get("price"),
        visible_until(doc),
        json.dumps(card, ensure_ascii=False, default=str),
    )


def _texts(doc: Document) -> tuple[str, ...]:
    def joined(kind: str) -> str:
        return "\n".join(str(v) for k, v in doc.items() if k.startswith(kind + "_") and v)

    keywords = " ".join(doc.get("keywords") or ())
    return (
        joined("title"),
        joined("description"),
        joined("outcomes"),
        str(doc.get("provider") or ""),
        keywords,
    )


def _match_expression(text: str) -> str | None:
    """User text as an FTS5 expression of quoted words (AND-ed), so no input is syntax."""
    words = []
    for chunk, _ in split_text(text):
        words.append('"' + chunk.replace('"', "") + '"')
    return " ".join(words) if words else None


def _visibility(query: Query) -> tuple[str, list[Any]]:
    parts, args = ["1"], []
    if not query.include_withdrawn:
        parts.append("c.status = 'active'")
    if not query.include_past:
        parts.append("c.visible_until >= ?")
        args.append((query.today or date.today()).toordinal())
    return " AND ".join(parts), args


def _filter(name: str, values: tuple[str, ...]) -> tuple[str, list[Any]]:
    spec = FACETS_BY_NAME[name]
    marks = ",".join("?" * len(values))
    if spec.ranges:
        ranges = [r for r in spec.ranges if r.key in values]
        parts = [
            f"(c.{spec.field} >= {r.low if r.low is not None else -1e18} "
            f"AND c.{spec.field} < {r.high if r.high is not None else 1e18})"
            for r in ranges
        ]
        return "(" + " OR ".join(parts or ["0"]) + ")", []
    if name in _SCALAR:
        return f"c.{_SCALAR[name]} IN ({marks})", list(values)
    facet = f"{name}:filter" if name in _FILTER_MULTI else name
    sql = f"c.rowid IN (SELECT rowid FROM course_values WHERE facet = ? AND value IN ({marks}))"
    return sql, [facet, *values]


def _where(parts: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    sql = " AND ".join(f"({p})" for p, _ in parts) or "1"
    return sql, [a for _, args in parts for a in args]
