"""Human labels for coded values (countries, EQF, languages, modes, ISCED-F) and display formats.

The JSON API sends these labels beside the codes and the templates use the same functions as
Jinja filters, so a code is labelled the same way everywhere. Everything is in the request's
interface language (`web.i18n`): vocabulary labels via `web.vocab_labels`, words and dates via
Flask-Babel. Outside a request (CLI) they are English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import isodate
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from flask import Flask, current_app, g, has_app_context, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from course_catalogue.catalogue.model import Course, LangText, Price, first_text
from course_catalogue.search.documents import provider_key
from course_catalogue.search.query import FACETS, FACETS_BY_NAME
from course_catalogue.services.runtime import get_services
from course_catalogue.web import vocab_labels as vl
from course_catalogue.web.i18n import DEFAULT, current_language

VOCABULARY_CACHE = 4096
"""Vocabulary labels memoised per process ((kind, code, language) entries)."""


def lang() -> str:
    """The interface language of the current request; English outside one."""
    return current_language() if has_request_context() else DEFAULT


def _eqf(level: Any, language: str) -> str:
    try:
        return vl.eqf(int(level), language)
    except (TypeError, ValueError):
        return str(level)


VOCABULARIES: Mapping[str, Callable[[str, str], str]] = {
    "country": vl.country,
    "eqf": _eqf,
    "language": vl.language,
    "mode": vl.mode,
    "schedule": vl.schedule,
    "field": vl.isced,
    "field_narrow": vl.isced,
    "field_detailed": vl.isced,
}
"""Facets (and the course fields named alike) whose values are vocabulary codes -> the label
of a code in a language: `(code, language) -> label`."""


def country_label(code: str) -> str:
    return vocabulary_label("country", code, lang())


def language_label(code: str) -> str:
    return vocabulary_label("language", code, lang())


def mode_label(code: str) -> str:
    return vocabulary_label("mode", code, lang())


def isced_label(code: str) -> str:
    return vocabulary_label("field", code, lang())


def schedule_label(code: str) -> str:
    return vocabulary_label("schedule", code, lang())


def eqf_label(level: Any) -> str:
    return _eqf(level, lang())


@lru_cache(maxsize=VOCABULARY_CACHE)
def vocabulary_label(kind: str, code: str, language: str) -> str:
    """The label of vocabulary `kind`'s `code` (a key of VOCABULARIES) in `language`.

    Memoised: a label depends only on its arguments (the vocabularies and catalogues are data
    files), and one search answer asks for dozens. Bounded, because a code may come from a
    request (a selected filter value) rather than from the vocabulary."""
    return VOCABULARIES[kind](code, language)


FACET_NAMES: Mapping[str, Any] = {
    # msgids: the labels of search/query.py, which babel.cfg has pybabel extract from there
    **{spec.name: _l(spec.label) for spec in FACETS},
    # the ranges compare amounts as stated, in each course's own currency (prices are not converted)
    "price": _l("Price (in each course's currency)"),
}
"""Facet name -> its name in the interface language: the facets' own labels (`search.query.FACETS`),
translated; the page says more of the price facet than the API's "Price"."""
RANGE_LABELS: Mapping[tuple[str, str], Any] = {
    (spec.name, bucket.key): _l(bucket.label) for spec in FACETS for bucket in spec.ranges
}
"""(facet name, range key) -> the range's label (`search.query.FACETS`) in the interface language."""


class FacetLabels:
    """Facet and facet-value labels in the interface language of the current request, for the
    many labels of one response: the language is looked up once, when this is made, and the
    labels come from per-process memos (a translated facet name costs ~15 us through
    Flask-Babel, and a search answer has ~15 facets and dozens of values).

    Make one per response, inside the request it labels: a translated name is memoised under
    the language this object was made for, and translated by Flask-Babel in the current
    request's locale on its first use, so the two must agree. (Translations depend only on the
    language: the catalogues are compiled before the app serves, see `web.i18n`.)"""

    def __init__(self) -> None:
        self.language = lang()

    def facet(self, name: str) -> str:
        """The translated name of a facet."""
        key = (self.language, name)
        found = _translated_names.get(key)
        if found is None:
            label = FACET_NAMES.get(name)
            spec = FACETS_BY_NAME.get(name)
            found = str(label) if label is not None else spec.label if spec else name
            if label is not None or spec is not None:  # memo only what the tables name: bounded
                _translated_names[key] = found
        return found

    def value(self, facet: str, value: str, given: str = "") -> str:
        """The label of one facet value (vocabularies and ranges are labelled here; other
        values, e.g. provider names, keep the backend's label `given`)."""
        if facet in VOCABULARIES:
            return vocabulary_label(facet, value, self.language)
        ranged = RANGE_LABELS.get((facet, value))
        if ranged is not None:
            key = (self.language, facet, value)
            found = _translated_ranges.get(key)
            if found is None:
                found = _translated_ranges[key] = str(ranged)
            return found
        named = VALUE_LABELLERS.get(facet)
        return (named(value) if named is not None else None) or given or value


def scheme_label(value: str) -> str | None:
    """A funding facet value's label: the scheme's name (the schemes are read once per request)."""
    if not has_app_context() or "catalogue" not in current_app.extensions:
        return None
    names: dict[str, str] | None = g.get("_scheme_names")
    if names is None:
        try:
            names = {s.id: s.name for s in get_services().schemes.schemes()}
        except Exception:  # labels are cosmetic: a failing lookup must not fail a search
            names = {}
        g._scheme_names = names
    return names.get(value)


VALUE_LABELLERS: Mapping[str, Callable[[str], str | None]] = {"funding": scheme_label}
"""Facets whose values are not a fixed vocabulary -> their labeller (None: keep the backend's label)."""


_translated_names: dict[tuple[str, str], str] = {}
"""(language, facet name) -> translated FACET_NAMES entry (or the spec's label)."""
_translated_ranges: dict[tuple[str, str, str], str] = {}
"""(language, facet, value) -> translated RANGE_LABELS entry."""


def text(value: LangText | None) -> str:
    """One language of a multilingual text: the interface language preferred, then English."""
    return first_text(value or {}, (lang(), "en"))


def text_lang(value: LangText | None) -> str:
    """The language tag of the text `text()` shows ('' when unknown), for an HTML lang attribute."""
    shown = text(value)
    tag = next((tag for tag, body in (value or {}).items() if body == shown), "und")
    return "" if tag == "und" else tag


def count(value: int) -> str:
    """A count with the interface language's digit grouping: 1,234 / 1 234 / 1.234."""
    return format_decimal(value, locale=lang())


def number(value: Decimal | float | int | str | None) -> str:
    """A credit or hour figure in the interface language, without trailing zeros: 2.5 / 2,5."""
    if value is None or value == "":
        return ""
    try:
        exact = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return format_decimal(exact, format="#,##0.######", locale=lang())


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
    shown = _("Free") if Decimal(str(amount)) == 0 else amount_in(amount, currency)
    return f"{shown} ({note})" if note else shown


def amount_in(amount: Decimal | float | int | str, currency: str | None) -> str:
    """An amount with its currency as the interface language writes it: 4 189,50 €, €4,189.50,
    4.189,50 €; without a known currency just the number."""
    exact = Decimal(str(amount))
    if not currency:
        return number(exact)
    try:
        return format_currency(exact, currency, locale=lang())
    except (ValueError, KeyError):  # not an ISO 4217 code Babel knows: the code after the number
        return f"{number(exact)} {currency}"


def duration(value: str | None) -> str:
    """ISO 8601 duration in words: P7W -> '7 weeks', PT40H -> '40 hours'."""
    if not value:
        return ""
    return _duration(value, lang())


@lru_cache(maxsize=VOCABULARY_CACHE)
def _duration(value: str, language: str) -> str:
    # Memoised: CLDR unit formatting costs ~0.1 ms a duration (a course page and every API
    # course record show one), and the answer depends only on the arguments.
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
    # CLDR unit names: "7 weeks", "7 semaines", "7 Wochen"
    words = [format_unit(n, f"duration-{unit}", length="long", locale=language) for n, unit in parts if n]
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
    if isinstance(value, datetime):
        zone = f" {value.tzname()}" if value.tzname() else ""
        return format_datetime(value, "d MMMM y, HH:mm", locale=lang()) + zone
    return format_date(value, "d MMMM y", locale=lang())


def _day(value: date | str | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def course_timing(start: date | str | None, end: date | str | None, today: date | None = None) -> str | None:
    """Where a course stands today: "ended" (its end date is past), "started" (its start date is
    past or today and it has not ended, including self-paced courses that state no end),
    "upcoming", or None when it states no dates. Matches search's visibility rule: only an end
    date in the past hides a course by default."""
    today = today or date.today()
    first, last = _day(start), _day(end)
    if last is not None and last < today:
        return "ended"
    if first is not None and first <= today:
        return "started"
    if first is not None:
        return "upcoming"
    return None


def ects_basis(basis: str | None, hours_per_ects: Decimal | None = None) -> str:
    """How the ECTS figure was obtained, in words."""
    if not basis:
        return ""
    if basis == "stated":
        return _("stated by the provider")
    if basis == "estimated-from-hours":
        if hours_per_ects:
            return _(
                "estimated from the stated hours at %(rate)s hours per ECTS", rate=number(hours_per_ects)
            )
        return _("estimated from the stated hours")
    if basis.startswith("converted:"):
        return _("converted from %(scheme)s credits", scheme=basis.split(":", 1)[1])
    return basis


def course_labels(course: Course) -> dict[str, Any]:
    """Labels for every coded value of a course, keyed like the record's fields."""
    language = lang()

    def label(kind: str, code: str) -> str:
        return vocabulary_label(kind, code, language)

    return {
        "country": label("country", course.country) if course.country else None,
        "eqf_level": _eqf(course.eqf_level, language) if course.eqf_level is not None else None,
        "languages": {code: label("language", code) for code in course.languages},
        "modes": {code: label("mode", code) for code in course.modes},
        "schedule": label("schedule", course.schedule) if course.schedule else None,
        "isced_f": {code: label("field", code) for code in course.isced_f},
        # every country code in the record (provider, awarding bodies, locations)
        "countries": {code: label("country", code) for code in _countries(course)},
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
    app.add_template_filter(country_label, "country")
    app.add_template_filter(eqf_label, "eqf")
    app.add_template_filter(language_label, "language")
    app.add_template_filter(mode_label, "mode")
    app.add_template_filter(isced_label, "isced")
    app.add_template_filter(schedule_label, "schedule")
    app.add_template_filter(text, "text")
    app.add_template_filter(text_lang, "text_lang")
    app.add_template_filter(count, "count")
    app.add_template_filter(provider_key, "provider_key")
    app.add_template_filter(number, "number")
    app.add_template_filter(money, "money")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(when, "when")
    app.add_template_filter(ects_basis, "ects_basis")
    app.jinja_env.globals["course_timing"] = course_timing
