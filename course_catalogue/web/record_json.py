"""Records and hits as the API publishes them: numbers as JSON numbers, snippets also as plain text.

The store keeps money and credits as Decimal strings ("0.84") so a round trip is exact; a
registry reading /api/v1/courses/{id} beside /api/v1/search must see one type per field, and
search hits already carry ECTS and prices as numbers. So every value the model holds as a
Decimal (workload ECTS, hours, hours per ECTS, price amount) becomes a JSON number here:
an integer when it is whole, else a float (credits and prices have few digits; a float
prints them back unchanged).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Any

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.model import Course


def number(value: Decimal) -> int | float:
    """A Decimal as the JSON number it stands for (int when whole)."""
    return int(value) if value == value.to_integral_value() else float(value)


def api_record(course: Course) -> dict[str, Any]:
    """The full record as `course_to_dict` gives it, with every Decimal of the model a number."""
    record: dict[str, Any] = _numbers(course, course_to_dict(course))
    return record


def _numbers(value: Any, plain: Any) -> Any:
    """`plain` (the JSON-safe form of `value`) with the Decimals of `value` turned into numbers."""
    if isinstance(value, Decimal):
        return number(value)
    if is_dataclass(value) and isinstance(plain, dict):
        names = {f.name for f in fields(value)}
        return {
            key: _numbers(getattr(value, key), item) if key in names else item for key, item in plain.items()
        }
    if isinstance(value, Mapping) and isinstance(plain, dict):
        return {key: _numbers(value[key], item) if key in value else item for key, item in plain.items()}
    if isinstance(value, tuple | list) and isinstance(plain, list) and len(value) == len(plain):
        return [_numbers(v, p) for v, p in zip(value, plain, strict=True)]
    return plain


_HIGHLIGHT = re.compile(r"</?b>")


def plain_snippet(snippet: str | None) -> str | None:
    """The highlighted snippet as plain text, for clients that do not render HTML.

    Relies on the engines' contract (`search.query.Hit.snippet`): only `<b>` and `</b>` tags,
    every other character escaped, so dropping the tags and unescaping gives the text back.
    """
    if snippet is None:
        return None
    return html.unescape(_HIGHLIGHT.sub("", snippet))
