"""Published values with their language: what selectors give and what the rule runner passes on.

Selectors return `Published` values: a plain `str`, or a `LangValue` (text + language) when the
format marks the language of a value (XML `xml:lang`, QDR `language="fi"`, RDF `"..."@fr`,
JSON `{"language": .., "value": ..}`). `LangValue` is deliberately not a `str`: every place that
needs the text says so through `text_of`, and mypy catches one that forgets.

The helpers here are the one place that knows the two forms. The rule runner (`mappings.rules`)
keeps the language on what it derives from a tagged value (strip, split, join of same-language
values, map outputs, string transform results: `carry`); transforms always receive the text.
The engine (`mappings.engine`) files text under `lang_of` its value and gives every other kind
of target the plain values (`plain`), so no `LangValue` reaches a Course.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias, final

from course_catalogue.mappings.transforms.languages import language


@final
@dataclass(frozen=True, slots=True)
class LangValue:
    """A published string and its language, an ISO 639 code as `catalogue.model` wants ("fr").

    Build with `tagged()`, which normalises the tag and gives a plain `str` when there is none.
    """

    text: str
    lang: str


Published: TypeAlias = str | LangValue
"""One published value as a selector gives it."""


@functools.lru_cache(maxsize=256)
def normal_lang(tag: str) -> str | None:
    """The catalogue's code for a published language tag ("en-GB" -> "en", "fra" -> "fr"); None
    when the tag says nothing usable ("", "und", "zxx", unknown)."""
    tag = tag.strip()
    if not tag or tag.lower() in ("und", "zxx", "mul"):
        return None
    code = language(tag).value
    if code is None and "-" in tag:
        code = language(tag.split("-", 1)[0]).value
    return code


def tagged(text: str, lang: str | None) -> Published:
    """`text` with `lang` (normalised); the plain string when the tag is absent or unusable."""
    code = normal_lang(lang) if lang else None
    return LangValue(text, code) if code else text


def text_of(value: Published) -> str:
    """The text of a published value."""
    return value.text if isinstance(value, LangValue) else value


def lang_of(value: object) -> str | None:
    """The language a value carries, or None."""
    return value.lang if isinstance(value, LangValue) else None


def carry(value: Any, source: object) -> Any:
    """`value`, derived from `source`, with `source`'s language when it is a string.

    Non-string results (a date, a Price, a tuple of codes) are returned as they are: only text
    is filed under a language."""
    if isinstance(source, LangValue) and type(value) is str:
        return LangValue(value, source.lang)
    return value


def strip(value: Published) -> Published:
    """`value` with its text stripped, keeping its language."""
    if isinstance(value, LangValue):
        return LangValue(value.text.strip(), value.lang)
    return value.strip()


def join(glue: str, values: Iterable[Published]) -> Published:
    """`glue.join` of the texts, with their language when every value carries the same one."""
    values = list(values)
    joined = glue.join(map(text_of, values))
    langs = {lang_of(v) for v in values}
    if len(langs) == 1:
        (only,) = langs
        if only:
            return LangValue(joined, only)
    return joined


def plain(values: list[Any]) -> list[Any]:
    """`values` with every `LangValue` replaced by its text: what non-text targets take."""
    return [v.text if isinstance(v, LangValue) else v for v in values]
