"""The one formats table (catalogue/formats.py) and the registries derived from it agree."""

from __future__ import annotations

from course_catalogue.catalogue.formats import FORMATS
from course_catalogue.catalogue.sources import FORMATS as SOURCE_FORMATS
from course_catalogue.harvesters.base import harvester_for
from course_catalogue.mappings.selectors import FORMAT_MEDIA_TYPES, LANGUAGES


def test_every_format_has_a_reader_and_a_selector_language_for_its_items() -> None:
    assert set(SOURCE_FORMATS) == set(FORMATS) == set(FORMAT_MEDIA_TYPES)
    for name, fmt in FORMATS.items():
        cls = fmt.reader.partition(":")[2]
        assert type(harvester_for(name).harvester).__name__ == cls, name
        assert LANGUAGES[FORMAT_MEDIA_TYPES[name]].media_type == fmt.items, name
