"""Language normaliser: names in several languages, codes, tags and EU IRIs -> ISO 639."""

from __future__ import annotations

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.languages import language


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("English", "en"),
        ("Français", "fr"),
        ("Deutsch", "de"),
        ("Spanish", "es"),
        ("Español", "es"),
        ("anglais", "en"),
        ("Englisch", "en"),
        ("Italiano", "it"),
        ("Português", "pt"),
        ("中文", "zh"),
        ("日本語", "ja"),
        ("اللغة العربية", "ar"),
        ("हिन्दी", "hi"),
        ("עברית", "he"),
        ("Русский", "ru"),
        ("Indonesian", "id"),
        ("en", "en"),
        ("eng", "en"),
        ("EN-gb", "en"),
        ("en_US", "en"),
        ("fre", "fr"),
        ("ger", "de"),
        ("gsw", "gsw"),
        ("Swiss German", "gsw"),
        ("http://publications.europa.eu/resource/authority/language/ENG", "en"),
        ("http://publications.europa.eu/resource/authority/language/FRA", "fr"),
    ],
)
def test_language(published: str, code: str) -> None:
    assert language(published) == (code, ())


@pytest.mark.parametrize("published", ["und", "mul", "Elvish", "", "xx"])
def test_unknown_language_is_warned(published: str) -> None:
    result = language(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING
