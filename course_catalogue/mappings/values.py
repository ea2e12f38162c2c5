"""Language-tagged published values: a str that remembers the language its feed gave it.

Selectors return plain strings. A selector whose format marks the language of a value (XML
`xml:lang`, QDR `language="fi"`, RDF `"..."@fr`) returns `Tagged` strings instead; since `Tagged`
is a `str`, everything that reads strings still works. The rule runner re-tags what it derives
from a tagged value (strip, split, join of same-language values, map outputs, string
transforms), so the tag reaches the text target, which files the value under its language.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from course_catalogue.mappings.transforms.languages import language


class Tagged(str):
    """A published string with its language: ISO 639 code as `catalogue.model` wants ("fr").

    Build with `tagged()`, which normalises the tag. Compares and hashes as the plain string, so
    caches keyed by published values still work (callers re-tag cached results).
    """

    __slots__ = ("lang",)
    lang: str

    def __new__(cls, text: str, lang: str) -> Tagged:
        value = super().__new__(cls, text)
        value.lang = lang
        return value

    def __reduce__(self) -> tuple[type[Tagged], tuple[str, str]]:
        return (Tagged, (str(self), self.lang))


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


def tagged(text: str, lang: str | None) -> str:
    """`text` tagged with `lang` (normalised); the plain string when the tag is absent or unusable."""
    code = normal_lang(lang) if lang else None
    return Tagged(text, code) if code else str(text)


def lang_of(value: object) -> str | None:
    """The language a value carries, or None."""
    return value.lang if isinstance(value, Tagged) else None


def retag(value: Any, source: object) -> Any:
    """A string `value` derived from `source`, carrying exactly `source`'s language (or none).

    Also untags: a cached transform result may be a tagged string from an earlier call."""
    if isinstance(source, Tagged):
        if not isinstance(value, str):
            return value
        return (
            value if isinstance(value, Tagged) and value.lang == source.lang else Tagged(value, source.lang)
        )
    return str(value) if isinstance(value, Tagged) else value  # Tagged implies str


def strip(value: str) -> str:
    """`value.strip()` that keeps the tag."""
    stripped = value.strip()
    return Tagged(stripped, value.lang) if isinstance(value, Tagged) else stripped


def join(glue: str, values: Iterable[str]) -> str:
    """`glue.join(values)`, tagged when every value carries the same language."""
    values = list(values)
    joined = glue.join(values)
    langs = {lang_of(v) for v in values}
    if len(langs) == 1:
        (only,) = langs
        if only:
            return Tagged(joined, only)
    return joined
