"""EU controlled vocabularies (ELM/LOQ 3.1) as lookup tables: codes, concept IRIs and labels.

The concept lists come from the local copy of the ELM controlled vocabularies
(`catalogue/data/elm_loq_controlled_vocabularies_v3.1.json`, EUPL-1.2); nothing is fetched at run
time. Our own short codes (modes, schedules) map one-to-one onto ELM concept IRIs so exports can
always write the official IRI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pycountry

EQF_SCHEME = "http://data.europa.eu/snb/eqf/25831c2"
EQF_BASE = "http://data.europa.eu/snb/eqf/"
ISCED_BASE = "http://data.europa.eu/snb/isced-f/"
COUNTRY_BASE = "http://publications.europa.eu/resource/authority/country/"
LANGUAGE_BASE = "http://publications.europa.eu/resource/authority/language/"
CURRENCY_BASE = "http://publications.europa.eu/resource/authority/currency/"


@dataclass(frozen=True)
class Term:
    """One concept: our code, the official IRI (if the EU has one) and an English label."""

    code: str
    uri: str | None
    label: str


def _terms(*rows: tuple[str, str | None, str]) -> dict[str, Term]:
    return {code: Term(code, uri, label) for code, uri, label in rows}


_MODE = "http://data.europa.eu/snb/learning-assessment/"
MODES: dict[str, Term] = _terms(
    ("online", _MODE + "920fbb3cbe", "Online"),
    ("onsite", _MODE + "9191af2ed9", "On-site"),
    ("blended", _MODE + "e92d221e4d", "Blended"),
    ("workbased", _MODE + "729f3bed4b", "Work-based"),
    ("project", _MODE + "7813801c77", "Project-based"),
    ("research", _MODE + "ed4c557045", "Research / lab-based"),
)
"""Form of participation. "onsite" is ELM's "Presential"."""

_SCHED = "http://data.europa.eu/snb/learning-schedule/"
SCHEDULES: dict[str, Term] = _terms(
    ("full-time", _SCHED + "72a0ab92fa", "Full time"),
    ("part-time-light", _SCHED + "67395e6b5a", "Part time (light)"),
    ("part-time-intensive", _SCHED + "f230bae523", "Part time (intensive)"),
    ("part-time", None, "Part time"),
    ("self-paced", None, "Self-paced"),
    ("scheduled", None, "Instructor-led, on a schedule"),
)
"""Learning schedule. ELM has three concepts; the rest are common in feeds and kept as our own."""


@cache
def _raw() -> dict[str, list[dict[str, Any]]]:
    path = (
        resources.files("course_catalogue.catalogue") / "data" / "elm_loq_controlled_vocabularies_v3.1.json"
    )
    vocabularies: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))[
        "vocabularies"
    ]
    return vocabularies


def _by_suffix(name: str, base: str) -> dict[str, Term]:
    return {
        row["uri"][len(base) :]: Term(row["uri"][len(base) :], row["uri"], row["label"])
        for row in _raw()[name]
        if row["uri"].startswith(base)
    }


@cache
def eqf_levels() -> dict[int, Term]:
    """EQF level 1..8 -> term (label "Level N")."""
    return {int(code): term for code, term in _by_suffix("eqf", EQF_BASE).items()}


@cache
def isced_fields() -> dict[str, Term]:
    """ISCED-F 2013 code ("06", "061", "0613") -> term with its English label."""
    return _by_suffix("isced-f", ISCED_BASE)


def isced_ancestors(code: str) -> list[str]:
    """The broad > narrow > detailed chain of an ISCED-F code, broadest first, itself last."""
    return [code[:n] for n in (2, 3, 4) if len(code) >= n]


@cache
def countries() -> dict[str, Term]:
    """ISO 3166-1 alpha-3 -> term, from the EU country authority table."""
    return _by_suffix("country", COUNTRY_BASE)


@cache
def currencies() -> dict[str, Term]:
    """ISO 4217 -> term, from the EU currency authority table."""
    return _by_suffix("currency", CURRENCY_BASE)


@cache
def eu_languages() -> dict[str, Term]:
    """EU language authority code (upper case, mostly ISO 639-3/639-2T: "ENG") -> term."""
    return _by_suffix("language", LANGUAGE_BASE)


def language_uri(code: str) -> str | None:
    """EU language IRI for one of our language codes ("en" -> .../language/ENG)."""
    lang = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    if lang is None:
        return None
    nal = lang.alpha_3.upper()
    return eu_languages()[nal].uri if nal in eu_languages() else None


def language_label(code: str) -> str:
    """English name of one of our language codes; the code itself when unknown."""
    lang = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return lang.name if lang is not None else code


def country_label(code: str) -> str:
    term = countries().get(code)
    return term.label if term else code


def eqf_label(level: int) -> str:
    term = eqf_levels().get(level)
    return term.label if term else f"Level {level}"


def isced_label(code: str) -> str:
    term = isced_fields().get(code)
    return term.label if term else code


def mode_label(code: str) -> str:
    term = MODES.get(code)
    return term.label if term else code
