"""Result snippets shaped the same way for every engine: whole sentences where the engine's
fragment allows, an ellipsis wherever a sentence is cut, and HTML in which only <b> (the
highlighted words) is markup; without a highlight, `excerpt` gives the description's start.

An engine gives a fragment of the description with highlight ranges; `shape` places it in the
full description and
* starts it at the beginning of the sentence holding the first highlight (the partial sentence
  before it is dropped), or with "… " when that sentence began before the fragment;
* ends it after the last complete sentence that still holds the last highlight, or at a word
  boundary followed by " …" when no sentence ends inside the fragment after it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

SNIPPET_CHARS = 200
"""Longest snippet or excerpt, in characters (the engines' highlighters take it too)."""
ELLIPSIS = "…"
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
_STARTS_SENTENCE = re.compile(r"(^|[.!?…][\"'”’)\]]*)\s*$")
"""Text before a fragment that ends a sentence (a colon or semicolon does not: lists follow)."""


def shape(fragment: str, ranges: Sequence[tuple[int, int]], full: str) -> str:
    """HTML of `fragment` (a piece of `full`) with the character `ranges` in <b>, cut to
    sentence boundaries with ellipses as the module docstring says."""
    spans = sorted((max(0, s), min(len(fragment), e)) for s, e in ranges if e > s)
    start_in_full = full.find(fragment) if fragment else -1
    first = spans[0][0] if spans else 0
    last = spans[-1][1] if spans else len(fragment)
    begin, end = 0, len(fragment)
    lead = trail = False
    if start_in_full > 0 and not _STARTS_SENTENCE.search(full[:start_in_full]):
        boundaries = [m.end() for m in _SENTENCE_END.finditer(fragment, 0, first)]
        if boundaries:
            begin = boundaries[-1]
        else:
            lead = True
    elif start_in_full < 0 and fragment[:1].islower():
        lead = True
    fragment_end = start_in_full + len(fragment) if start_in_full >= 0 else -1
    if fragment_end < 0 or full[fragment_end:].strip():
        ends = [m.end() for m in _SENTENCE_END.finditer(fragment, last)]
        if ends:
            end = ends[-1]
        else:
            trail = True
            following = full[fragment_end : fragment_end + 1] if fragment_end >= 0 else " "
            if following.isalnum():  # the fragment ends inside a word
                space = fragment.rfind(" ", last)
                end = space if space > last else len(fragment)
    return _render(fragment, spans, begin, end, lead, trail)


def excerpt(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of `text` (plain, not HTML): whole sentences when one ends in the second half
    of `limit` characters, else cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut) if m.end() > limit // 2]
    if ends:
        return cut[: ends[-1]]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(",;: ") + " " + ELLIPSIS


def _render(
    fragment: str, spans: Sequence[tuple[int, int]], begin: int, end: int, lead: bool, trail: bool
) -> str:
    parts: list[str] = []
    position = begin
    for s, e in spans:
        s, e = max(s, position), min(e, end)
        if e <= s:
            continue
        parts.append(html.escape(fragment[position:s]))
        parts.append(f"<b>{html.escape(fragment[s:e])}</b>")
        position = e
    if position < end:
        parts.append(html.escape(fragment[position:end]))
    body = "".join(parts).strip()
    if lead:
        body = f"{ELLIPSIS} {body}"
    if trail:
        body = f"{body.rstrip(',;: ')} {ELLIPSIS}"
    return body


def byte_ranges_to_chars(fragment: str, ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """UTF-8 byte offsets (tantivy's) of `fragment` as character offsets."""
    raw = fragment.encode("utf-8")
    return [
        (len(raw[:s].decode("utf-8", "ignore")), len(raw[:e].decode("utf-8", "ignore"))) for s, e in ranges
    ]
