"""Text clean-up normalisers: whitespace, HTML to text, URLs, IRIs and lists of person names."""

from __future__ import annotations

import html
import ipaddress
import re
from copy import deepcopy
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
from html_text import etree_to_text, parse_html
from publicsuffixlist import PublicSuffixList

from course_catalogue.mappings.transforms.result import Result, ok, warn

_TAG_HINT = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")
_TAG = re.compile(r"<[a-zA-Z/!]")
_BLOCK_TAG = re.compile(
    r"<(?:p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|pre|dd|dt)\b", re.IGNORECASE
)
# A host name: dot-separated labels of letters (any script), digits, inner hyphens and underscores
# (found in real subdomains, though not in DNS host names proper), an optional root dot; no empty
# label ("your_course_url..." is a template's placeholder, not a host).
_HOST = re.compile(r"(?:(?!-)[\w-]{1,63}(?<!-)\.)*(?!-)[\w-]{1,63}(?<!-)\.?")
# The Public Suffix List snapshot the package ships (no network): tells a site ("x.fr") from a file
# name ("brochure.pdf") when a URL comes without its scheme.
_PUBLIC_SUFFIXES = PublicSuffixList()
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# Any whitespace character: `\s` on str patterns is what `str.isspace` says (one scan in C, where
# a generator over the characters cost more than the rest of the URL checks)
_SPACE = re.compile(r"\s")
_NOT_TEXT = (lxml.etree.Comment, lxml.etree.ProcessingInstruction, "script", "style", "template")
# Inline elements run on with the text around them, as a browser shows them ("Manager:<a>x</a>"
# reads "Manager:x"); html-text would put a space at every element boundary.
_INLINE = (
    "a",
    "abbr",
    "b",
    "bdi",
    "bdo",
    "big",
    "cite",
    "code",
    "data",
    "del",
    "dfn",
    "em",
    "font",
    "i",
    "ins",
    "kbd",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "time",
    "tt",
    "u",
    "var",
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


def html_text(value: str) -> Result[str]:
    """Text of an HTML fragment with its blocks kept: paragraphs and headings become blank
    lines, list items, line breaks and table rows new lines, cells " | "; entities are decoded once
    ("&amp;lt;b&amp;gt;" gives "&lt;b&gt;"); script and style content is dropped.

    The work is done by Zyte's html-text on lxml (see pyproject.toml). Text without tags only
    has its entities decoded, so its own line breaks stay; a fragment whose markup has no
    block element keeps the blank lines of its text as paragraph breaks (feeds that mix plain
    paragraphs with inline tags). Plain text passes through `text` unchanged, so the transform
    is safe on mixed columns.
    """
    if not _TAG_HINT.search(value):
        return text(value)
    if not _TAG.search(value):
        return text(html.unescape(value))
    if not _BLOCK_TAG.search(value):
        value = _BLANK_LINE.sub("<p></p>", value)
    return ok(_tree_text(parse_html(value)) or None)


def xhtml_text(element: Any) -> str:
    """Text of an XML element whose content is XHTML (XCRI-CAP descriptions wrap theirs in
    `<xhtml:div>`), with its blocks kept as `html_text` keeps them; the element is not changed."""
    copy = deepcopy(element)
    for node in copy.iter(lxml.etree.Element):
        node.tag = lxml.etree.QName(node).localname
    return _tree_text(copy)


def _tree_text(tree: Any) -> str:
    # What is not text: html-text's full cleaner would also take out links, frames and forms
    # (and cost a third of the call); text extraction needs only these gone.
    lxml.etree.strip_elements(tree, *_NOT_TEXT, with_tail=False)
    lxml.etree.strip_tags(tree, *_INLINE)
    for row in tree.iter("tr"):  # cells of a row read "A | B", not "A B"
        for cell in [c for c in row if c.tag in ("td", "th")][1:]:
            cell.text = "| " + (cell.text or "")
    return clean_text(etree_to_text(tree, guess_layout=True))


def url(value: str) -> Result[str]:
    """An absolute http(s) URL whose host is a well-formed host name (or an IP address).

    A value without a scheme ("www.example.org/x", "lyceedekerneuzec.fr") gains "https://" when its
    host starts with "www." or ends in a public suffix of the Public Suffix List and names a domain
    under it, so that
    "brochure.pdf" or a placeholder is never taken for a site. Anything else is dropped with a
    WARNING (invalid-url)."""
    value = value.strip()
    if "://" not in value and not value.lower().startswith(("http:", "https:")):
        host = re.split(r"[/?#:]", value, maxsplit=1)[0]
        if _HOST.fullmatch(host) and (
            host.lower().startswith("www.")
            or _PUBLIC_SUFFIXES.privatesuffix(host.lower(), accept_unknown=False)
        ):
            value = "https://" + value
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        parts, hostname = None, None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not hostname
        or _SPACE.search(value) is not None
        or not (_HOST.fullmatch(hostname) or _is_ip(hostname))
    ):
        return warn(f"not an http(s) URL: {value[:80]!r}", "invalid-url")
    return ok(value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def iri(value: str) -> Result[str]:
    """An absolute IRI (any scheme with an authority, e.g. an ELM vocabulary concept)."""
    value = value.strip()
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or _SPACE.search(value) is not None:
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
