"""Record-level validation of a normalised Course: contract checks, sanity checks and completeness.

ERROR issues reject the record (it breaks the value conventions of `catalogue.model` or lacks
what every listing needs); WARNING issues flag doubtful values and missing mandatory standard
elements (the one table: `catalogue.elements`); one INFO issue lists the missing optional
elements, so providers see how complete their records are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from functools import cache, lru_cache

import isodate
import pycountry

from course_catalogue.catalogue.elements import ELEMENTS
from course_catalogue.catalogue.model import Course, LangText, Organisation
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.vocabularies import MODES, SCHEDULES, countries, currencies, isced_fields

MAX_PLAUSIBLE_ECTS = Decimal(180)  # a three-year bachelor; beyond this a "course" is doubtful
MAX_MICRO_DURATION = timedelta(days=2 * 365)  # docs/formats.md §6.10: flag > 2 years for a micro-credential
MAX_PLAUSIBLE_HOURS = Decimal(3600)  # two years of full-time study at 1,800 h/year
PLAUSIBLE_HOURS_PER_ECTS = (Decimal(10), Decimal(60))  # wide band around the ECTS Users' Guide 25-30
_EPOCH = date(2000, 1, 1)  # reference start for calendar durations when a course has no start date

_REJECTING = frozenset({"title", "provider.name"})  # mandatory, and checked as ERRORs by _required


class _Issues:
    """Collects issues for one course with its record ref and pointer filled in."""

    def __init__(self, course: Course) -> None:
        self.ref = course.provenance.provider_ref
        self.pointer = course.provenance.pointer
        self.found: list[Issue] = []

    def add(self, severity: Severity, field: str, message: str, code: str, value: object = None) -> None:
        shown = None if value is None else str(value)[:200]
        self.found.append(Issue(severity, message, field, self.ref, self.pointer, code, shown))


@cache
def _known_language(code: str) -> bool:
    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return found is not None and getattr(found, "alpha_2", found.alpha_3) == code


@cache
def _known_country(code: str) -> bool:
    return code in countries() or pycountry.countries.get(alpha_3=code) is not None


@cache
def _known_currency(code: str) -> bool:
    return code in currencies() or pycountry.currencies.get(alpha_3=code) is not None


def validate(course: Course) -> list[Issue]:
    """Every issue of one course; the record is rejected when any has severity ERROR."""
    issues = _Issues(course)
    _required(course, issues)
    _codes(course, issues)
    _numbers(course, issues)
    _dates(course, issues)
    _completeness(course, issues)
    return issues.found


def _blank(text: LangText) -> bool:
    return not any(value.strip() for value in text.values())


def _required(course: Course, issues: _Issues) -> None:
    if _blank(course.title):
        issues.add(Severity.ERROR, "title", "the course has no title", "missing-title")
    if _blank(course.provider.name):
        issues.add(Severity.ERROR, "provider.name", "the course has no provider name", "missing-provider")


def _organisations(course: Course) -> Iterable[tuple[str, Organisation]]:
    yield "provider.country", course.provider
    for body in course.awarding_bodies:
        yield "awarding_bodies", body


def _codes(course: Course, issues: _Issues) -> None:
    for field, org in _organisations(course):
        if org.country is not None and not _known_country(org.country):
            issues.add(
                Severity.ERROR,
                field,
                "not an ISO 3166-1 alpha-3 country code",
                "unknown-country",
                org.country,
            )
    for location in course.locations:
        if location.country is not None and not _known_country(location.country):
            issues.add(
                Severity.ERROR,
                "locations",
                "not an ISO 3166-1 alpha-3 country code",
                "unknown-country",
                location.country,
            )
    for code in course.languages:
        if not _known_language(code):
            issues.add(Severity.ERROR, "languages", "not an ISO 639 language code", "unknown-language", code)
    for code in course.isced_f:
        if code not in isced_fields():
            issues.add(Severity.ERROR, "isced_f", "not an ISCED-F 2013 code", "unknown-isced", code)
    for code in course.modes:
        if code not in MODES:
            issues.add(Severity.ERROR, "modes", "not a mode of participation code", "unknown-mode", code)
    if course.schedule is not None and course.schedule not in SCHEDULES:
        issues.add(
            Severity.ERROR, "schedule", "not a learning schedule code", "unknown-schedule", course.schedule
        )
    if course.eqf_level is not None and not 1 <= course.eqf_level <= 8:
        issues.add(
            Severity.ERROR, "eqf_level", "EQF levels run from 1 to 8", "invalid-level", course.eqf_level
        )
    for field, text in (("title", course.title), ("description", course.description)):
        for tag in text:
            if tag != "und" and not _known_language(tag.split("-")[0].lower()):
                issues.add(
                    Severity.WARNING,
                    field,
                    f"text tagged with unknown language {tag!r}",
                    "unknown-language",
                    tag,
                )


def _numbers(course: Course, issues: _Issues) -> None:
    workload = course.workload
    if workload.ects is not None:
        if workload.ects < 0:
            issues.add(
                Severity.ERROR, "workload.ects", "ECTS cannot be negative", "invalid-ects", workload.ects
            )
        elif workload.ects > MAX_PLAUSIBLE_ECTS:
            issues.add(
                Severity.WARNING,
                "workload.ects",
                f"more than {MAX_PLAUSIBLE_ECTS} ECTS",
                "implausible-ects",
                workload.ects,
            )
    if workload.hours is not None:
        if workload.hours < 0:
            issues.add(
                Severity.ERROR, "workload.hours", "hours cannot be negative", "invalid-hours", workload.hours
            )
        elif workload.hours > MAX_PLAUSIBLE_HOURS:
            issues.add(
                Severity.WARNING,
                "workload.hours",
                "more than two years of full-time study",
                "implausible-hours",
                workload.hours,
            )
    if workload.ects and workload.hours and workload.ects_basis == "stated":
        rate = workload.hours / workload.ects
        if not PLAUSIBLE_HOURS_PER_ECTS[0] <= rate <= PLAUSIBLE_HOURS_PER_ECTS[1]:
            issues.add(
                Severity.WARNING,
                "workload",
                f"{rate:.1f} hours per ECTS (expected 25-30)",
                "inconsistent-workload",
            )
    price = course.price
    if price is not None:
        if price.amount < 0:
            issues.add(Severity.ERROR, "price", "a price cannot be negative", "invalid-price", price.amount)
        elif price.amount > 0 and price.currency is None:
            issues.add(Severity.ERROR, "price", "a price needs a currency", "missing-currency", price.amount)
        if price.currency is not None and not _known_currency(price.currency):
            issues.add(
                Severity.ERROR, "price", "not an ISO 4217 currency code", "unknown-currency", price.currency
            )


def _dates(course: Course, issues: _Issues) -> None:
    if course.start_date and course.end_date and course.start_date > course.end_date:
        issues.add(
            Severity.ERROR,
            "end_date",
            f"ends ({course.end_date}) before it starts ({course.start_date})",
            "invalid-dates",
        )
    if course.duration is None:
        return
    length = _parsed_duration(course.duration)
    if length is None:
        issues.add(
            Severity.ERROR, "duration", "not an ISO 8601 duration", "invalid-duration", course.duration
        )
        return
    if _length(length, course.start_date) > MAX_MICRO_DURATION:
        issues.add(
            Severity.WARNING,
            "duration",
            "longer than two years: implausible for a micro-credential",
            "implausible-duration",
            course.duration,
        )


def _length(duration: timedelta | isodate.Duration, start: date | None) -> timedelta:
    """A duration's length in days: calendar months and years counted from the course's start
    (else a fixed reference day); fractional ones ("P4.5M", a range's midpoint), which calendar
    arithmetic refuses, at their average length (30.44 and 365.25 days)."""
    if not isinstance(duration, isodate.Duration):
        return duration
    try:
        return duration.totimedelta(start=start or _EPOCH)
    except ValueError:
        days = float(duration.years) * 365.25 + float(duration.months) * 30.44
        return duration.tdelta + timedelta(days=days)


@lru_cache(maxsize=1024)
def _parsed_duration(text: str) -> timedelta | isodate.Duration | None:
    """`isodate.parse_duration(text)`, None when it is not an ISO 8601 duration. Cached: feeds
    repeat a few dozen durations, and the parse is a regex match plus object building. The
    results are only read (`totimedelta` returns a new value)."""
    try:
        parsed: timedelta | isodate.Duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        return None
    return parsed


_MANDATORY = tuple(
    (e.name, e.present, f"missing standard element: {e.in_sentence}")
    for e in ELEMENTS
    if e.mandatory and e.name not in _REJECTING
)
"""(name, test, message) of the mandatory elements a missing one is a WARNING for, from the one
table (`catalogue.elements`): the messages are the same for every record, so made once."""
_OPTIONAL = tuple((e.name, e.present) for e in ELEMENTS if not e.mandatory)


def _completeness(course: Course, issues: _Issues) -> None:
    for name, present, message in _MANDATORY:
        if not present(course):
            issues.add(Severity.WARNING, name, message, "missing-element")
    missing = [name for name, present in _OPTIONAL if not present(course)]
    if missing:
        issues.add(
            Severity.INFO,
            "optional",
            f"optional standard elements not given: {', '.join(missing)}",
            "missing-optional",
        )
    if _blank(course.description):
        issues.add(Severity.INFO, "description", "no description", "missing-description")
