"""Date normaliser: ISO dates and datetimes, YYYYMMDD (LHEO), numeric and written dates.

Written without python-dateutil on purpose: its parser fills missing parts from today's date
and accepts almost any text, where we must report what we cannot read. A numeric date whose
day/month order is unclear ("03/04/2025") is reported unless the spec sets `day_first`.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from course_catalogue.mappings.transforms.result import Result, fold, ok, warn

_MONTH_NAMES = (
    "january janvier januar enero gennaio januari janeiro jan janv ene gen",
    "february février fevrier februar febrero febbraio februari fevereiro feb févr fevr",
    "march mars märz maerz marzo maart março mar mär",
    "april avril abril aprile apr avr abr",
    "may mai mayo maggio mei maio",
    "june juin juni junio giugno junho jun",
    "july juillet juli julio luglio julho jul juil lug",
    "august août aout agosto augustus aug ago",
    "september septembre septiembre settembre setembro sep sept set",
    "october octobre oktober octubre ottobre outubro oct okt ott out",
    "november novembre noviembre novembro nov",
    "december décembre decembre dezember diciembre dicembre dezembro dec déc dez dic",
)
_MONTH = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names.split()}
_MONTH_RE = "|".join(sorted(map(re.escape, _MONTH), key=len, reverse=True))
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})$")
_DAY_MONTH = re.compile(
    rf"^(?:[^\W\d]+,?\s+)?(\d{{1,2}})(?:er|st|nd|rd|th|\.)?\s+(?:de\s+)?({_MONTH_RE})\.?,?\s+(?:de\s+)?(\d{{4}})$"
)
_MONTH_DAY = re.compile(rf"^(?:[^\W\d]+,?\s+)?({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})$")


def _make(year: int, month: int, day: int, published: str) -> Result[date]:
    try:
        return ok(date(year, month, day))
    except ValueError:
        return warn(f"no such date: {published[:80]!r}", "invalid-date")


def _numeric(
    day_or_month: int, month_or_day: int, year: int, day_first: bool | None, published: str
) -> Result[date]:
    if day_first is None:
        if day_or_month == month_or_day or day_or_month > 12:
            day_first = True
        elif month_or_day > 12:
            day_first = False
        else:
            return warn(
                f"ambiguous date {published!r}: day/month order unknown (set day_first in the spec)",
                "ambiguous-date",
            )
    if day_first:
        return _make(year, month_or_day, day_or_month, published)
    return _make(year, day_or_month, month_or_day, published)


def date_value(value: str, day_first: bool | None = None) -> Result[date]:
    """A calendar date from "2025-03-03", "2025-03-03T00:00:00Z", "20250303", "03/03/2025",
    "3 March 2025", "March 3, 2025", "3 mars 2025", "1er mars 2025".

    A datetime keeps its own calendar day (no time-zone conversion). `day_first` settles
    numeric dates; without it only unambiguous ones are read.
    """
    text = value.strip()
    try:
        return ok(date.fromisoformat(text))
    except ValueError:
        pass
    try:
        return ok(datetime.fromisoformat(text).date())
    except ValueError:
        pass
    if m := _COMPACT.match(text):
        return _make(int(m[1]), int(m[2]), int(m[3]), text)
    if m := _NUMERIC.match(text):
        return _numeric(int(m[1]), int(m[2]), int(m[3]), day_first, text)
    if m := _YEAR_FIRST.match(text):
        return _make(int(m[1]), int(m[2]), int(m[3]), text)
    folded = fold(text)
    if m := _DAY_MONTH.match(folded):
        return _make(int(m[3]), _MONTH[m[2]], int(m[1]), text)
    if m := _MONTH_DAY.match(folded):
        return _make(int(m[3]), _MONTH[m[1]], int(m[2]), text)
    return warn(f"not a date: {value[:80]!r}", "invalid-date")
