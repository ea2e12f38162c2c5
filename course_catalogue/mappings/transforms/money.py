"""Price and currency normalisers: "€450", "1.234,50 €", "USD 99", "Free", edX's free-to-audit text.

Decision for "free, with a paid extra" texts such as edX's "FREE-Add a Verified Certificate for
$49 USD": the course is free to take, so the amount is 0 and the paid extra goes into the note
("optional verified certificate 49 USD"). Search and the free-course facet then tell the truth
about access, and the certificate price is still shown.
"""

from __future__ import annotations

import gettext
import re
import tomllib
from decimal import Decimal
from functools import cache
from importlib import resources

import pycountry

from course_catalogue.catalogue.model import Price
from course_catalogue.catalogue.vocabularies import currencies
from course_catalogue.mappings.transforms.numerals import NUMBER, has_negative, parse_number, tidy
from course_catalogue.mappings.transforms.result import Result, info, ok, unaccented, warn

_FREE = re.compile(
    r"^(?:free(?: of charge)?|gratuit[e]?|gratis|gratuito|gratuita|gratuiti|kostenlos|kostenfrei|"
    r"no cost|bezpłatn[ey]|ilmainen|δωρεάν|zdarma|ingyenes)\b[\s:;,.!–—-]*"
)
_EXTRA = re.compile(
    r"^(?:add|plus|with|avec|mit|con)?\s*(?:an?\s+|un[e]?\s+|ein[e]?\s+)?(.+?)\s+(?:for|at|pour|für|por|per|à)\s+(.+)$",
    re.I,
)
_AMOUNT = re.compile(NUMBER)
_RANGE = re.compile(rf"({NUMBER})\s*(?:-|–|—|to|à|bis)\s*({NUMBER})")
_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])")
# Symbol -> (ISO 4217, needs a note because the symbol is shared by several currencies).
_SYMBOLS = (
    ("US$", "USD", False),
    ("CA$", "CAD", False),
    ("C$", "CAD", False),
    ("A$", "AUD", False),
    ("R$", "BRL", False),
    ("€", "EUR", False),
    ("£", "GBP", False),
    ("₹", "INR", False),
    ("₽", "RUB", False),
    ("zł", "PLN", False),
    ("kč", "CZK", False),
    ("$", "USD", True),
    ("¥", "JPY", True),
)


_NAME_WORD = re.compile(r"[^\W\d_]+")
_NAME_WORDS = 4  # the longest currency name read beside an amount, in words
_SHORTEST_NAME = 5  # letters of a one-word ISO name read from pycountry
# Languages whose pycountry ISO 4217 catalogues name currencies (the EU languages it has).
_NAME_LANGUAGES = [
    "cs",
    "da",
    "de",
    "el",
    "es",
    "et",
    "fi",
    "fr",
    "ga",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
]


def _name_key(text: str) -> str:
    return " ".join(_NAME_WORD.findall(unaccented(text).casefold()))


@cache
def currency_names() -> dict[str, tuple[str, bool]]:
    """Currency name (folded, without accents) -> (ISO 4217 code, assumed): the ISO names in
    English and the EU languages (pycountry), and `data/currencies.toml`. A name pycountry gives
    to several currencies, or a one-word name under five letters, is not taken from pycountry;
    the data file's `assumed` words are read with a note."""
    found: dict[str, set[str]] = {}
    catalogues = [gettext.NullTranslations()]
    for language in _NAME_LANGUAGES:
        try:
            catalogues.append(gettext.translation("iso4217", pycountry.LOCALES_DIR, languages=[language]))
        except OSError:
            continue  # a pycountry release without this catalogue: its names are simply absent
    for entry in pycountry.currencies:
        for catalogue in catalogues:
            found.setdefault(_name_key(catalogue.gettext(entry.name)), set()).add(entry.alpha_3)
    # One short word is as often an ordinary one ("won", "real", "rand"): those come from the
    # data file only, where a word is listed on purpose.
    names = {
        key: (codes.pop(), False)
        for key, codes in found.items()
        if len(codes) == 1 and (" " in key or len(key) >= _SHORTEST_NAME)
    }
    path = resources.files("course_catalogue.mappings.transforms") / "data" / "currencies.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for kind, assumed in (("names", False), ("assumed", True)):
        for code, words in data[kind].items():
            names.update({_name_key(word): (code, assumed) for word in words})
    return names


def _named(text: str) -> tuple[str | None, bool]:
    """(currency, assumed) of a currency name written right before or after an amount."""
    names = currency_names()
    best: tuple[str, bool] | None = None
    for match in _AMOUNT.finditer(text):
        after = _NAME_WORD.findall(unaccented(text[match.end() : match.end() + 60]).casefold())
        before = _NAME_WORD.findall(unaccented(text[max(0, match.start() - 60) : match.start()]).casefold())
        after = after[:_NAME_WORDS] if re.match(r"\s*[^\W\d_]", text[match.end() :]) else []
        before = before[-_NAME_WORDS:] if re.search(r"[^\W\d_][\s.]*$", text[: match.start()]) else []
        for n in range(_NAME_WORDS, 0, -1):
            for words in (after[:n], before[-n:]):
                if len(words) == n and (hit := names.get(" ".join(words))) is not None:
                    if not hit[1]:
                        return hit[0], False
                    best = best or hit
    return (best[0], True) if best else (None, False)


@cache
def known_currency(code: str) -> bool:
    """True for an ISO 4217 code (EU currency table or ISO 4217 via pycountry)."""
    return code in currencies() or pycountry.currencies.get(alpha_3=code) is not None


def _currency_in(text: str, default: str | None) -> tuple[str | None, str | None, bool]:
    """(currency, unknown code seen, assumed from an ambiguous symbol or word)."""
    for code in _CODE.findall(text):
        if known_currency(code):
            return code, None, False
    named, assumed = _named(text)
    if named is not None and not assumed:
        return named, None, False
    lowered = text.casefold()
    for symbol, code, ambiguous in _SYMBOLS:
        if symbol.casefold() in lowered:
            return code, None, ambiguous
    if named is not None:
        return named, None, True
    codes = _CODE.findall(text)
    if codes:
        return None, codes[0], False
    return default, None, False


def _paid_extra(rest: str) -> str:
    """Note for the paid extra after a "free" marker: "optional verified certificate 49 USD"."""
    match = _EXTRA.match(rest)
    if match:
        extra = price(match.group(2)).value
        if extra is not None and extra.currency:
            return f"optional {' '.join(match.group(1).split()).lower()} {extra.amount} {extra.currency}"
    return rest


def price(value: str, currency: str | None = None) -> Result[Price]:
    """A Price from a published price text. `currency` is the feed's currency for bare numbers.

    Free texts give amount 0 (see the module docstring for free-with-paid-extra). A range gives
    its lowest amount, noted as "from ... to ...". An unknown currency or a bare number without
    a `currency` drops the price with a WARNING: an amount without a currency is not publishable.
    """
    text = " ".join(value.split())
    free = _FREE.match(text.casefold())
    if free:
        rest = text[free.end() :]
        return ok(Price(Decimal(0), None, _paid_extra(rest) if rest else None))
    if has_negative(text):
        return warn(f"a price cannot be negative: {value[:80]!r}", "invalid-price")
    amounts = [a for a in (parse_number(m) for m in _AMOUNT.findall(text)) if a is not None]
    if not amounts:
        return warn(f"no amount in price {value[:80]!r}", "invalid-price")
    code, unknown, assumed = _currency_in(text, currency)
    if all(a == 0 for a in amounts):
        return ok(Price(Decimal(0)))
    if unknown is not None:
        return warn(f"unknown currency {unknown!r} in price {value[:80]!r}", "unknown-currency")
    if code is None:
        return warn(f"price {value[:80]!r} names no currency", "unknown-currency")
    span = _RANGE.search(text)
    amount = tidy(amounts[0])
    note = f"from {tidy(amounts[0])} to {tidy(amounts[1])} {code}" if span and len(amounts) > 1 else None
    result = Price(amount, code, note)
    if assumed:
        return info(result, f"currency symbol or word in {value[:80]!r} read as {code}", "currency-assumed")
    return ok(result)


def currency(value: str) -> Result[str]:
    """ISO 4217 code from a code ("eur"), a symbol ("€"), a name in an EU language ("US Dollar",
    "livres sterling", "Schweizer Franken", "złoty") or an EU currency IRI."""
    text = value.strip().rsplit("/", 1)[-1]
    if known_currency(text.upper()):
        return ok(text.upper())
    named = currency_names().get(_name_key(value))
    if named is not None:
        note = f"currency {value[:80]!r} read as {named[0]}"
        return info(named[0], note, "currency-assumed") if named[1] else ok(named[0])
    found, _unknown, _assumed = _currency_in(text, None)
    return ok(found) if found else warn(f"unknown currency {value[:80]!r}", "unknown-currency")
