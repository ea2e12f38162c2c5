"""ECTS normalisers: stated ECTS, ECTS estimated from notional hours, and other credit schemes.

Rates, with their sources:
* ECTS Users' Guide 2015, section 3.1: one ECTS credit is 25-30 hours of work. We estimate at 25
  h/ECTS by default (the lower bound: an estimate should not inflate credit) and record the rate
  used in `Workload.hours_per_ects`; a spec may pass another rate via args.
* SCQF: one credit point is 10 notional hours and 2 SCQF credit points = 1 ECTS credit (SCQF
  Handbook, 2015; SCQF-EQF referencing report, 2019).
* UK CATS (England, Wales, Northern Ireland): 2 credits = 1 ECTS credit (QAA, "Higher education
  credit framework for England", 2008/2021).
* US semester credit hours have no European reference conversion; a spec may state the rate its
  provider documents (`ects_per_us_credit`), otherwise the figure is reported, not converted.
"""

from __future__ import annotations

import re
from decimal import Decimal

from course_catalogue.catalogue.model import Workload
from course_catalogue.mappings.transforms.durations import iso_hours, quantity_text
from course_catalogue.mappings.transforms.numerals import (
    NUMBER,
    has_negative,
    parse_number,
    quantities,
    range_words,
    tidy,
    words_pattern,
)
from course_catalogue.mappings.transforms.result import Result, info, ok, unaccented, warn

DEFAULT_HOURS_PER_ECTS = Decimal(25)
_ECTS_PER_POINT = {"SCQF": Decimal("0.5"), "CATS": Decimal("0.5")}
_AMOUNT = re.compile(rf"^(?:{NUMBER})")
# A credit figure stands on its own: "S91ZbAwnQrf" or "ABC123" hold no credit value (the EC QDR
# sample has such garbage in elm:point). Digits may only touch letters that form a unit: "5ECTS".
_FIRST_NUMBER = re.compile(rf"(?<![\w.,])(?:{NUMBER})(?=[^\w]|$|(?:ects|ec|cr|credits?|h|hrs?|hours?)\b)")
_HOURS_WORDS = tuple(unaccented(w) for w in quantities()["units"]["TH"])
_HOURS_UNIT = re.compile(rf"(?:{words_pattern(_HOURS_WORDS)})(?: of (?:study|learning|work))?")
_RANGE = re.compile(rf"({NUMBER})\s*(?:{range_words()})\s*({NUMBER})")
_SCHEMES = tuple(
    (name, re.compile(rf"\b(?:{words_pattern(tuple(unaccented(p) for p in phrases))})\b"))
    for name, phrases in quantities()["credits"].items()
)


def _scheme(text: str, default: str) -> str:
    for name, pattern in _SCHEMES:
        if pattern.search(text):
            return name
    return default


def _from_hours(hours: Decimal, rate: Decimal) -> Result[Workload]:
    ects = tidy(hours / rate)
    workload = Workload(ects=ects, hours=tidy(hours), ects_basis="estimated-from-hours", hours_per_ects=rate)
    return info(
        workload, f"ECTS estimated from {tidy(hours)} notional hours at {rate} h/ECTS", "ects-estimated"
    )


def ects(
    value: str,
    scheme: str = "ECTS",
    hours_per_ects: Decimal | int | str = DEFAULT_HOURS_PER_ECTS,
    ects_per_us_credit: Decimal | int | str | None = None,
) -> Result[Workload]:
    """Credits as ECTS: "5", "7,5 ECTS", "5 credits (ECTS)", "20 SCQF credits", "15 CATS", "40 hours".

    `scheme` is what a bare number or "credits" means in this feed (ECTS, SCQF, CATS or US; "other"
    for a scheme without a documented rate, whose figures are reported, not converted).
    Hours become an ECTS estimate at `hours_per_ects`. Ranges are reported, not averaged.
    """
    text = quantity_text(value)
    iso = iso_hours(value.strip())
    if iso is not None:
        return _from_hours(iso, Decimal(hours_per_ects))
    if _RANGE.search(text):
        return warn(f"a credit range is not one ECTS value: {value[:80]!r}", "credit-range")
    if has_negative(text):
        return warn(f"a credit value cannot be negative: {value[:80]!r}", "invalid-credits")
    amount_match = _FIRST_NUMBER.search(text)
    amount = parse_number(amount_match.group(0)) if amount_match else None
    if amount is None:
        return warn(f"no credit value in {value[:80]!r}", "invalid-credits")
    name = _scheme(text, scheme.upper())
    if name == "ECTS":
        return ok(Workload(ects=tidy(amount), ects_basis="stated"))
    if name == "HOURS":
        return _from_hours(amount, Decimal(hours_per_ects))
    if name in _ECTS_PER_POINT:
        converted = tidy(amount * _ECTS_PER_POINT[name])
        return info(
            Workload(ects=converted, ects_basis=f"converted:{name}"),
            f"{amount} {name} credits converted to {converted} ECTS",
            "ects-converted",
        )
    if name == "US" and ects_per_us_credit is not None:
        converted = tidy(amount * Decimal(ects_per_us_credit))
        return info(
            Workload(ects=converted, ects_basis="converted:US"),
            f"{amount} US credit hours converted to {converted} ECTS at {ects_per_us_credit} ECTS each "
            "(rate stated in the mapping)",
            "ects-converted",
        )
    if name == "OTHER":
        message = f"credits of a scheme without a documented ECTS rate are not converted: {value[:80]!r}"
        return warn(message, "unconvertible-credits")
    return warn(f"{name} credits have no documented ECTS conversion: {value[:80]!r}", "unconvertible-credits")


def hours(value: str) -> Result[Workload]:
    """Notional hours: "40", "40 hours", "40 h", "PT40H". Days, weeks or ranges are reported."""
    iso = iso_hours(value.strip())
    if iso is not None:
        return ok(Workload(hours=tidy(iso)))
    text = quantity_text(value)
    match = _AMOUNT.match(text)
    amount = parse_number(match.group(0)) if match else None
    unit = text[match.end() :].strip(" .") if match else ""
    if amount is None or (unit and not _HOURS_UNIT.fullmatch(unit)):
        return warn(f"not a number of hours: {value[:80]!r}", "invalid-hours")
    return ok(Workload(hours=tidy(amount)))


def estimate_ects(
    workload: Workload, hours_per_ects: Decimal | int | str = DEFAULT_HOURS_PER_ECTS
) -> Result[Workload]:
    """Add an ECTS estimate (basis "estimated-from-hours") to a workload that has hours but no ECTS."""
    if workload.ects is not None or workload.hours is None:
        return ok(workload)
    return _from_hours(workload.hours, Decimal(hours_per_ects))
