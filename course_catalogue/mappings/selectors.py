"""Selector languages: how a spec points into one raw item, keyed by the item's media type.

A spec field names its source with a selector key (`column` for CSV rows). Each media type has
one `SelectorLanguage` that parses an item into a document once and compiles selector
expressions into functions over that document. Adding XML (`xpath`) or RDF (`path`) means
adding one class (in its own module) and one `LANGUAGES` entry here (`FORMAT_MEDIA_TYPES`, a
format's item media type, derives from the formats table `catalogue.formats`); the spec loader
and engine are unchanged.

Optional members a language may add (the spec loader looks for them with getattr):

* `compile_nodes(key, expression) -> SelectNodes`: for repeating groups (`each = "..."`); the
  nodes it returns are documents for the language's selectors. Without it, `each` is a spec error.
* `configure(namespaces, reader) -> SelectorLanguage`: a copy bound to the spec's `[namespaces]`
  (prefix -> IRI) and `[reader]` options, called once per spec before any `compile`. Without it,
  `[namespaces]` is a spec error.
* `reader_checks: Mapping[str, Callable[[Any], str | None]]`: accepted `[reader]` keys and their
  checks (a problem text or None) for formats the loader has no table for.
* `coverage_tracker(uses) -> mappings.coverage.CoverageTracker`: how the language names the
  source paths of a record and learns which of them the spec's selectors (`uses`) read, for the
  run's coverage report. Without it, runs of the language's specs have no coverage report.

Selectors return `mappings.values.Published` values: strings, or `LangValue`s (text and
language) where the format says a value's language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from course_catalogue.catalogue.formats import FORMATS
from course_catalogue.mappings.coverage import ColumnTracker, SelectorUse
from course_catalogue.mappings.items import CSV_ROW, RawItem
from course_catalogue.mappings.json_paths import JSON_MEDIA_TYPE, JsonRecords
from course_catalogue.mappings.rdf_paths import N_TRIPLES, RdfRecords
from course_catalogue.mappings.selection import Select, SelectorLanguage
from course_catalogue.mappings.values import Published
from course_catalogue.mappings.xml_paths import XML_MEDIA_TYPE, XmlRecords


class CsvRows:
    """CSV rows stored as JSON objects {header: cell}; selectors are header names."""

    media_type: str = CSV_ROW
    keys: tuple[str, ...] = ("column",)

    def compile(self, key: str, expression: str) -> Select:
        if not expression:
            raise ValueError("a column name cannot be empty")

        def select(row: dict[str, Any]) -> list[Published] | None:
            cell = row.get(expression)
            if cell is None:
                return None if expression not in row else []
            return [cell] if isinstance(cell, str) else [str(cell)]

        return select

    def coverage_tracker(self, uses: Iterable[SelectorUse]) -> ColumnTracker:
        """Coverage by column: the non-blank cells of a row; the columns the selectors name."""
        return ColumnTracker(uses)

    def parse(self, item: RawItem) -> Any:
        if isinstance(item.parsed, dict):
            return item.parsed
        try:
            row = json.loads(item.content)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"CSV row is not a JSON object: {exc}") from exc
        if not isinstance(row, dict):
            raise ValueError("CSV row is not a JSON object")
        return row


LANGUAGES: dict[str, SelectorLanguage] = {
    CSV_ROW: CsvRows(),
    XML_MEDIA_TYPE: XmlRecords(),
    N_TRIPLES: RdfRecords(),
    JSON_MEDIA_TYPE: JsonRecords(),
}
"""Media type -> selector language."""

FORMAT_MEDIA_TYPES: Mapping[str, str] = {name: fmt.items for name, fmt in FORMATS.items()}
"""Spec `format` -> media type of the items its reader produces (from `catalogue.formats`)."""
