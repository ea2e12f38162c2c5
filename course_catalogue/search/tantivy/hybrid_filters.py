"""The filter values of every indexed course, kept beside the graph for hybrid search.

Hybrid search asks the HNSW graph for up to 2,000 neighbours and keeps those that pass the query's
filters. Finding 2,000 ids in the keyword index by a term set of their id hashes costs ~7 us per id
at a million courses (~14 ms a query, the largest part of a hybrid search). This table answers
"may this course pass these filters?" for each neighbour in microseconds with numpy, so that only
the few that may pass are looked up in the index, where the filters, visibility and place are
checked exactly as before. The table only ever drops neighbours that cannot pass: a value it
does not know (a hash collision, a filter it does not hold such as start dates or the place)
lets the neighbour through to the exact check, so results are the same with or without it.

What it holds, per course (row), keyed by the index's `id_hash`: for each field of TERM_FIELDS
(every term filter of search.query.FACETS, and `status`) the ids of the terms the keyword index
holds for it (one vocabulary per field, so a value is 4 bytes), and `visible_until`. The terms
are those `to_tantivy` writes, so the table and the index agree by construction; a table built
from the index itself (`from_index`: a rebuild from stored records, or a graph filled elsewhere)
reads the same terms from the term dictionaries.

In step: the table records the keyword index state it describes (`state`: the index version and
its meta.json stamp, taken after the commit it follows). A search whose searcher is at another
state does not use it (the exact probe of every neighbour, as without the table). The hybrid
backend writes it under the index's write lock, after the keyword index, for every upsert,
delete and rebuild.

Files, in `<index_dir>/vectors/`: `filters.npz` (arrays) and `filters.json` (vocabularies, state),
written to temporary files and renamed, the arrays last (readers reload on their stamp).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import tantivy

from course_catalogue.search.backend import Document
from course_catalogue.search.errors import IndexingError
from course_catalogue.search.query import FACETS
from course_catalogue.search.tantivy.index import ID_HASH, NEVER, id_hash, to_tantivy
from course_catalogue.search.tantivy.query import filter_terms

FORMAT = 2
"""Bump when what the table holds changes: an older table is then rebuilt from the index."""
TERM_FIELDS: tuple[str, ...] = tuple(
    sorted({terms[0] for spec in FACETS if (terms := filter_terms(spec.name, [])) is not None} | {"status"})
)
"""The index fields term filters match (search.tantivy.query.filter_terms), and visibility's."""

State = tuple[str, tuple[int, int, int] | None]
"""A keyword index state: its version name and the stamp of its meta.json (changes per commit)."""


class FilterTable:
    """Per course (id hash): its terms in TERM_FIELDS and its `visible_until`. Immutable; the
    write methods return a new table."""

    def __init__(
        self,
        labels: np.ndarray,
        until: np.ndarray,
        columns: Mapping[str, tuple[np.ndarray, np.ndarray]],
        vocabularies: Mapping[str, Sequence[str]],
        state: State | None,
    ) -> None:
        self.labels = labels  # int64, sorted ascending, unique
        self.until = until  # int64 per row
        self.columns = dict(columns)  # field -> (offsets int32 [rows + 1], term ids int32)
        self.vocabularies = {field: list(terms) for field, terms in vocabularies.items()}
        self._term_ids = {
            field: {term: number for number, term in enumerate(terms)}
            for field, terms in self.vocabularies.items()
        }
        self.state = state

    def __len__(self) -> int:
        return len(self.labels)

    # -- reads ---------------------------------------------------------------------------------

    def may_pass(
        self, keys: np.ndarray, terms: Sequence[tuple[str, Sequence[str]]], today: int | None
    ) -> list[int]:
        """Those of `keys` that may pass, in their order: a key is dropped only where that course
        certainly fails a filter. `terms`: (field, the terms the filter accepts, any of them) per
        filter, every filter to be satisfied; fields the table does not hold are not checked.
        `today` (an ordinal) drops courses whose `visible_until` is before it; None checks no
        date. A key the table does not hold is kept (the exact check decides)."""
        wanted = np.asarray(keys, dtype=np.int64)
        if len(self.labels) == 0 or len(wanted) == 0:
            return list(wanted.tolist())
        # binary search of the keys in ascending order: twice as fast as in their own order
        order = np.argsort(wanted)
        rows = np.empty(len(wanted), dtype=np.int64)
        rows[order] = np.searchsorted(self.labels, wanted[order])
        np.minimum(rows, len(self.labels) - 1, out=rows)
        known = self.labels[rows] == wanted
        passing = np.ones(len(wanted), dtype=bool)
        if today is not None:
            passing &= ~known | (self.until[rows] >= today)
        for field, accepted in terms:
            if field not in self.columns:
                continue
            ids = self._term_ids[field]
            accepted_ids = np.array([ids[term] for term in accepted if term in ids], dtype=np.int32)
            offsets, values = self.columns[field]
            starts = offsets[rows].astype(np.int64)
            lengths = np.where(known, offsets[rows + 1] - starts, 0)
            total = int(lengths.sum())
            if total == 0:
                passing &= ~known
                continue
            # every value of every asked row, flat, then whether any is accepted, per row
            firsts = np.cumsum(lengths) - lengths
            flat = np.repeat(starts - firsts, lengths) + np.arange(total)
            hit = np.isin(values[flat], accepted_ids)
            owner = np.repeat(np.arange(len(rows)), lengths)
            hits_per_row = np.bincount(owner[hit], minlength=len(rows))
            passing &= ~known | (hits_per_row > 0)
        result: list[int] = wanted[passing].tolist()
        return result

    # -- writes --------------------------------------------------------------------------------

    def updated(self, documents: Iterable[Document], removed: Iterable[str], state: State) -> FilterTable:
        """This table with `documents` added or replaced (their terms as the index holds them),
        the ids in `removed` dropped, describing `state`."""
        rows = _Rows(self.vocabularies)
        for doc in documents:
            rows.add_document(doc)
        gone = {id_hash(str(course_id)) for course_id in removed} | set(rows.labels)
        keep = ~np.isin(self.labels, np.fromiter(gone, dtype=np.int64, count=len(gone)))
        fresh = rows.table(state)
        return _merge(self, keep, fresh, state)

    @staticmethod
    def from_documents(documents: Iterable[Document], state: State) -> FilterTable:
        rows = _Rows({})
        for doc in documents:
            rows.add_document(doc)
        return rows.table(state)

    @staticmethod
    def from_index(searcher: tantivy.Searcher, schema: tantivy.Schema, state: State) -> FilterTable:
        """The table of every course `searcher` sees, read from the index's term dictionaries
        (a term's courses by a term query, their id hashes from the fast column): for a keyword
        index built from stored records, whose documents are not at hand."""
        total = int(searcher.num_docs)
        if total == 0:
            return FilterTable.from_documents((), state)
        everyone = [a for _score, a in searcher.search(tantivy.Query.all_query(), limit=total).hits]
        labels = np.array(searcher.fast_field_values(ID_HASH, everyone), dtype=np.int64)
        until_values = searcher.fast_field_values("visible_until", everyone)
        order = np.argsort(labels, kind="stable")
        labels = labels[order]
        until = np.array([NEVER if v is None else int(v) for v in until_values], dtype=np.int64)[order]
        columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        vocabularies: dict[str, list[str]] = {}
        for field in TERM_FIELDS:
            owners: list[np.ndarray] = []
            term_ids: list[np.ndarray] = []
            vocabulary: list[str] = []
            for term, count in searcher.terms_with_prefix(field, ""):
                query = tantivy.Query.term_query(schema, field, term)
                found = [a for _score, a in searcher.search(query, limit=max(int(count), 1)).hits]
                if not found:
                    continue
                hashes = np.array(searcher.fast_field_values(ID_HASH, found), dtype=np.int64)
                owners.append(np.searchsorted(labels, hashes))
                term_ids.append(np.full(len(hashes), len(vocabulary), dtype=np.int32))
                vocabulary.append(str(term))
            row_of = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
            ids = np.concatenate(term_ids) if term_ids else np.zeros(0, dtype=np.int32)
            columns[field] = _csr(row_of, ids, len(labels))
            vocabularies[field] = vocabulary
        return FilterTable(labels, until, columns, vocabularies, state)

    # -- files ---------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"labels": self.labels, "until": self.until}
        for field, (offsets, values) in self.columns.items():
            arrays[f"{field}.offsets"] = offsets
            arrays[f"{field}.values"] = values
        meta = {"format": FORMAT, "state": self.state, "vocabularies": self.vocabularies}
        try:
            temporary = directory / ".filters.json.tmp"
            temporary.write_bytes(orjson.dumps(meta))
            os.replace(temporary, directory / "filters.json")
            temporary = directory / ".filters.tmp.npz"
            np.savez(temporary, **arrays)  # type: ignore[arg-type]  # numpy's stub wants one kind
            os.replace(temporary, directory / "filters.npz")  # last: readers reload on it
        except OSError as error:
            raise IndexingError(f"cannot write the filter table at {directory}: {error}") from error

    @staticmethod
    def load(directory: Path) -> FilterTable | None:
        """The saved table, or None when there is none or it is of another FORMAT."""
        try:
            meta = json.loads((directory / "filters.json").read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                return None
            with np.load(directory / "filters.npz") as arrays:
                columns = {
                    field: (arrays[f"{field}.offsets"], arrays[f"{field}.values"])
                    for field in meta["vocabularies"]
                }
                labels, until = arrays["labels"], arrays["until"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            raise IndexingError(f"cannot read the filter table at {directory}: {error}") from error
        state = meta.get("state")
        read_state: State | None = None
        if state is not None:
            name, stamp = state
            read_state = (str(name), None if stamp is None else (int(stamp[0]), int(stamp[1]), int(stamp[2])))
        return FilterTable(labels, until, columns, meta["vocabularies"], read_state)


class FilterTableFile:
    """The table of one index directory as last saved, reloaded when the file changes; shared by
    the threads of one backend."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        self._table: FilterTable | None = None
        self._stamp: tuple[int, int, int] | None = None

    def current(self, state: State | None) -> FilterTable | None:
        """The table when it describes the keyword index `state`, else None. A table in memory
        that describes `state` is used without looking at the file: a newer file describes a
        newer state (the writer saves it after its commit)."""
        table = self._table
        if table is not None and state is not None and table.state == state:
            return table
        path = self._dir / "filters.npz"
        try:
            info = path.stat()
            stamp: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._table = None if stamp is None else FilterTable.load(self._dir)
                self._stamp = stamp
            table = self._table
        return table if table is not None and state is not None and table.state == state else None

    def write(self, table: FilterTable) -> None:
        table.save(self._dir)
        info = (self._dir / "filters.npz").stat()
        with self._lock:
            self._table, self._stamp = table, (info.st_ino, info.st_mtime_ns, info.st_size)


class _Rows:
    """Rows being collected from documents, term ids in vocabularies extended as needed."""

    def __init__(self, vocabularies: Mapping[str, Sequence[str]]) -> None:
        self.vocabularies = {field: list(vocabularies.get(field, ())) for field in TERM_FIELDS}
        self._ids = {f: {t: n for n, t in enumerate(v)} for f, v in self.vocabularies.items()}
        self.labels: list[int] = []
        self.until: list[int] = []
        self.values: dict[str, list[list[int]]] = {field: [] for field in TERM_FIELDS}

    def add_document(self, doc: Document) -> None:
        indexed: dict[str, Any] = orjson.loads(to_tantivy(doc))  # the terms exactly as indexed
        self.labels.append(int(indexed[ID_HASH]))
        self.until.append(int(indexed["visible_until"]))
        for field in TERM_FIELDS:
            value = indexed.get(field)
            terms = [value] if isinstance(value, str) else list(value or ())
            ids = self._ids[field]
            vocabulary = self.vocabularies[field]
            row = []
            for term in terms:
                number = ids.get(term)
                if number is None:
                    number = ids[term] = len(vocabulary)
                    vocabulary.append(term)
                row.append(number)
            self.values[field].append(row)

    def table(self, state: State) -> FilterTable:
        labels = np.array(self.labels, dtype=np.int64)
        # a document given twice: its last version counts (as in the index)
        last = {label: row for row, label in enumerate(self.labels)}
        rows = np.array(sorted(last.values(), key=lambda row: self.labels[row]), dtype=np.int64)
        columns = {}
        for field in TERM_FIELDS:
            lists = [self.values[field][row] for row in rows]
            lengths = np.array([len(values) for values in lists], dtype=np.int64)
            offsets = np.zeros(len(lists) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:], dtype=np.int32)
            flat = np.array([v for values in lists for v in values], dtype=np.int32)
            columns[field] = (offsets, flat)
        until = np.array(self.until, dtype=np.int64)[rows] if len(rows) else np.zeros(0, np.int64)
        return FilterTable(labels[rows] if len(rows) else labels, until, columns, self.vocabularies, state)


def _csr(rows: np.ndarray, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and values of a row-major sparse table from (row, value) pairs in any order."""
    order = np.argsort(rows, kind="stable")
    offsets = np.zeros(count + 1, dtype=np.int32)  # 4 bytes: a table holds < 2**31 values a field
    np.cumsum(np.bincount(rows, minlength=count), out=offsets[1:], dtype=np.int32)
    return offsets, values[order].astype(np.int32)


def _merge(old: FilterTable, keep: np.ndarray, fresh: FilterTable, state: State) -> FilterTable:
    """The kept rows of `old` and every row of `fresh` (whose vocabularies extend old's), sorted."""
    labels = np.concatenate([old.labels[keep], fresh.labels])
    until = np.concatenate([old.until[keep], fresh.until])
    order = np.argsort(labels, kind="stable")
    columns = {}
    for field in TERM_FIELDS:
        pairs_rows: list[np.ndarray] = []
        pairs_values: list[np.ndarray] = []
        kept_count = int(keep.sum())
        if field in old.columns:
            offsets, values = old.columns[field]
            lengths = np.diff(offsets)
            owner = np.repeat(np.arange(len(old.labels)), lengths)
            chosen = keep[owner]
            new_row = np.cumsum(keep) - 1  # old row -> row among the kept
            pairs_rows.append(new_row[owner[chosen]])
            pairs_values.append(values[chosen])
        offsets, values = fresh.columns[field]
        pairs_rows.append(kept_count + np.repeat(np.arange(len(fresh.labels)), np.diff(offsets)))
        pairs_values.append(values)
        rows = np.concatenate(pairs_rows)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))  # unsorted row -> sorted row
        columns[field] = _csr(position[rows], np.concatenate(pairs_values), len(labels))
    return FilterTable(labels[order], until[order], columns, fresh.vocabularies, state)
