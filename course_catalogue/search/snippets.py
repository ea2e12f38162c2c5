"""The plain-text excerpt a hit shows when its engine highlighted nothing, for both engines."""

from __future__ import annotations

SNIPPET_CHARS = 200
"""Longest snippet or excerpt, in characters (the engines' highlighters take it too)."""


def excerpt(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of `text`, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"
