"""The selector contract: what a selector language is and what its compiled selectors are.

Shared by the languages (selectors.py's CSV, xml_paths, rdf_paths, json_paths), the spec loader
and the rules; the registry of languages per media type is `mappings.selectors`. Kept apart from
that registry so a language module can name these types without importing the registry that
imports it (the cycle this module breaks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.values import Published

Select = Callable[[Any], list[Published] | None]
"""A compiled selector: document -> the published values it points at (strings, or
`mappings.values.LangValue`s where the format gives a value's language), or None when the thing
it names is absent from the item altogether (a CSV column missing from the header)."""


SelectNodes = Callable[[Any], list[Any] | None]
"""A compiled node selector (a group's `each`): document -> the sub-nodes it points at, each a
document the language's selectors accept (None when absent altogether)."""


class SelectorLanguage(Protocol):
    """Parses items of one media type and compiles that type's selector expressions."""

    @property
    def media_type(self) -> str: ...

    @property
    def keys(self) -> tuple[str, ...]:
        """Spec keys naming a selector, e.g. ("column",); "<key>s" takes a list."""
        ...

    def compile(self, key: str, expression: str) -> Select:
        """A selector function; raises ValueError with a reason when the expression is invalid."""
        ...

    def parse(self, item: RawItem) -> Any:
        """The item as a document; raises ValueError when the item is unreadable."""
        ...
