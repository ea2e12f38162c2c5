"""Result hits from tantivy: the stored card of each document and a safe highlighted snippet.

Snippets come from the description in the document's own language field, highlighted by
tantivy's SnippetGenerator, and are rendered here as HTML where only <b> tags are markup and
every other character is escaped. Without a highlight the snippet is the description's start.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import tantivy

from course_catalogue.search.documents import LANGUAGES, OTHER, text_language
from course_catalogue.search.query import Hit
from course_catalogue.search.snippets import SNIPPET_CHARS, excerpt
from course_catalogue.search.tantivy.index import text_field


class HitBuilder:
    """Turns one page of (score, address) pairs into Hits; snippet generators are made lazily."""

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema, text: tantivy.Query | None):
        self._searcher = searcher
        self._schema = schema
        self._text = text
        self._generators: dict[str, tantivy.SnippetGenerator] = {}

    def hits(self, pairs: Iterable[tuple[Any, tantivy.DocAddress]], *, scored: bool) -> tuple[Hit, ...]:
        return tuple(self._hit(score, address, scored) for score, address in pairs)

    def _hit(self, score: Any, address: tantivy.DocAddress, scored: bool) -> Hit:
        doc = self._searcher.doc(address)
        # One conversion of the stored fields (a handful: card, id, seq, the descriptions)
        # rather than a `get_first` call per field looked at.
        stored: dict[str, list[Any]] = doc.to_dict()
        card: dict[str, Any] = json.loads(bytes(_first(stored, "card") or b"{}"))
        card.setdefault("id", _first(stored, "id"))
        return Hit(
            id=str(card["id"]),
            score=float(score) if scored else 0.0,
            fields=MappingProxyType(card),
            snippet=self._snippet(doc, stored, tuple(card.get("languages") or ())),
        )

    def _snippet(
        self, doc: tantivy.Document, stored: dict[str, list[Any]], languages: tuple[str, ...]
    ) -> str | None:
        fields = [f for f in _description_fields(languages) if _first(stored, f)]
        if not fields:
            return None
        if self._text is not None:
            for field in fields:
                snippet = self._generator(field).snippet_from_doc(doc)
                ranges = [(r.start, r.end) for r in snippet.highlighted()]
                if ranges:
                    return render_snippet(snippet.fragment(), ranges)
        return html.escape(excerpt(str(_first(stored, fields[0]))))

    def _generator(self, field: str) -> tantivy.SnippetGenerator:
        generator = self._generators.get(field)
        if generator is None:
            assert self._text is not None
            generator = tantivy.SnippetGenerator.create(self._searcher, self._text, self._schema, field)
            generator.set_max_num_chars(SNIPPET_CHARS)
            self._generators[field] = generator
        return generator


def render_snippet(fragment: str, ranges: Sequence[tuple[int, int]]) -> str:
    """HTML of `fragment` with the byte `ranges` (tantivy's offsets are UTF-8 bytes) in <b>."""
    raw = fragment.encode("utf-8")
    parts: list[str] = []
    position = 0
    for start, end in sorted(ranges):
        if start < position or end <= start:
            continue
        parts.append(_escaped(raw[position:start]))
        parts.append(f"<b>{_escaped(raw[start:end])}</b>")
        position = end
    parts.append(_escaped(raw[position:]))
    return "".join(parts)


@lru_cache(maxsize=1024)
def _description_fields(languages: tuple[str, ...]) -> tuple[str, ...]:
    # English first (the display language of the UI), then the course's languages, then the rest.
    # Memoised: a handful of language lists recur on every page (bounded: they come from cards).
    preferred = ["en", *(text_language(code) for code in languages), OTHER, *LANGUAGES]
    return tuple(text_field("description", lang) for lang in dict.fromkeys(preferred))


def _first(stored: dict[str, list[Any]], field: str) -> Any:
    """`Document.get_first(field)` on the document's `to_dict()`: its first value, or None."""
    values = stored.get(field)
    return values[0] if values else None


def _escaped(chunk: bytes) -> str:
    return html.escape(chunk.decode("utf-8", errors="ignore"))
