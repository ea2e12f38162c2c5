"""Vocabulary labels in the interface language: countries, languages, EQF, modes, schedules, ISCED-F.

English labels are the EU vocabularies' own (`catalogue.vocabularies`). Other languages:
countries and languages through pycountry's gettext catalogues (ISO 3166-1, ISO 639-3), the
rest from `web/data/vocabulary_labels.toml` (sources cited there). A label we do not have in
the asked language falls back to English, never to nothing.
"""

from __future__ import annotations

import gettext
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

from course_catalogue.catalogue import vocabularies as vocab

LABELS_FILE = Path(__file__).resolve().parent / "data" / "vocabulary_labels.toml"


@cache
def _table() -> dict[str, Any]:
    with LABELS_FILE.open("rb") as handle:
        return tomllib.load(handle)


@cache
def _catalogue(domain: str, lang: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang], fallback=True)


def _lookup(kind: str, code: str, lang: str) -> str | None:
    entry = _table().get(kind, {}).get(code)
    return entry.get(lang) if isinstance(entry, dict) else None


def country(code: str, lang: str = "en") -> str:
    """Name of an ISO 3166-1 alpha-3 country; the code itself when unknown."""
    english = vocab.country_label(code)
    if lang == "en":
        return english
    found = pycountry.countries.get(alpha_3=code)
    if found is None:
        return english
    translated = _catalogue("iso3166-1", lang).gettext(found.name)
    return translated if translated != found.name else english


def language(code: str, lang: str = "en") -> str:
    """Name of one of our language codes (ISO 639-1, else 639-3)."""
    english = vocab.language_label(code)
    if lang == "en" or english == code:
        return english
    translated = _catalogue("iso639-3", lang).gettext(english)
    return translated[:1].upper() + translated[1:]


def eqf(level: int, lang: str = "en") -> str:
    pattern = _table().get("eqf", {}).get(lang)
    return pattern.format(level=level) if pattern and lang != "en" else vocab.eqf_label(level)


def mode(code: str, lang: str = "en") -> str:
    return (_lookup("modes", code, lang) if lang != "en" else None) or vocab.mode_label(code)


def schedule(code: str, lang: str = "en") -> str:
    term = vocab.SCHEDULES.get(code)
    english = term.label if term else code
    return (_lookup("schedules", code, lang) if lang != "en" else None) or english


_NOT_FURTHER_DEFINED = {"fr": "{field}, sans autre précision", "de": "{field}, nicht näher definiert"}
_NOT_ELSEWHERE = {"fr": "{field}, autres", "de": "{field}, anderweitig nicht klassifiziert"}


def isced(code: str, lang: str = "en") -> str:
    """ISCED-F field name in `lang`, else English. Detailed fields of their own are in the table;
    the others are named after their narrow field (see `_detailed`)."""
    kind = {2: "isced_broad", 3: "isced_narrow", 4: "isced_detailed"}.get(len(code))
    translated = _lookup(kind, code, lang) if lang != "en" and kind else None
    if translated is None and lang != "en" and len(code) == 4:
        translated = _detailed(code, lang)
    return translated or vocab.isced_label(code)


def _detailed(code: str, lang: str) -> str | None:
    """A detailed code that is a narrow field's remainder: xx00, xx88, xx99 and 9999 are the
    narrow xx0, xx8, xx9 and 999 (the broad field's remainders); xxx0 and xxx9 are the narrow
    field "not further defined" and "not elsewhere classified"."""
    narrow, last = code[:3], code[3]
    if code[2:] in {"00", "88", "99"} or code == "9999":
        return _lookup("isced_narrow", code[:2] + code[2], lang)
    forms = {"0": _NOT_FURTHER_DEFINED, "9": _NOT_ELSEWHERE}.get(last)
    field = _lookup("isced_narrow", narrow, lang)
    return forms[lang].format(field=field) if forms and field and lang in forms else None
