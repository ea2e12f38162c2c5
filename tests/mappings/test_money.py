"""Price and currency normalisers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from course_catalogue.catalogue.model import Price
from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.money import currency, price


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (
            "FREE-Add a Verified Certificate for $49 USD",
            Price(Decimal(0), None, "optional verified certificate 49 USD"),
        ),
        (
            "FREE-Add a Verified Certificate for $49.99 USD",
            Price(Decimal(0), None, "optional verified certificate 49.99 USD"),
        ),
        ("€450", Price(Decimal(450), "EUR")),
        ("450.00 EUR", Price(Decimal(450), "EUR")),
        ("1.234,50 €", Price(Decimal("1234.5"), "EUR")),
        ("£1,200", Price(Decimal(1200), "GBP")),
        ("USD 99", Price(Decimal(99), "USD")),
        ("CHF 99", Price(Decimal(99), "CHF")),
        ("Free", Price(Decimal(0))),
        ("gratuit", Price(Decimal(0))),
        ("Kostenlos", Price(Decimal(0))),
        ("0", Price(Decimal(0))),
        ("0,00 €", Price(Decimal(0))),
        ("450 € TTC", Price(Decimal(450), "EUR")),
        ("100-200 EUR", Price(Decimal(100), "EUR", "from 100 to 200 EUR")),
    ],
)
def test_price(published: str, expected: Price) -> None:
    assert price(published) == (expected, ())


def test_bare_dollar_is_read_as_usd_with_a_note() -> None:
    result = price("$99")
    assert result.value == Price(Decimal(99), "USD")
    assert result.issues[0].severity is Severity.INFO


def test_bare_amount_uses_the_spec_currency() -> None:
    assert price("450", currency="EUR").value == Price(Decimal(450), "EUR")


@pytest.mark.parametrize("published", ["450", "450 XYZ", "on request", ""])
def test_unusable_price_is_warned(published: str) -> None:
    result = price(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING


@pytest.mark.parametrize(
    ("published", "code"),
    [
        ("EUR", "EUR"),
        ("eur", "EUR"),
        ("€", "EUR"),
        ("http://publications.europa.eu/resource/authority/currency/GBP", "GBP"),
    ],
)
def test_currency(published: str, code: str) -> None:
    assert currency(published).value == code


def test_unknown_currency_is_warned() -> None:
    assert currency("XYZ").issues[0].severity is Severity.WARNING


@pytest.mark.parametrize("published", ["-450 EUR", "€-5", "EUR −99", "Price: -10 USD"])
def test_negative_prices_are_reported_not_unsigned(published: str) -> None:
    result = price(published)
    assert result.value is None and [i.code for i in result.issues] == ["invalid-price"]


@pytest.mark.parametrize(("published", "amount"), [("100-200 EUR", "100"), ("- 450 EUR", "450")])
def test_ranges_and_list_dashes_are_not_signs(published: str, amount: str) -> None:
    result = price(published)
    assert result.value is not None and result.value.amount == Decimal(amount)
