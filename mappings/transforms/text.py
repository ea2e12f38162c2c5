"""Text clean-up normalisers: whitespace, HTML to text, URLs, IRIs and lists of person names."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from mappings.transforms.result import Result, ok, warn

_TAG_HINT = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "dd",
        "dt",
    ]
)


def _messy(line: str) -> bool:
    """True when a line holds whitespace other than single spaces (substring scans run in C):
    two spaces, tab, no-break and narrow no-break space, form feed, vertical tab. Spelled out,
    since a generator over a tuple of them cost more than the scans themselves."""
    return "  " in line or "\t" in line or "\xa0" in line or "\u202f" in line or "\f" in line or "\v" in line


def clean_text(value: str) -> str:
    """Whitespace folded inside lines, at most one blank line between paragraphs, ends trimmed."""
    if "\n" not in value and "\r" not in value:
        return " ".join(value.split()) if _messy(value) else value.strip()
    lines: list[str] = []
    blank = False
    for line in value.splitlines():
        line = " ".join(line.split()) if _messy(line) else line.strip()
        if not line:
            blank = True
            continue
        if blank and lines:
            lines.append("")
        lines.append(line)
        blank = False
    return "\n".join(lines)


def text(value: str) -> Result[str]:
    """Plain text with whitespace tidied (see `clean_text`); blank -> None."""
    return ok(clean_text(value) or None)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; block elements become line breaks, table cells of
    a row are separated by " | " (else "<td>A</td><td>B</td>" would read "AB")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("td", "th"):
            self.parts.append(" | " if self._cells else "")
            self._cells += 1
        elif tag == "tr":
            self._cells = 0
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag != "br" and tag != "li" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS and tag != "li":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(value: str) -> Result[str]:
    """Text of an HTML fragment: tags removed, entities decoded, paragraphs kept as blank lines.

    Plain text passes through `text` unchanged, so the transform is safe on mixed columns.
    """
    if not _TAG_HINT.search(value):
        return text(value)
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return ok(clean_text(html.unescape("".join(parser.parts))) or None)


def url(value: str) -> Result[str]:
    """An absolute http(s) URL. "www.example.org/x" gains "https://"; anything else is dropped."""
    value = value.strip()
    if value.lower().startswith("www."):
        value = "https://" + value
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in value:
        return warn(f"not an http(s) URL: {value[:80]!r}", "invalid-url")
    return ok(value)


def iri(value: str) -> Result[str]:
    """An absolute IRI (any scheme with an authority, e.g. an ELM vocabulary concept)."""
    value = value.strip()
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in value):
        return warn(f"not an absolute IRI: {value[:80]!r}", "invalid-iri")
    return ok(value)


def person_names(value: str, separator: str = "-") -> Result[tuple[str, ...]]:
    """Split a list of person names joined by `separator` ("Ann Lee-Bo Chen" -> two names).

    A part that is a single word is taken as the tail of a hyphenated surname and glued back
    ("Emiliana Simon-Thomas" stays whole), because a full name has at least two words.
    """
    names: list[str] = []
    for part in (p.strip() for p in value.split(separator)):
        if not part:
            continue
        if names and " " not in part and separator == "-":
            names[-1] = f"{names[-1]}-{part}"
        else:
            names.append(" ".join(part.split()))
    return ok(tuple(names) or None)
