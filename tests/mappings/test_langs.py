"""Language-tagged values: tags survive the rule steps and put text under its own language."""

from __future__ import annotations

from pathlib import Path

from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.values import Tagged, lang_of, retag, tagged

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
    assert isinstance(value, Tagged) and value == "Bonjour" and lang_of(value) == "fr"
    assert type(tagged("x", "und")) is str and lang_of(tagged("x", None)) is None
    assert lang_of(retag("y", value)) == "fr"
    assert lang_of(retag(Tagged("y", "de"), "plain")) is None  # a cached tagged result is untagged


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
