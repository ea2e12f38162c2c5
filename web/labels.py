"""Human labels for coded values (countries, EQF, languages, modes, ISCED-F) and display formats.

The JSON API sends these labels beside the codes and the templates use the same functions as
Jinja filters, so a code is labelled the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import isodate
from flask import Flask

from catalogue import vocabularies as vocab
from catalogue.model import Course, LangText, Price, first_text

PREFERRED_LANGUAGES = ("en",)


def schedule_label(code: str) -> str:
    term = vocab.SCHEDULES.get(code)
    return term.label if term else code


def eqf_label(level: Any) -> str:
    try:
        return vocab.eqf_label(int(level))
    except (TypeError, ValueError):
        return str(level)


FACET_LABELLERS: Mapping[str, Callable[[str], str]] = {
    "country": vocab.country_label,
    "eqf": eqf_label,
    "language": vocab.language_label,
    "mode": vocab.mode_label,
    "field": vocab.isced_label,
}


def facet_value_label(facet: str, value: str, given: str = "") -> str:
    """The label of one facet value: the backend's label unless it is just the code."""
    if given and given != value:
        return given
    labeller = FACET_LABELLERS.get(facet)
    return labeller(value) if labeller else (given or value)


def text(value: LangText | None) -> str:
    """One language of a multilingual text (English preferred)."""
    return first_text(value or {}, PREFERRED_LANGUAGES)


def number(value: Decimal | float | int | str | None) -> str:
    """A credit or hour figure without trailing zeros: 5, 2.5."""
    if value is None or value == "":
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def money(price: Price | Mapping[str, Any] | None) -> str:
    """'Free', '49 USD' or '' when unknown; a note is appended in parentheses."""
    if price is None:
        return ""
    if isinstance(price, Mapping):
        amount, currency, note = price.get("amount"), price.get("currency"), price.get("note")
    else:
        amount, currency, note = price.amount, price.currency, price.note
    if amount is None:
        return ""
    shown = "Free" if Decimal(str(amount)) == 0 else f"{number(amount)} {currency or ''}".strip()
    return f"{shown} ({note})" if note else shown


def duration(value: str | None) -> str:
    """ISO 8601 duration in words: P7W -> '7 weeks', PT40H -> '40 hours'."""
    if not value:
        return ""
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError):
        return value
    if isinstance(parsed, isodate.Duration):
        parts = [(parsed.years, "year"), (parsed.months, "month"), (parsed.tdelta.days, "day")]
    elif value.upper().startswith("PT"):
        hours, rest = divmod(int(parsed.total_seconds()), 3600)
        parts = [(hours, "hour"), (rest // 60, "minute")]
    else:
        # P7W parses to 49 days: show whole weeks as weeks
        weeks, days = divmod(parsed.days, 7) if parsed.days % 7 == 0 else (0, parsed.days)
        hours, rest = divmod(parsed.seconds, 3600)
        parts = [(weeks, "week"), (days, "day"), (hours, "hour"), (rest // 60, "minute")]
    words = [f"{number(n)} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return ", ".join(words) or value


def when(value: date | datetime | str | None) -> str:
    """A date as '7 March 2024'; datetimes keep minutes and the UTC offset."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            parsed: date = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            return value
        return when(parsed)
    day = f"{value.day} {value:%B %Y}"
    if isinstance(value, datetime):
        return f"{day}, {value:%H:%M} {value.tzname() or ''}".strip()
    return day


def ects_basis(basis: str | None, hours_per_ects: Decimal | None = None) -> str:
    """How the ECTS figure was obtained, in words."""
    if not basis:
        return ""
    if basis == "stated":
        return "stated by the provider"
    if basis == "estimated-from-hours":
        rate = f" at {number(hours_per_ects)} hours per ECTS" if hours_per_ects else ""
        return f"estimated from the stated hours{rate}"
    if basis.startswith("converted:"):
        return f"converted from {basis.split(':', 1)[1]} credits"
    return basis


def course_labels(course: Course) -> dict[str, Any]:
    """Labels for every coded value of a course, keyed like the record's fields."""
    return {
        "country": vocab.country_label(course.country) if course.country else None,
        "eqf_level": eqf_label(course.eqf_level) if course.eqf_level is not None else None,
        "languages": {code: vocab.language_label(code) for code in course.languages},
        "modes": {code: vocab.mode_label(code) for code in course.modes},
        "schedule": schedule_label(course.schedule) if course.schedule else None,
        "isced_f": {code: vocab.isced_label(code) for code in course.isced_f},
        # every country code in the record (provider, awarding bodies, locations)
        "countries": {code: vocab.country_label(code) for code in _countries(course)},
        "ects_basis": ects_basis(course.workload.ects_basis, course.workload.hours_per_ects) or None,
        "duration": duration(course.duration) or None,
        "price": money(course.price) or None,
    }


def _countries(course: Course) -> list[str]:
    codes = [
        course.country,
        *(org.country for org in course.awarding_bodies),
        *(loc.country for loc in course.locations),
    ]
    return list(dict.fromkeys(code for code in codes if code))


def init_app(app: Flask) -> None:
    """Register the labels as Jinja filters (`{{ course.country|country }}`)."""
    app.add_template_filter(vocab.country_label, "country")
    app.add_template_filter(eqf_label, "eqf")
    app.add_template_filter(vocab.language_label, "language")
    app.add_template_filter(vocab.mode_label, "mode")
    app.add_template_filter(vocab.isced_label, "isced")
    app.add_template_filter(schedule_label, "schedule")
    app.add_template_filter(text, "text")
    app.add_template_filter(number, "number")
    app.add_template_filter(money, "money")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(when, "when")
    app.add_template_filter(ects_basis, "ects_basis")
