"""A feed's RDF triples spooled to a temporary SQLite file, read back one subject at a time.

RDF gives no record boundaries (a learning opportunity's specification may sit anywhere in the
file), so the ELM reader must see every triple before it can cut a record's subgraph. Held in
memory, the index costs about nine times the feed (a 226 MB Turtle feed of 100k records: ~2 GB).
For a large feed the reader spools the triples instead (`SpooledGraph`) and cuts each record from
it as from the in-memory `Graph`: the same subjects, properties and values in the same order, so
the items are the same bytes. What stays in memory is bounded whatever the feed's size: a cache
of recently read subjects (`CACHED_SUBJECTS`), a page of record roots, one record's closure.

Layout: one table of triples in document order (rowid), indexed by subject after loading, a table
of each subject's first and last triple (a subject is read with the subjects written around it,
see `SpooledGraph.props`), and one of the `rdf:type` triples (record roots are found there in the
order of each subject's first type, as the in-memory index lists them); an index by object is
built only when a record class takes in the nodes that point at it (`referrers`). Literals are
stored as "\\0lang\\0datatype\\0lexical" (no IRI or blank-node label holds a NUL character).

Reading a subject applies what the in-memory index applies while loading: duplicate values
dropped, at most `max_values` values per property kept, and the (subject, property) pairs over
that recorded in `overfull` when the subject is read (a record that reaches it is an ERROR).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from course_catalogue.mappings.rdf_graph import RDF_TYPE, Lit, Term, Triple

CACHED_SUBJECTS = 20_000
"""Subjects kept after reading (the organisations, places and concepts records share); the cache
is emptied when full: reading again is correct, only slower."""
_BATCH = 50_000  # triples per insert
_PAGE = 1_000  # record roots per query
WINDOW = 1_000
"""Triples read at least when a subject is read (see `SpooledGraph.props`)."""

Props = dict[str, list[Term]]


def encode(o: Term) -> str:
    if isinstance(o, Lit):
        return f"\0{o.lang or ''}\0{o.datatype}\0{o.value}"
    return o


def decode(o: str) -> Term:
    if o[:1] != "\0":
        return o
    _, lang, datatype, value = o.split("\0", 3)
    return Lit(value, lang or None, datatype)


class SpooledGraph:
    """The triples of one feed in a temporary SQLite file (see the module docstring). Use as a
    context manager, or `close()` it: the file is deleted then. Not thread-safe."""

    def __init__(self, max_values: int, directory: str | None = None) -> None:
        self._max_values = max_values
        handle, self._path = tempfile.mkstemp(prefix="rdf-spool-", suffix=".sqlite", dir=directory)
        os.close(handle)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        for pragma in (
            "journal_mode = OFF",  # a scratch file: nothing to recover after a crash
            "synchronous = OFF",
            "locking_mode = EXCLUSIVE",
            "temp_store = FILE",
            "cache_size = -65536",  # 64 MiB of pages
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE triple (s TEXT NOT NULL, p TEXT NOT NULL, o TEXT NOT NULL)")
        self._db.execute("CREATE TABLE typing (s TEXT NOT NULL, o TEXT NOT NULL)")
        self._pending: list[tuple[str, str, str]] = []
        self._types: list[tuple[str, str]] = []
        self._by_object = False
        self._cache: dict[str, Props] = {}
        self.overfull: dict[str, dict[str, None]] = {}
        self.out = _Subjects(self)

    # -- loading -----------------------------------------------------------------------------

    def add(self, s: str, p: str, o: Term) -> None:
        """Append a triple (duplicates are dropped on reading); `finish()` after the last one."""
        encoded = encode(o)
        self._pending.append((s, p, encoded))
        if p == RDF_TYPE:
            self._types.append((s, encoded))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO triple VALUES (?, ?, ?)", self._pending)
        self._db.executemany("INSERT INTO typing VALUES (?, ?)", self._types)
        self._db.execute("COMMIT")
        self._pending, self._types = [], []

    def finish(self) -> None:
        """Index the loaded triples (one sort, faster than keeping the index while inserting),
        and list each subject's first and last triple (`subject`, for reading by window)."""
        self._flush()
        self._db.execute("CREATE INDEX triple_s ON triple (s)")
        self._db.execute("CREATE INDEX typing_s ON typing (s)")
        self._db.execute(
            "CREATE TABLE subject (s TEXT PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL) "
            "WITHOUT ROWID"
        )
        self._db.execute("INSERT INTO subject SELECT s, MIN(rowid), MAX(rowid) FROM triple GROUP BY s")

    # -- reading -----------------------------------------------------------------------------

    def props(self, s: str) -> Props | None:
        """`s`'s properties and values in document order, as the in-memory index holds them;
        None when `s` is no subject.

        Read by window: the triples from `s`'s first one on (at least `WINDOW` of them, and up to
        its last), and with them every other subject whose triples all lie in that window: a
        record's nodes are mostly written together, so one query reads most of a record."""
        cached = self._cache.get(s)
        if cached is not None:
            return cached or None  # {}: known to be no subject (a concept IRI records share)
        span = self._db.execute("SELECT first, last FROM subject WHERE s = ?", (s,)).fetchone()
        cache = self._cache
        if len(cache) >= CACHED_SUBJECTS:
            cache.clear()
        if span is None:
            cache[s] = {}
            return None
        low, high = span[0], max(span[1], span[0] + WINDOW - 1)
        rows = self._db.execute(
            "SELECT t.s, t.p, t.o FROM triple t JOIN subject j ON j.s = t.s "
            "WHERE t.rowid BETWEEN ? AND ? AND j.first >= ? AND j.last <= ? ORDER BY t.rowid",
            (low, high, low, high),
        ).fetchall()
        read: dict[str, list[tuple[str, str]]] = {}
        for subject, p, o in rows:
            pairs = read.get(subject)
            if pairs is None:
                if subject in cache and subject != s:
                    continue
                pairs = read[subject] = []
            pairs.append((p, o))
        for subject, pairs in read.items():
            cache[subject] = self._props(subject, pairs)
        return cache[s] or None

    def _props(self, s: str, pairs: list[tuple[str, str]]) -> Props:
        """The properties of `s` from its (predicate, stored object) pairs in document order:
        duplicates dropped, at most `max_values` values per property (see `overfull`)."""
        props: Props = {}
        members: dict[str, set[str]] = {}
        limit = self._max_values
        for p, o in pairs:
            seen = members.get(p)
            if seen is None:
                members[p] = {o}
                props[p] = [decode(o)]
            elif o not in seen:
                if len(seen) < limit:
                    seen.add(o)
                    props[p].append(decode(o))
                else:
                    self.overfull.setdefault(s, {})[p] = None
        return props

    def types(self, s: str) -> list[Term]:
        props = self.props(s)
        return props.get(RDF_TYPE, []) if props else []

    def objects(self, s: str, p: str) -> list[Term]:
        props = self.props(s)
        return props.get(p, []) if props else []

    def any_typed(self, classes: Collection[str]) -> bool:
        """Whether any subject is typed with one of `classes`."""
        marks = ",".join("?" * len(classes))
        row = self._db.execute(f"SELECT 1 FROM typing WHERE o IN ({marks}) LIMIT 1", tuple(classes))
        return row.fetchone() is not None

    def typed_with(self, classes: Collection[str]) -> Iterator[str]:
        """Subjects typed with one of `classes`, in the order of each subject's first `rdf:type`
        triple (as the in-memory reader lists them). Materialised first into a table and read a
        page at a time, so no query stays open while records are cut."""
        marks = ",".join("?" * len(classes))
        self._db.execute("DROP TABLE IF EXISTS roots")
        self._db.execute(
            "CREATE TABLE roots AS SELECT s FROM typing GROUP BY s "
            f"HAVING MAX(o IN ({marks})) = 1 ORDER BY MIN(rowid)",
            tuple(classes),
        )
        last = 0
        while True:
            page = self._db.execute(
                "SELECT rowid, s FROM roots WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, _PAGE)
            ).fetchall()
            if not page:
                return
            last = page[-1][0]
            for _, s in page:
                yield s

    def referrers(self) -> SpooledReferrers:
        """Object node -> subjects with a triple pointing at it (as `Graph.referrers`), read on demand."""
        if not self._by_object:
            self._db.execute("CREATE INDEX IF NOT EXISTS triple_o ON triple (o)")
            self._by_object = True
        return SpooledReferrers(self)

    def subjects_pointing_at(self, o: str) -> list[str]:
        """Subjects with a triple whose object is node `o` (itself aside), ordered by each
        subject's first triple anywhere in the feed, as `Graph.referrers` orders them."""
        found = [
            s for (s,) in self._db.execute("SELECT DISTINCT s FROM triple WHERE o = ? AND s != ?", (o, o))
        ]
        first = {
            s: self._db.execute("SELECT MIN(rowid) FROM triple WHERE s = ?", (s,)).fetchone()[0]
            for s in found
        }
        return sorted(found, key=first.__getitem__)

    def has_triples(self) -> bool:
        return self._db.execute("SELECT 1 FROM triple LIMIT 1").fetchone() is not None

    def triples(self) -> Iterator[Triple]:
        for s, p, o in self._db.execute("SELECT s, p, o FROM triple ORDER BY rowid"):
            yield s, p, decode(o)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        self._cache.clear()
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> SpooledGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Subjects(Mapping[str, Props]):
    """`SpooledGraph.out`: subject -> properties, read (and cached) on access, like `Graph.out`
    for the lookups the reader makes (`get`, `[]`, truth). Iterating reads every subject."""

    def __init__(self, graph: SpooledGraph) -> None:
        self._graph = graph

    def __getitem__(self, s: str) -> Props:
        props = self._graph.props(s)
        if props is None:
            raise KeyError(s)
        return props

    def get(self, s: str, default: Any = None) -> Any:
        """`s`'s properties, or `default` when it is no subject (without `Mapping.get`'s
        KeyError: most nodes looked up are concepts that are no subject)."""
        props = self._graph.props(s)
        return default if props is None else props

    def __bool__(self) -> bool:
        return self._graph.has_triples()

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for s, _, _ in self._graph.triples():
            if s not in seen:
                seen[s] = None
                yield s

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SpooledReferrers:
    """`SpooledGraph.referrers()`: the `get` of `Graph.referrers()`'s dict, read on demand."""

    def __init__(self, graph: SpooledGraph) -> None:
        self._graph = graph

    def get(self, o: str, default: Sequence[str] = ()) -> Sequence[str]:
        return self._graph.subjects_pointing_at(o) or default


class LazyOverfull:
    """`SpooledGraph.overfull` for `elm._closure`: a subject is read before it is looked up, since
    its crowded properties are found while reading it."""

    def __init__(self, graph: SpooledGraph) -> None:
        self._graph = graph

    def get(self, s: str, default: Any = None) -> Any:
        self._graph.props(s)
        return self._graph.overfull.get(s, default)


Referrers = Mapping[str, list[str]] | SpooledReferrers
"""What `Graph.referrers()` or `SpooledGraph.referrers()` gives: `get(node, ())` -> subjects."""
