"""Sort keys: one string per sort order, ending in the id, so ties break by id and paging is stable.

Both engines store the same keys (the embedded engine as fast columns, OpenSearch as keywords)
and compare them as strings: missing values sort last ("~" is after digits), ties by title, then
by id. A title key folds accents but keeps every script.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from course_catalogue.search.backend import Document

SORT_FIELDS: Mapping[str, str] = {
    "start_date": "sort_start",
    "ects": "sort_ects",
    "price": "sort_price",
    "title": "sort_title",
}
"""Sort order -> the document field holding its key."""
KEY_SEP = "\x01"  # sorts before every printable character, so "ab" < "abc" holds in keys


def number_key(value: float | None, doc_id: str) -> str:
    """`sort_key` of a float field whose document value is `value`."""
    return KEY_SEP.join(("~" if value is None else f"{round(float(value) * 100):015d}", doc_id))


def sort_key(sort: str, doc: Document, title: str | None = None) -> str:
    """Ascending sort key; missing values sort last ("~" is after digits), ties by title then id.

    `title`: the document's `title_key`, when the caller already has it."""
    title = title_key(str(doc.get("title") or "")) if title is None else title
    if sort == "title":
        parts = [title]
    elif sort == "start_date":
        parts = [str(doc.get("start_date") or "~"), title]
    else:
        value = doc.get(sort)
        parts = ["~" if value is None else f"{round(float(value) * 100):015d}"]
    return KEY_SEP.join([*parts, str(doc["id"])])


def title_key(title: str) -> str:
    """Sort key of a title: accents folded ("Économie" sorts with "economie") but letters kept, so
    Arabic, Greek or Chinese titles get a real key (after Latin ones) instead of an empty one."""
    if title.isascii():  # nothing to fold: the common case, ten times cheaper
        return " ".join(title.casefold().split())[:64]
    folded = unicodedata.normalize("NFKD", title).translate(_UNCOMBINED)
    return " ".join(folded.casefold().split())[:64]


class _Uncombined(dict[int, int | None]):
    """A `str.translate` table that deletes combining characters (the accents NFKD splits off):
    the same text as keeping the characters `unicodedata.combining` is 0 for, at C speed. Filled
    as characters are met (at most one entry per code point)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNCOMBINED = _Uncombined()
