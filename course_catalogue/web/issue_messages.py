"""Engine issue messages in the reader's language.

The engine writes each issue's message in English from a fixed template per issue code (e.g.
`catalogue.validate`: "missing standard element: {element}"; `mappings.transforms.credits`: "ECTS
estimated from {hours} notional hours at {rate} h/ECTS"). Here each template a provider meets
often is matched back (its code, then the whole message against the template's pattern) and said
again through gettext, its values (the feed's own, quoted) kept as they are. A message no
template matches, or whose template changed, is shown as written, marked as English: never half
translated. Templates without an entry stay English (the award crosswalks' notes, for one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask
from flask_babel import gettext as _

from course_catalogue.catalogue.runs import Issue
from course_catalogue.web.dashboard_views import element_label
from course_catalogue.web.i18n import current_language


@dataclass(frozen=True)
class Said:
    """An issue's message for the page: `english` when it could not be translated."""

    text: str
    english: bool


@dataclass(frozen=True)
class Template:
    """One engine message template: its pattern and how to say it from the matched groups."""

    pattern: re.Pattern[str]
    say: Callable[[Issue, Mapping[str, str]], str]


def _element(issue: Issue) -> str:
    return element_label(issue.field)


def _elements(names: str) -> str:
    return ", ".join(element_label(name.strip()) for name in names.split(","))


TEMPLATES: Mapping[str, tuple[Template, ...]] = {
    "missing-element": (
        Template(
            re.compile(r"missing standard element: .+"),
            lambda issue, _g: _("missing standard element: %(element)s", element=_element(issue)),
        ),
    ),
    "missing-optional": (
        Template(
            re.compile(r"optional standard elements not given: (?P<names>[a-z_, ]+)"),
            lambda _i, g: _(
                "optional standard elements not given: %(elements)s", elements=_elements(g["names"])
            ),
        ),
    ),
    "missing-description": (Template(re.compile(r"no description"), lambda _i, _g: _("no description")),),
    "unknown-level": (
        Template(
            re.compile(r"(?P<value>'.*'|\".*\") is not an EQF level \(no referenced framework level\)"),
            lambda _i, g: _(
                "%(value)s is not an EQF level (no referenced framework level)", value=g["value"]
            ),
        ),
    ),
    "ects-estimated": (
        Template(
            re.compile(r"ECTS estimated from (?P<hours>\S+) notional hours at (?P<rate>\S+) h/ECTS"),
            lambda _i, g: _(
                "ECTS estimated from %(hours)s notional hours at %(rate)s h/ECTS",
                hours=g["hours"],
                rate=g["rate"],
            ),
        ),
    ),
    "range-midpoint": (
        Template(
            re.compile(r"duration range (?P<value>'.*'|\".*\") read as its midpoint (?P<iso>P\S+)"),
            lambda _i, g: _(
                "duration range %(value)s read as its midpoint %(iso)s", value=g["value"], iso=g["iso"]
            ),
        ),
    ),
    "unknown-schedule": (
        Template(
            re.compile(r"unknown learning schedule (?P<values>(?:'.*'|\".*\")(?:, (?:'.*'|\".*\"))*)"),
            lambda _i, g: _("unknown learning schedule %(values)s", values=g["values"]),
        ),
    ),
    "unknown-mode": (
        Template(
            re.compile(r"unknown mode of participation (?P<values>(?:'.*'|\".*\")(?:, (?:'.*'|\".*\"))*)"),
            lambda _i, g: _("unknown mode of participation %(values)s", values=g["values"]),
        ),
    ),
    "implausible-duration": (
        Template(
            re.compile(r"longer than two years: implausible for a micro-credential"),
            lambda _i, _g: _("longer than two years: implausible for a micro-credential"),
        ),
    ),
}
"""Issue code -> the templates its messages are written from."""


def say(issue: Issue) -> Said:
    """`issue.message` in the current language when its template is known, else as written
    (an English page shows every message as the engine wrote it)."""
    if current_language() == "en":
        return Said(issue.message, english=True)
    for template in TEMPLATES.get(issue.code, ()):
        found = template.pattern.fullmatch(issue.message)
        if found is not None:
            return Said(template.say(issue, found.groupdict()), english=False)
    return Said(issue.message, english=True)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["issue_message"] = say
