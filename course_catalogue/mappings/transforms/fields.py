"""ISCED-F 2013 field-of-education normaliser: codes, ISCED-F IRIs and the official English labels.

Subject names that are not ISCED-F labels ("Computer Science") are mapped in the spec's `map`
table, which is data; this transform then checks the code against the vocabulary.
"""

from __future__ import annotations

import re
from functools import cache

from course_catalogue.catalogue.vocabularies import isced_fields
from course_catalogue.mappings.transforms.result import Result, fold, ok, warn

_CODE = re.compile(r"^(?:.*/isced-f/)?(\d{2,4})\b")


@cache
def _labels() -> dict[str, str]:
    """Folded English label -> code; a label shared by several levels keeps the broadest code."""
    table: dict[str, str] = {}
    for code in sorted(isced_fields(), key=len, reverse=True):
        table[fold(isced_fields()[code].label)] = code
    return table


def isced_f(value: str) -> Result[str]:
    """ISCED-F code ("0613") from "0613", "061", "0613 Software and applications development",
    an ISCED-F IRI (http://data.europa.eu/snb/isced-f/0613) or an exact English label."""
    text = value.strip()
    match = _CODE.match(text)
    if match:
        code = match.group(1)
        if code in isced_fields():
            return ok(code)
        return warn(f"{code!r} is not an ISCED-F 2013 code", "unknown-isced")
    code = _labels().get(fold(text))
    if code is not None:
        return ok(code)
    return warn(f"{value[:80]!r} is neither an ISCED-F code nor an ISCED-F label", "unknown-isced")
