"""Bulk forms of the catalogue for registries: ELM graphs of many courses and flat snapshots.

Every function here yields `bytes` chunks so the web layer can stream any number of courses in
bounded memory:

* `elm_turtle` / `elm_jsonld`: ONE ELM LOQ graph holding every given course (the per-course graph
  of `catalogue.elm`), vocabulary concepts written once. Turtle is written in batches, each with
  its `@prefix` lines (repeating a prefix is legal Turtle); JSON-LD is one document with a single
  `@graph` array.
* `snapshot_jsonl`: one JSON object per line, `{"course": course_to_dict(...), "status",
  "updated_at", "seq"}`; `course_from_dict(line["course"])` gives the course back.
* `snapshot_csv`: one flat row per course, `CSV_COLUMNS`, RFC 4180 quoting, UTF-8 without a
  byte-order mark (tools read it as is; Excel users import it as UTF-8), and every cell that a
  spreadsheet would run as a formula made inert with a leading apostrophe (`csv_safe`).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pyoxigraph import RdfFormat, Triple, serialize

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.elm import JSONLD_CONTEXT, course_triples, opportunity_iri, to_jsonld
from course_catalogue.catalogue.elm.serialise import PREFIXES
from course_catalogue.catalogue.model import Course, first_text
from course_catalogue.catalogue.schema import changes, courses
from course_catalogue.catalogue.store import CatalogueStore, stored_courses

BATCH = 200
"""Courses per store query and per Turtle chunk."""

CSV_COLUMNS = (
    "id",
    "title",
    "provider",
    "country",
    "eqf",
    "ects",
    "ects_basis",
    "languages",
    "modes",
    "isced_f",
    "start_date",
    "end_date",
    "duration",
    "price",
    "currency",
    "url",
    "updated_at",
    "status",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula (or becomes one) in spreadsheet programs."""
_FORMULA_MARKS = ("=", "+", "-", "@", "\u2212")  # U+2212: the minus sign some programs take for "-"
_UNSEEN = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
"""Unicode categories of what a spreadsheet skips or shows as nothing before a formula: controls
(NUL, vertical tab), format characters (BOM, zero-width space and joiners, word joiner, soft
hyphen, direction marks) and spaces (no-break, ideographic)."""


# --- reading ---------------------------------------------------------------------------------------


def courses_head(store: CatalogueStore) -> int:
    """The seq of the newest course change (0 when empty): a snapshot's version."""
    with store.reading() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(courses.c.seq), 0))).scalar_one())


def changes_head(store: CatalogueStore) -> int:
    """The newest seq of any change (courses and eligibility): what a search result depends on."""
    with store.reading() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))).scalar_one())


def active_courses(store: CatalogueStore, ids: Iterable[str]) -> Iterator[StoredCourse]:
    """The active courses among `ids`, in the order given (unknown and withdrawn ids skipped),
    read in batches."""
    pending: list[str] = []
    for course_id in ids:
        pending.append(course_id)
        if len(pending) == BATCH:
            yield from _load(store, pending)
            pending = []
    if pending:
        yield from _load(store, pending)


def _load(store: CatalogueStore, ids: Sequence[str]) -> list[StoredCourse]:
    with store.reading() as conn:
        found = {s.id: s for s in stored_courses(conn, courses.c.id.in_(list(ids)))}
    return [found[i] for i in ids if i in found and found[i].status is CourseStatus.ACTIVE]


# --- ELM ---------------------------------------------------------------------------------------------


def elm_turtle(items: Iterable[Course], base: str) -> Iterator[bytes]:
    """One Turtle graph of every course, in chunks of BATCH courses."""
    seen: set[Triple] = set()
    batch: list[Triple] = []
    count = 0
    for course in items:
        batch += _new_triples(course, base, seen)
        count += 1
        if count % BATCH == 0:
            yield _turtle(batch)
            batch = []
    if batch or count == 0:
        yield _turtle(batch)


def _new_triples(course: Course, base: str, seen: set[Triple]) -> list[Triple]:
    """The course's triples minus shared ones (vocabulary concepts) already written."""
    own = opportunity_iri(course, base)
    kept = []
    for triple in course_triples(course, base):
        subject = str(triple.subject)[1:-1]  # "<iri>" -> iri
        if subject == own or subject.startswith(own + "#"):
            kept.append(triple)
        elif triple not in seen:
            seen.add(triple)
            kept.append(triple)
    return kept


def _turtle(triples: list[Triple]) -> bytes:
    data = serialize(triples, format=RdfFormat.TURTLE, prefixes=dict(PREFIXES))
    assert data is not None
    return data


def elm_jsonld(items: Iterable[Course], base: str) -> Iterator[bytes]:
    """One JSON-LD document, {"@context": prefixes, "@graph": [...]}, of every course."""
    yield b'{"@context": ' + json.dumps(dict(JSONLD_CONTEXT)).encode() + b', "@graph": ['
    seen: set[str] = set()
    first = True
    for course in items:
        own = opportunity_iri(course, base)
        nodes = []
        for node in to_jsonld(course, base)["@graph"]:
            node_id = str(node.get("@id", ""))
            if node_id != own and not node_id.startswith(own + "#"):
                if node_id in seen:
                    continue
                seen.add(node_id)
            nodes.append(json.dumps(node, ensure_ascii=False))
        if nodes:
            yield ((b"\n" if first else b",\n") + ",\n".join(nodes).encode())
            first = False
    yield b"\n]}\n"


# --- snapshots ---------------------------------------------------------------------------------------


def snapshot_jsonl(items: Iterable[StoredCourse]) -> Iterator[bytes]:
    """JSON Lines: one stored course per line (see the module docstring)."""
    lines: list[str] = []
    for stored in items:
        record = {
            "course": course_to_dict(stored.course),
            "status": stored.status.value,
            "updated_at": stored.updated_at.isoformat(),
            "seq": stored.seq,
        }
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        if len(lines) == BATCH:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def csv_safe(value: str) -> str:
    """The cell as a spreadsheet shows it, never runs it: a cell that is or may become a formula
    gets a leading "'" before its unchanged text.

    A formula is recognised behind what a reader cannot see and in its compatibility forms: the
    characters before the first visible one (`_UNSEEN`) are skipped, and that one is compared
    after NFKC normalisation, so a BOM or a zero-width space before "=", or a fullwidth "＝",
    "＋", "－", "＠" (and their small forms) are guarded like "=" itself."""
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    start = 0
    while start < len(value) and unicodedata.category(value[start]) in _UNSEEN:
        start += 1
    if start < len(value) and unicodedata.normalize("NFKC", value[start]).startswith(_FORMULA_MARKS):
        return "'" + value
    return value


def csv_row(stored: StoredCourse) -> list[str]:
    """The CSV_COLUMNS cells of one course (formula-safe; lists joined with ";")."""
    c = stored.course
    price = c.price
    values: list[Any] = [
        c.id,
        first_text(c.title, c.languages),
        first_text(c.provider.name, ("en", *c.languages)),
        c.country,
        c.eqf_level,
        _number(c.workload.ects),
        c.workload.ects_basis if c.workload.ects is not None else None,
        ";".join(c.languages),
        ";".join(c.modes),
        ";".join(c.isced_f),
        c.start_date.isoformat() if c.start_date else None,
        c.end_date.isoformat() if c.end_date else None,
        c.duration,
        _number(price.amount) if price is not None else None,
        price.currency if price is not None else None,
        c.url,
        stored.updated_at.isoformat(),
        stored.status.value,
    ]
    return [csv_safe("" if v is None else str(v)) for v in values]


def snapshot_csv(items: Iterable[StoredCourse]) -> Iterator[bytes]:
    """A header row, then one row per course (CRLF line ends, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, stored in enumerate(items, 1):
        writer.writerow(csv_row(stored))
        if count % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _number(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")
