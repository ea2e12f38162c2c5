"""Duration normalisers: ISO 8601 or "7 Weeks" / "3 mois" -> ISO 8601, and effort x length -> hours.

Calendar arithmetic uses the Gregorian averages (year 365.25 days, month 30.4375 days, week 7
days). A range ("2–3 hours per week") counts as its midpoint; the published text stays in
`Course.originals`, so no separate issue is raised for it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from course_catalogue.catalogue.model import Workload
from course_catalogue.mappings.transforms.numerals import (
    NUMBER,
    parse_number,
    quantities,
    range_words,
    spelled_out,
    tidy,
    words_pattern,
)
from course_catalogue.mappings.transforms.result import Result, fold, info, ok, unaccented, warn

_N = r"(\d+(?:[.,]\d+)?)"
_ISO = re.compile(
    rf"^P(?!$)(?:{_N}Y)?(?:{_N}M)?(?:{_N}W)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?$"
)
_ISO_FIELDS = ("Y", "M", "W", "D", "TH", "TM", "TS")

_UNIT_OF = {unaccented(word): unit for unit, words in quantities()["units"].items() for word in words}
_UNIT = words_pattern(tuple(_UNIT_OF))
_QUANTITY = re.compile(rf"({NUMBER})(?:\s*(?:{range_words()})\s*({NUMBER}))?\s*({_UNIT})\b\.?")
_PER = re.compile(rf"(?:\b(?:{words_pattern(quantities()['per']['words'])})\s+|/\s*)({_UNIT})\b")
_ADVERB_OF = {unaccented(w): unit for unit, words in quantities()["per"]["adverbs"].items() for w in words}
_PER_ADVERB = re.compile(rf"\b({words_pattern(tuple(_ADVERB_OF))})\b")
_DAYS = {"Y": Decimal("365.25"), "M": Decimal("30.4375"), "W": Decimal(7), "D": Decimal(1)}


def _iso_parts(value: str) -> dict[str, Decimal] | None:
    match = _ISO.match(value)
    if match is None:
        return None
    return {
        unit: Decimal(number.replace(",", "."))
        for unit, number in zip(_ISO_FIELDS, match.groups(), strict=True)
        if number is not None
    }


def iso_hours(value: str) -> Decimal | None:
    """Hours of an ISO 8601 duration with only a time part ("PT40H", "PT90M"); else None."""
    parts = _iso_parts(value)
    if not parts or any(unit in parts for unit in ("Y", "M", "W", "D")):
        return None
    return parts.get("TH", Decimal(0)) + parts.get("TM", Decimal(0)) / 60 + parts.get("TS", Decimal(0)) / 3600


def quantity_text(value: str) -> str:
    """A published quantity as the patterns read it: case folded, without accents, numbers in
    words as digits ("Cinq heures par semaine" -> "5 heures par semaine")."""
    return spelled_out(unaccented(fold(value)))


def _period(text: str) -> str | None:
    """The period unit an effort is given per ("per week", "/wk", "weekly"), if any."""
    per = _PER.search(text)
    if per:
        return _UNIT_OF[per.group(1)]
    adverb = _PER_ADVERB.search(text)
    return _ADVERB_OF[" ".join(adverb.group(1).split())] if adverb else None


def _quantities(text: str) -> tuple[list[tuple[Decimal, str]], bool]:
    """(amount, unit) pairs found in a folded text, ranges as midpoints; flag: any range seen."""
    found: list[tuple[Decimal, str]] = []
    ranged = False
    for low, high, word in _QUANTITY.findall(text):
        amount = parse_number(low)
        if amount is None:
            continue
        if high and (top := parse_number(high)) is not None:
            amount, ranged = (amount + top) / 2, True
        found.append((amount, _UNIT_OF[word]))
    return found, ranged


def _iso_text(parts: list[tuple[Decimal, str]]) -> str:
    totals: dict[str, Decimal] = {}
    for amount, unit in parts:
        totals[unit] = totals.get(unit, Decimal(0)) + amount
    if "W" in totals and len(totals) > 1:  # ISO 8601 forbids mixing weeks with other units
        totals["D"] = totals.get("D", Decimal(0)) + totals.pop("W") * 7
    date = "".join(f"{tidy(totals[u])}{u}" for u in ("Y", "M", "W", "D") if u in totals)
    time = "".join(f"{tidy(totals[u])}{u[1]}" for u in ("TH", "TM") if u in totals)
    return "P" + date + (f"T{time}" if time else "")


def duration(value: str) -> Result[str]:
    """ISO 8601 duration from ISO ("P7W", "PT40H", "P3Y6M") or text ("7 Weeks", "3 mois", "2 days").

    A range becomes its midpoint ("2-4 weeks" -> "P3W") with an INFO note. An effort ("3 hours
    per week") is not a duration and is reported.
    """
    compact = value.strip().upper().replace(" ", "")
    if _iso_parts(compact) is not None:
        return ok(compact)
    text = quantity_text(value)
    if _period(text):
        return warn(f"{value[:80]!r} is an effort per period, not a duration", "invalid-duration")
    parts, ranged = _quantities(text)
    if not parts:
        return warn(f"not a duration: {value[:80]!r}", "invalid-duration")
    iso = _iso_text(parts)
    if ranged:
        return info(iso, f"duration range {value.strip()!r} read as its midpoint {iso}", "range-midpoint")
    return ok(iso)


def _length_days(value: str) -> Decimal | None:
    parts = _iso_parts(value.strip().upper().replace(" ", ""))
    if parts is None:
        found, _ = _quantities(quantity_text(value))
        parts = {unit: amount for amount, unit in found}
    if not parts or any(unit.startswith("T") for unit in parts):
        return None
    return sum((amount * _DAYS[unit] for unit, amount in parts.items()), Decimal(0))


def _effort(text: str) -> tuple[Decimal, str | None] | None:
    """(hours, period unit or None for a total) of an effort text."""
    found, _ = _quantities(text)
    time = [(amount, unit) for amount, unit in found if unit in ("TH", "TM")]
    if len(time) != 1:
        return None
    amount, unit = time[0]
    period = _period(text)
    if period in ("TH", "TM"):
        return None
    return (amount if unit == "TH" else amount / 60), period


def effort_hours(values: tuple[str | None, ...]) -> Result[Workload]:
    """Total notional hours from (effort, length): "2–3 hours per week" x "7 Weeks" -> 17.5 h.

    An effort without a period ("40 hours") is already the total and needs no length.
    """
    effort_text = values[0] if values else None
    length_text = values[1] if len(values) > 1 else None
    if not effort_text:
        return ok(None)
    effort = _effort(quantity_text(effort_text))
    if effort is None:
        return warn(f"not an effort in hours: {effort_text[:80]!r}", "invalid-effort")
    hours, period = effort
    if period is None:
        return ok(Workload(hours=tidy(hours)))
    days = _length_days(length_text) if length_text else None
    if days is None:
        return warn(
            f"effort {effort_text!r} needs a course length to give total hours; got {length_text!r}",
            "missing-length",
        )
    return ok(Workload(hours=tidy(hours * days / _DAYS[period])))
