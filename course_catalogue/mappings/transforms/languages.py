"""Language normaliser: names in many languages, ISO 639 codes, BCP 47 tags and EU language IRIs.

Our code is ISO 639-1 where one exists ("en"), else ISO 639-3 ("gsw"). Names come from pycountry
(ISO 639-3 names and their translations in every locale pycountry ships, which include each
major language's own name, "Français", "Deutsch", "日本語"), plus `_EXTRA_NAMES` for native forms
the translations spell differently. All lookups are exact dictionary hits built once per process.
"""

from __future__ import annotations

import gettext
import os
import re
from functools import cache

import pycountry

from course_catalogue.mappings.transforms.result import Result, fold, ok, warn

_EU_IRI = re.compile(r"publications\.europa\.eu/resource/authority/language/([A-Za-z_]+)/?$")
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")
_NOT_A_LANGUAGE = frozenset({"und", "mul", "zxx", "mis"})  # undetermined, multiple, none, uncoded

# Native or common names pycountry spells differently (checked against the edX feed and Europass).
_EXTRA_NAMES = {
    "اللغة العربية": "ar",
    "عربي": "ar",
    "हिन्दी": "hi",
    "简体中文": "zh",
    "繁體中文": "zh",
    "普通话": "zh",
    "mandarin": "zh",
    "mandarin chinese": "zh",
    "chinese": "zh",
    "ελληνικά": "el",
    "greek": "el",
    "bahasa indonesia": "id",
    "bahasa melayu": "ms",
    "nederlands": "nl",
    "vlaams": "nl",
    "flemish": "nl",
    "castellano": "es",
    "castilian": "es",
    "norsk": "no",
    "farsi": "fa",
    "persian": "fa",
    "swahili": "sw",
    "kiswahili": "sw",
    "filipino": "fil",
    "tagalog": "tl",
}


def code_of(language: object) -> str:
    """Our code of a pycountry language: alpha-2 if it has one, else alpha-3."""
    return str(getattr(language, "alpha_2", None) or language.alpha_3)  # type: ignore[attr-defined]


@cache
def _codes() -> dict[str, str]:
    """Every ISO 639-1, 639-3 and 639-2/B code (lower case) -> our code."""
    table: dict[str, str] = {}
    for language in pycountry.languages:
        ours = code_of(language)
        for attr in ("alpha_2", "alpha_3", "bibliographic"):
            code = getattr(language, attr, None)
            if code:
                table[code.lower()] = ours
    return table


@cache
def _names() -> dict[str, str]:
    """Folded language name -> our code: English names, translations, then native extras."""
    table: dict[str, str] = {}
    major = [lang for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    for language in pycountry.languages:
        for attr in ("name", "common_name", "inverted_name"):
            name = getattr(language, attr, None)
            if name:
                table.setdefault(fold(name), code_of(language))
    for locale in sorted(os.listdir(pycountry.LOCALES_DIR)):
        try:
            translation = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[locale])
        except OSError:
            continue
        for language in major:
            translated = translation.gettext(language.name)
            if translated != language.name:
                for name in re.split(r"[;,]", translated):
                    if name.strip():
                        table.setdefault(fold(name), language.alpha_2)
    table.update({fold(name): code for name, code in _EXTRA_NAMES.items()})
    return table


def language(value: str) -> Result[str]:
    """ISO 639 code ("en", "gsw") from "English", "Français", "en", "eng", "EN-gb", or an EU IRI."""
    value = value.strip()
    iri = _EU_IRI.search(value)
    if iri:
        value = iri.group(1)
    tag = _TAG.match(value)
    if tag:
        primary = tag.group(1).lower()
        if primary in _NOT_A_LANGUAGE:
            return warn(f"{value!r} names no single language", "unknown-language")
        code = _codes().get(primary)
        if code is not None:
            return ok(code)
    code = _names().get(fold(value))
    if code is not None:
        return ok(code)
    return warn(f"unknown language {value[:80]!r}", "unknown-language")
