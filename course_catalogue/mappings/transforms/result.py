"""The value-plus-issues result every normaliser returns, and helpers to build its issues."""

from __future__ import annotations

import unicodedata
from typing import Generic, NamedTuple, TypeVar

from course_catalogue.catalogue.runs import Issue, Severity

T = TypeVar("T")


class Result(NamedTuple, Generic[T]):
    """A normalised value (None when nothing usable was found) and the issues met on the way.

    Issues carry only severity, code and message: the engine adds the field, record and pointer.
    Results are immutable so the engine may cache them per published value (a NamedTuple
    because every published value makes one: it is the cheapest immutable record).
    """

    value: T | None
    issues: tuple[Issue, ...] = ()


def ok(value: T | None) -> Result[T]:
    return Result(value)


def warn(message: str, code: str = "invalid", value: T | None = None) -> Result[T]:
    """A WARNING: the published value was dropped or is doubtful."""
    return Result(value, (Issue(Severity.WARNING, message, code=code),))


def info(value: T | None, message: str, code: str = "note") -> Result[T]:
    """An INFO note beside a usable value (e.g. an estimate)."""
    return Result(value, (Issue(Severity.INFO, message, code=code),))


def fold(text: str) -> str:
    """Lookup key of a published label: whitespace runs folded to one space, case folded."""
    return " ".join(text.split()).casefold()


# Letters NFKD does not split into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ı": "i"})


def unaccented(text: str) -> str:
    """`text` without accents ("présentiel" -> "presentiel", "złoty" -> "zloty"), case kept, so
    vocabulary tables match what feeds write with or without them."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
