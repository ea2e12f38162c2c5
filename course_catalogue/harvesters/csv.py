"""CSV harvester: each data row of a delimited text feed becomes a RawItem holding {header: cell} as JSON.

Reading rules (the contract the tests pin down):

* Encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); else strict UTF-8 if the whole feed
  is valid UTF-8; else charset-normalizer's best guess. `spec.reader["encoding"]` overrides all of
  this (detection of short single-byte feeds is a guess: cp1250 and cp1252 look alike).
* Delimiter: `spec.reader["delimiter"]`, else csv.Sniffer on the first 64 KiB restricted to
  , ; TAB |, else ",". Quoting is standard RFC 4180 (double quotes, doubled to escape); quoted cells
  may span lines.
* The first non-blank row is the header; it must name every column exactly once (ParseError).
* Blank lines and rows whose cells are all empty are skipped; a feed with no row but its header
  is a ParseError, never an empty catalogue. A row with a different number of cells than the
  header (surplus empty trailing cells aside) or with a cell longer than `max_cell_chars` is
  reported as an ERROR on that row; the rest of the feed still lands.
* `RawItem.pointer` is "line N": the physical line where the record starts (1-based).
* Limits: a header of more than `max_columns` (10,000) columns, or a physical line with more
  delimiters, fails the feed before the csv module builds the cells; so does a cell over 8x
  `max_cell_chars` (after it the parser cannot tell the cell's text from rows).

Cells are passed on verbatim. Spreadsheet formula injection (cells starting with = + - @) is a
concern of whoever exports to spreadsheets, not of the harvester, which must keep what was published.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from typing import Any

import charset_normalizer

from course_catalogue.catalogue.errors import ParseError
from course_catalogue.catalogue.jsontext import dumps_bytes
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Feed, Gathered, feed_chunks, feed_stream
from course_catalogue.mappings.csv_options import MAX_CELL_CHARS, CsvOptions
from course_catalogue.mappings.items import CSV_ROW, RawItem

_HARD_FIELD_LIMIT = 8 * MAX_CELL_CHARS
# csv.field_size_limit is process-wide and, once exceeded, leaves the parser out of step with the
# record boundaries (the rest of a quoted cell is read as new rows, which could pass for records).
# So it is a backstop above the soft cap (which is checked on whole parsed rows and keeps the
# parser in step), and a cell past it fails the feed. It bounds memory too: the csv module grows
# a cell in a 4-bytes-per-character buffer (a 64M-character limit let one cell take ~500 MB).

_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_CHUNK = 1 << 18
_BOMS = (  # UTF-32 first: its little-endian mark begins with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(data: Feed) -> str:
    """The feed's text encoding: BOM, else strict UTF-8, else charset-normalizer; ParseError if none fits."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if _first_invalid_byte(data, "utf-8") is None:
        return "utf-8"
    best = charset_normalizer.from_bytes(data if isinstance(data, bytes) else data[:]).best()
    if best is None:
        raise ParseError(
            "could not tell the feed's text encoding: it does not look like text (is it really CSV?); "
            "if it is, set reader.encoding in the mapping"
        )
    return str(best.encoding)


def check_decodable(data: Feed, encoding: str) -> None:
    """ParseError naming the line of the first byte sequence that is not valid in `encoding`."""
    offset = _first_invalid_byte(data, encoding)
    if offset is None:
        return
    where = f"byte {offset}"
    if "\n".encode(encoding) == b"\n":  # ASCII-compatible: line breaks can be counted in bytes
        line = data.count(b"\n", 0, offset) + 1
        where = f"line {line} ({where})"
    raise ParseError(
        f"{where}: the feed is not valid {encoding}; "
        "set reader.encoding in the mapping if the detected or given encoding is wrong"
    )


def _first_invalid_byte(data: Feed, encoding: str) -> int | None:
    """Offset of the first undecodable byte, or None. Decodes in chunks and keeps no text, so a
    large feed is never held as one big string."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    start, chunk = 0, memoryview(b"")
    try:
        for start, chunk in feed_chunks(data, _CHUNK):  # noqa: B007 (the except clause reads it)
            decoder.decode(chunk)
        start, chunk = len(data), memoryview(b"")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        carried = len(exc.object) - len(chunk)  # bytes of an earlier chunk the decoder held back
        return max(0, start - carried + exc.start)
    return None


def sniff_delimiter(data: Feed, encoding: str) -> str:
    """The delimiter csv.Sniffer finds among , ; TAB | in the first 64 KiB; "," when it cannot tell."""
    sample = codecs.getincrementaldecoder(encoding)("replace").decode(data[:_SNIFF_BYTES])
    if len(data) > _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rfind("\n")]  # a cut-off last line would skew the counts
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    first_line = sample.lstrip("\ufeff\r\n").split("\n", 1)[0]
    if delimiter not in first_line:
        # The sniffer votes on the body; trust the header when it disagrees (e.g. a one-row feed).
        counts = Counter(ch for ch in first_line if ch in _DELIMITERS)
        delimiter = counts.most_common(1)[0][0] if counts else ","
    return delimiter


class CsvHarvester:
    """Harvester for format "csv". Streams: memory grows with the largest row, not the feed."""

    def gather(self, data: Feed, spec: Any) -> Iterator[Gathered]:
        options = CsvOptions.from_reader(getattr(spec, "reader", None))
        encoding = options.encoding or detect_encoding(data)
        check_decodable(data, encoding)
        delimiter = options.delimiter or sniff_delimiter(data, encoding)
        hard_limit = max(_HARD_FIELD_LIMIT, 2 * options.max_cell_chars)
        if csv.field_size_limit() < hard_limit:
            csv.field_size_limit(hard_limit)
        # newline="" hands line endings to the csv module, as it requires for quoted multi-line cells.
        text = io.TextIOWrapper(feed_stream(data), encoding=encoding, errors="strict", newline="")
        lines = _narrow_lines(text, delimiter, options.max_columns)
        reader = csv.reader(lines, delimiter=delimiter, quotechar=options.quotechar, strict=False)
        rows = _numbered_rows(reader, encoding)
        header = _read_header(rows)
        if len(header) > options.max_columns:
            raise ParseError(
                f"the header row names {len(header)} columns, more than {options.max_columns} "
                "(reader.max_columns)"
            )
        found = False
        for line, cells in rows:
            if isinstance(cells, csv.Error):
                found = True
                yield _unreadable(line, f"row could not be read: {cells}", "unreadable-row", {})
            elif any(cell.strip() for cell in cells):
                found = True
                yield _row(header, cells, line, options.max_cell_chars)
        if not found:
            raise ParseError(
                "the feed has a header row but no record: an empty feed is refused, so that a "
                "truncated or broken export cannot withdraw every course of its source"
            )


_Row = tuple[int, "list[str] | csv.Error"]


def _narrow_lines(text: Iterator[str], delimiter: str, max_columns: int) -> Iterator[str]:
    """The physical lines of `text`; ParseError for a line with more than `max_columns`
    delimiters, before the csv module splits it (a row's cells cost ~50 bytes each, so a line of
    a million empty cells made ~60 MB). Delimiters inside a quoted cell count too: a cell with
    more than `max_columns` of them on one line is not course data either."""
    for number, line in enumerate(text, start=1):
        if len(line) > max_columns and line.count(delimiter) > max_columns:
            raise ParseError(
                f"line {number} has more than {max_columns} {delimiter!r} delimiters: more columns "
                "than a feed may have (reader.max_columns)"
            )
        yield line


def _numbered_rows(reader: Any, encoding: str) -> Iterator[_Row]:
    """(physical start line, cells or the csv error of that row); decoding failures fail the feed."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"near line {line}: the feed is not valid {encoding} ({exc.reason}); "
                "set reader.encoding in the mapping if the detected encoding is wrong"
            ) from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                # the parser is out of step: what follows could be the cell's text read as rows
                raise ParseError(
                    f"near line {line}: a cell has more than {csv.field_size_limit()} characters; "
                    "the rest of the feed cannot be told apart from it"
                ) from None
            yield line, exc
            continue
        yield line, cells


def _read_header(rows: Iterator[_Row]) -> list[str]:
    """The first non-blank row, checked: every column named, no name twice."""
    for line, cells in rows:
        if isinstance(cells, csv.Error):
            raise ParseError(f"line {line}: the header row could not be read: {cells}")
        if not any(cell.strip() for cell in cells):
            continue
        header = [cell.strip() for cell in cells]
        header[0] = header[0].lstrip("\ufeff")  # a BOM left by an explicit "utf-8" override
        empty = [str(i) for i, name in enumerate(header, 1) if not name]
        if empty:
            raise ParseError(
                f"line {line}: the header row has no name for column(s) {', '.join(empty)}; "
                "every column needs a unique name"
            )
        duplicates = [name for name, n in Counter(header).items() if n > 1]
        if duplicates:
            names = ", ".join(repr(name) for name in duplicates)
            raise ParseError(f"line {line}: the header row names column(s) {names} more than once")
        return header
    raise ParseError("the feed is empty: expected a header row naming the columns")


def _row(header: list[str], cells: list[str], line: int, max_cell: int) -> Gathered:
    if len(cells) > len(header) and not any(cell.strip() for cell in cells[len(header) :]):
        cells = cells[: len(header)]  # trailing delimiters (spreadsheet exports) carry no data
    record = dict(zip(header, cells, strict=False))
    if len(cells) != len(header):
        message = (
            f"row has {len(cells)} cells but the header has {len(header)} columns "
            "(an unquoted delimiter or line break in a cell?); the row was skipped"
        )
        return _unreadable(line, message, "ragged-row", record)
    if cells and max(map(len, cells)) > max_cell:  # (one pass in C: the rows that pass)
        name, cell = next((name, cell) for name, cell in record.items() if len(cell) > max_cell)
        message = f"cell {name!r} has {len(cell)} characters, more than the limit of {max_cell}"
        trimmed = {k: v[:200] for k, v in record.items()}
        return _unreadable(line, message, "cell-too-large", trimmed, cell[:100])
    return Gathered(RawItem(dumps_bytes(record), CSV_ROW, pointer=f"line {line}", parsed=record))


def _unreadable(
    line: int,
    message: str,
    code: str,
    record: dict[str, str],
    value: str | None = None,
) -> Gathered:
    """An item the reader could not reconstruct faithfully, with the ERROR saying why."""
    pointer = f"line {line}"
    content = dumps_bytes(record)
    issue = Issue(Severity.ERROR, message, pointer=pointer, code=code, value=value)
    return Gathered(RawItem(content, CSV_ROW, pointer=pointer, parsed=record), (issue,))
