"""The `[reader]` options of a CSV spec: one schema, checked once, for the spec loader and the reader.

`CsvOptions.from_reader` is the only place these options are validated and normalised: the spec
loader (`mappings.spec`) calls it when a spec is loaded, so a bad option fails the spec, and the
CSV reader (`harvesters.csv`) reads the normalised values (a delimiter named "tab" is a tab
character for both).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from course_catalogue.catalogue.errors import ConfigurationError

MAX_CELL_CHARS = 1_000_000
"""Default soft cap on one cell: a bigger cell rejects its row, not the feed."""
MAX_COLUMNS = 10_000
"""Default `reader.max_columns`: more columns in the header, or more delimiters on one physical
line, fail the feed before the csv module builds the cells (a million-cell row cost 20x its bytes)."""


class ReaderOptionError(ConfigurationError):
    """A bad CSV reader option: `option` names it (None: the set of keys), `problem` says what is
    wrong, for the spec loader's `reader.<option>: <problem>` messages."""

    def __init__(self, message: str, option: str | None, problem: str) -> None:
        super().__init__(message)
        self.option = option
        self.problem = problem


_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_READER_KEYS = ("encoding", "delimiter", "quotechar", "max_cell_chars", "max_columns")


@dataclass(frozen=True)
class CsvOptions:
    """Reader overrides from `spec.reader`; None means detect."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str = '"'
    max_cell_chars: int = MAX_CELL_CHARS
    max_columns: int = MAX_COLUMNS

    @classmethod
    def from_reader(cls, reader: Mapping[str, Any] | None) -> CsvOptions:
        """Validate `spec.reader`; ConfigurationError names the bad key (typos must not pass silently)."""
        reader = dict(reader or {})
        unknown = sorted(set(reader) - set(_READER_KEYS))
        if unknown:
            known = f"known: {', '.join(_READER_KEYS)}"
            raise ReaderOptionError(
                f"unknown CSV reader option(s) {', '.join(unknown)}; {known}",
                None,
                f"unknown key(s) {', '.join(unknown)}; {known}",
            )
        encoding = reader.get("encoding")
        if encoding is not None:
            try:
                encoding = codecs.lookup(str(encoding)).name
            except (LookupError, TypeError):
                problem = f"unknown encoding {encoding!r}"
                raise ReaderOptionError(
                    f"unknown CSV reader encoding {encoding!r}", "encoding", problem
                ) from None
        delimiter = reader.get("delimiter")
        if delimiter is not None:
            delimiter = _DELIMITER_NAMES.get(str(delimiter).lower(), str(delimiter))
            if len(delimiter) != 1:
                raise _bad("delimiter", f"must be one character, got {delimiter!r}")
        quotechar = str(reader.get("quotechar", '"'))
        if len(quotechar) != 1:
            raise _bad("quotechar", f"must be one character, got {quotechar!r}")
        limits = []
        for key, default in (("max_cell_chars", MAX_CELL_CHARS), ("max_columns", MAX_COLUMNS)):
            value = reader.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise _bad(key, f"must be a positive integer, got {value!r}")
            limits.append(value)
        return cls(encoding, delimiter, quotechar, *limits)


def _bad(option: str, problem: str) -> ReaderOptionError:
    return ReaderOptionError(f"CSV reader {option} {problem}", option, problem)
