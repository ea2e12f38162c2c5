"""The official LOQ SHACL shapes (ELM 3.1), as Turtle a Python SHACL engine can run.

The files in `catalogue/data/shapes/` are unchanged copies of the European Learning Model's
`LOQ-constraints.ttl` and `LOQ-constraints-mdr.ttl` (EUPL-1.2). Their URL pattern
(`:URLRegexRestriction` on `elm:contentUrl`) is a Java regex: an inline `(?i)` after `^` and
`\\p{L}` classes, both of which Python's `re` rejects. Following docs/formats.md §6.1 we replace that
one literal, at load time, with the check it starts with: an http(s) scheme, case-insensitive.

ELM 3.1 ships `:LearningAchievementSpecificationShape` with `sh:deactivated true`, so by the
letter of the files a specification without ISCED-F, language or learning outcomes conforms.
`strict=True` switches that shape on, enforcing the cardinalities the LOQ profile documents
(docs/formats.md §3.2); our export is checked against both variants.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

SHAPE_FILES = ("LOQ-constraints.ttl", "LOQ-constraints-mdr.ttl")
PYTHON_URL_PATTERN = "(?i)^(http|https)://"
_JAVA_URL_PATTERN = re.compile(r'sh:pattern\s+"\^\(\?i\)\(http\|https\):[^\n]*"\s*;')
_LAS_SHAPE_OFF = re.compile(
    r"(:LearningAchievementSpecificationShape\s+a sh:NodeShape;.*?)\n\s*sh:deactivated true\s*;", re.S
)


@cache
def shapes_turtle(*, strict: bool = False) -> str:
    """Both LOQ shape files concatenated, with the Java-only URL regex made Python-safe;
    `strict` also activates the specification shape (see the module docstring)."""
    folder = resources.files("course_catalogue.catalogue") / "data" / "shapes"
    text = "\n".join((folder / name).read_text(encoding="utf-8") for name in SHAPE_FILES)
    patched, count = _JAVA_URL_PATTERN.subn(f'sh:pattern "{PYTHON_URL_PATTERN}" ;', text)
    if count == 0:
        raise RuntimeError("the LOQ URL pattern was not found: did the shape files change?")
    if strict:
        patched, count = _LAS_SHAPE_OFF.subn(r"\1", patched, count=1)
        if count == 0:
            raise RuntimeError(
                "the deactivated specification shape was not found: did the shape files change?"
            )
    return patched
