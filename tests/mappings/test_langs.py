"""Language-tagged values: tags survive the rule steps and put text under its own language."""

from __future__ import annotations

from pathlib import Path

from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.values import LangValue, carry, join, lang_of, plain, strip, tagged, text_of

SPEC = """
format = "xml"
default_language = "en"
[namespaces]
c = "urn:c"
[reader]
record = "c:course"
lang_attributes = ["xml:lang", "language"]
[id]
xpath = "@id"
[fields.title]
xpath = "c:title"
[[fields.description]]
xpath = "c:desc"
[[fields.description]]
xpath = "c:note"
lang = "de"
[fields.keywords]
xpath = "c:tags"
split = ","
[fields.learning_outcomes]
xpath = "c:outcome"
"""

DOC = b"""<course xmlns="urn:c" id="k" xml:lang="fr-FR">
<title>Titre</title><title xml:lang="en-GB">Title</title><title language="fi">Otsikko</title>
<desc>  Un  </desc><desc>Deux</desc><desc xml:lang="und">Three</desc><note xml:lang="fr">Notiz</note>
<tags>a, b</tags><outcome>Savoir</outcome><outcome xml:lang="en">Know</outcome></course>"""


def test_tagged_values() -> None:
    value = tagged("Bonjour", "fr-CA")
    assert value == LangValue("Bonjour", "fr") and text_of(value) == "Bonjour" and lang_of(value) == "fr"
    assert value != "Bonjour"  # not a str: the text is read through text_of
    assert (
        tagged("x", "und") == "x" and type(tagged("x", "und")) is str and lang_of(tagged("x", None)) is None
    )
    assert carry("y", value) == LangValue("y", "fr") and carry("y", "plain") == "y"
    assert carry(3, value) == 3  # only text is filed under a language
    assert strip(LangValue("  a ", "de")) == LangValue("a", "de") and strip(" a ") == "a"
    assert join(", ", [LangValue("a", "fr"), LangValue("b", "fr")]) == LangValue("a, b", "fr")
    assert join(", ", [LangValue("a", "fr"), LangValue("b", "de")]) == "a, b"
    assert join(", ", [LangValue("a", "fr"), "b"]) == "a, b"
    assert plain([LangValue("a", "fr"), "b", 3]) == ["a", "b", 3]


def test_text_goes_under_its_own_language(tmp_path: Path) -> None:
    path = tmp_path / "langs.toml"
    path.write_text(SPEC, encoding="utf-8")
    course = apply(load_spec(str(path)), RawItem(DOC, "application/xml"), "s").course
    assert course is not None
    assert dict(course.title) == {"fr": "Titre", "en": "Title", "fi": "Otsikko"}
    # inherited xml:lang, whitespace clean-up keeps the tag, "und" falls back to the record language,
    # and the rule's own `lang` overrides the value's tag
    assert dict(course.description) == {"fr": "Un\n\nDeux", "en": "Three", "de": "Notiz"}
    assert course.keywords == ("a", "b")
    assert [dict(o.text) for o in course.learning_outcomes] == [{"fr": "Savoir"}, {"en": "Know"}]
