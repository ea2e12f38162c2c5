"""Locale-tolerant number reading shared by the money, credit and duration normalisers, with the
quantity words of `data/quantities.toml` (numbers in words, range connectors)."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from course_catalogue.mappings.transforms.result import unaccented

# A number as people write it: "7", "7,5", "1.234,50", "1,234.50", "1 234,50" (space or NBSP thousands).
NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)*"
_NUMBER_RE = re.compile(NUMBER)
_SPACES = str.maketrans("", "", " \u00a0\u202f")
_TWO = Decimal("0.01")


def parse_number(token: str) -> Decimal | None:
    """Read one number token (as matched by `NUMBER`) into a Decimal; None if it is not one.

    Separator rules, in order: both '.' and ',' present -> the last one is the decimal mark;
    several of the same mark -> thousands separators; a single ',' followed by exactly three
    digits -> thousands ("1,200" as in "£1,200"), otherwise decimal ("7,5"); a single '.' is
    always a decimal mark ("1.5").
    """
    token = token.translate(_SPACES)
    if "," in token and "." in token:
        decimal_mark = "," if token.rfind(",") > token.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        token = token.replace(thousands, "").replace(decimal_mark, ".")
    elif token.count(",") > 1 or token.count(".") > 1:
        token = token.replace(",", "").replace(".", "")
    elif "," in token:
        head, tail = token.split(",")
        token = head + tail if len(tail) == 3 and head != "0" else f"{head}.{tail}"
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


def tidy(value: Decimal) -> Decimal:
    """Round to 2 decimals and drop trailing zeros without switching to exponent notation."""
    value = value.quantize(_TWO)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


_NEGATIVE = re.compile(rf"(?:^|[^\w.,])[-\u2212\u2010\u2012](?:{NUMBER})")


def has_negative(text: str) -> bool:
    """True when a number in `text` carries a minus sign ("-5", "€-450", "−3"): credits, hours and
    prices cannot be negative, and dropping the sign silently would publish a wrong value. A
    range ("5-10") or a list dash ("- 5") is not a sign."""
    return _NEGATIVE.search(text) is not None


@cache
def quantities() -> dict[str, Any]:
    """The tables of `data/quantities.toml` (numbers, units, per, ranges, credits)."""
    path = resources.files("course_catalogue.mappings.transforms") / "data" / "quantities.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def words_pattern(words: list[str] | tuple[str, ...]) -> str:
    """A regex alternation of phrases, longest first, spaces matching any whitespace run."""
    return "|".join(r"\s+".join(map(re.escape, w.split())) for w in sorted(set(words), key=len, reverse=True))


@cache
def _number_words() -> tuple[dict[str, int], re.Pattern[str]]:
    values = {
        unaccented(word).casefold(): int(n)
        for table in quantities()["numbers"].values()
        for word, n in table.items()
    }
    word = rf"(?:{words_pattern(tuple(values))})"
    return values, re.compile(rf"\b({word})(?:[ -]({word}))?\b")


@cache
def _between() -> re.Pattern[str]:
    pairs = "|".join(
        rf"{re.escape(a)}\s+({NUMBER})\s+{re.escape(b)}\s+({NUMBER})"
        for a, b in quantities()["ranges"]["between"]
    )
    return re.compile(rf"\b(?:{pairs})(?![\d.,])")


def range_words() -> str:
    """Regex alternation of what stands between the two numbers of a range ("5-10", "2 bis 3")."""
    return r"[-–—]|" + words_pattern(quantities()["ranges"]["words"])


def spelled_out(text: str) -> str:
    """`text` (case folded, without accents) with numbers in words as digits and bracketing
    ranges as "a-b": "five to ten hours" -> "5 to 10 hours", "twenty-five" -> "25",
    "between 5 and 10 hours" -> "5-10 hours", "od 5 do 10 godzin" -> "5-10 godzin"."""
    values, pattern = _number_words()

    def digits(match: re.Match[str]) -> str:
        first = values[" ".join(match.group(1).split())]
        if match.group(2) is None:
            return str(first)
        second = values[" ".join(match.group(2).split())]
        if first >= 20 and first % 10 == 0 and second < 10:
            return str(first + second)
        return f"{first} {second}"

    text = pattern.sub(digits, text)
    return _between().sub(lambda m: "-".join(g for g in m.groups() if g is not None), text)
