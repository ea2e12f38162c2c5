"""What the service operations' input schemas share: the UNSET marker of a field the caller did
not give, and the checks every `from_json` makes before its own (no unknown keys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from course_catalogue.services.errors import InvalidInput


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A field the input did not give: a creation uses the default, a change keeps the stored value."""


class InputFields:
    """Base of the frozen dataclasses that are an operation's input (SourceFields, SchemeFields):
    every field defaults to UNSET."""

    def given(self, name: str) -> bool:
        """Whether the caller gave field `name` (None counts as given: it removes a value)."""
        return getattr(self, name) is not UNSET

    @classmethod
    def known_keys(cls, data: Mapping[str, Any]) -> set[str]:
        """The field names of this input; InvalidInput naming the keys of `data` that are none."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"Unknown fields: {', '.join(unknown)}.")
        return known
