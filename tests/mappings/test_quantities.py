"""Currency names, workload and credit phrasings in the EU languages (data/currencies.toml,
data/quantities.toml, pycountry's ISO 4217 names)."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources

import pytest

from course_catalogue.catalogue.model import Price, Workload
from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.credits import ects, hours
from course_catalogue.mappings.transforms.durations import duration, effort_hours
from course_catalogue.mappings.transforms.money import currency, known_currency, price
from course_catalogue.mappings.transforms.numerals import spelled_out

CURRENCY_NAMES = [
    ("US Dollar", "USD"),
    ("US dollars", "USD"),
    ("U.S. dollars", "USD"),
    ("Dollar américain", "USD"),
    ("US-Dollar", "USD"),
    ("dólar estadounidense", "USD"),
    ("Dollaro statunitense", "USD"),
    ("dolar amerykański", "USD"),
    ("Amerikaanse dollar", "USD"),
    ("Euro", "EUR"),
    ("euros", "EUR"),
    ("EUR", "EUR"),
    ("ευρώ", "EUR"),
    ("Pound Sterling", "GBP"),
    ("pounds sterling", "GBP"),
    ("livres sterling", "GBP"),
    ("Pfund Sterling", "GBP"),
    ("libras esterlinas", "GBP"),
    ("funt szterling", "GBP"),
    ("Swiss franc", "CHF"),
    ("francs suisses", "CHF"),
    ("Schweizer Franken", "CHF"),
    ("franco svizzero", "CHF"),
    ("złoty", "PLN"),
    ("złotych", "PLN"),
    ("zloty", "PLN"),
    ("Czech koruna", "CZK"),
    ("forint", "HUF"),
    ("svenska kronor", "SEK"),
    ("danske kroner", "DKK"),
    ("Yuan Renminbi", "CNY"),
    ("€", "EUR"),
    ("http://publications.europa.eu/resource/authority/currency/EUR", "EUR"),
]


@pytest.mark.parametrize(("published", "code"), CURRENCY_NAMES)
def test_currency_names_in_eu_languages(published: str, code: str) -> None:
    assert currency(published) == (code, ())


@pytest.mark.parametrize(("published", "code"), [("dollars", "USD"), ("pounds", "GBP"), ("dólares", "USD")])
def test_words_several_currencies_share_are_read_with_a_note(published: str, code: str) -> None:
    result = currency(published)
    assert result.value == code and [i.code for i in result.issues] == ["currency-assumed"]


PRICES = [
    ("99 US Dollar", "99", "USD"),
    ("US Dollar 99", "99", "USD"),
    ("450 euros", "450", "EUR"),
    ("450 Euro", "450", "EUR"),
    ("1 200 livres sterling", "1200", "GBP"),
    ("1 200 Schweizer Franken", "1200", "CHF"),
    ("500 złotych", "500", "PLN"),
    ("500 zł", "500", "PLN"),
    ("12 000 Ft", "12000", "HUF"),
    ("300 dollars canadiens", "300", "CAD"),
    ("2500 svenska kronor", "2500", "SEK"),
    ("from 300 to 400 euros", "300", "EUR"),
]


@pytest.mark.parametrize(("published", "amount", "code"), PRICES)
def test_prices_with_currency_names(published: str, amount: str, code: str) -> None:
    result = price(published)
    assert result.value is not None and (result.value.amount, result.value.currency) == (
        Decimal(amount),
        code,
    )
    assert all(i.severity is not Severity.WARNING for i in result.issues)


def test_a_currency_word_counts_only_beside_an_amount() -> None:
    assert price("Euro-zone learners: 450").value is None  # "Euro" is not next to the amount
    assert price("120 Real").value is None  # one short word is no currency name unless listed
    assert price("49 dollars").value == Price(Decimal(49), "USD")
    assert [i.code for i in price("49 dollars").issues] == ["currency-assumed"]


def test_every_listed_currency_is_iso_4217() -> None:
    path = resources.files("course_catalogue.mappings.transforms") / "data" / "currencies.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert all(known_currency(code) for table in data.values() for code in table)


SPELLED = [
    ("five to ten hours per week", "5 to 10 hours per week"),
    ("twenty-five hours", "25 hours"),
    ("vingt cinq heures", "25 heures"),
    ("zwei bis drei stunden pro woche", "2 bis 3 stunden pro woche"),
    ("between 4 and 6 hours", "4-6 hours"),
    ("entre 4 et 6 heures", "4-6 heures"),
    ("zwischen 4 und 6 stunden", "4-6 stunden"),
    ("tussen 4 en 6 uur", "4-6 uur"),
    ("entre 4 y 6 horas", "4-6 horas"),
    ("tra 4 e 6 ore", "4-6 ore"),
    ("od 4 do 6 godzin", "4-6 godzin"),
    ("once a week", "once a week"),  # not Spanish eleven
    ("5 hours a week", "5 hours a week"),  # an article is no number
    ("un jour par semaine", "un jour par semaine"),
]


@pytest.mark.parametrize(("text", "normalised"), SPELLED)
def test_numbers_in_words_and_bracketing_ranges(text: str, normalised: str) -> None:
    assert spelled_out(text) == normalised


EFFORTS = [
    ("five to ten hours per week", "6 weeks", "45"),
    ("2-3 Stunden pro Woche", "8 Wochen", "20"),
    ("zwei bis drei Stunden pro Woche", "acht Wochen", "20"),
    ("10 heures", "6 semaines", "10"),
    ("trois heures par semaine", "dix semaines", "30"),
    ("between 4 and 6 hours a week", "10 weeks", "50"),
    ("3 ore settimanali", "12 settimane", "36"),
    ("od 2 do 4 godzin tygodniowo", "10 tygodni", "30"),
    ("5 hours weekly", "four weeks", "20"),
    ("twee uur per week", "zes weken", "12"),
    ("de 2 a 3 horas por semana", "seis semanas", "15"),
    ("1 hour a day", "2 weeks", "14"),
]


@pytest.mark.parametrize(("effort", "length", "total"), EFFORTS)
def test_workload_phrasings_where_a_number_is_stated(effort: str, length: str, total: str) -> None:
    assert effort_hours((effort, length)) == (Workload(hours=Decimal(total)), ())


@pytest.mark.parametrize(
    ("published", "value"),
    [("10 heures", "10"), ("ten hours", "10"), ("40 Stunden", "40"), ("12 godzin", "12"), ("5 uur", "5")],
)
def test_hours_in_words_and_languages(published: str, value: str) -> None:
    assert hours(published).value == Workload(hours=Decimal(value))


@pytest.mark.parametrize(
    ("published", "iso"),
    [("three months", "P3M"), ("sechs Wochen", "P6W"), ("dix semaines", "P10W"), ("2 tygodnie", "P2W")],
)
def test_durations_in_words_and_languages(published: str, iso: str) -> None:
    assert duration(published) == (iso, ())


@pytest.mark.parametrize("published", ["5 hours weekly", "zwei Stunden wöchentlich", "3 ore settimanali"])
def test_an_effort_per_period_is_no_duration(published: str) -> None:
    assert duration(published).issues[0].code == "invalid-duration"


CREDITS = [
    ("7.5 ECTS credits", "7.5"),
    ("7,5 ECTS", "7.5"),
    ("six ECTS", "6"),
    ("15 Leistungspunkte", "15"),
    ("5 LP", "5"),
    ("6 ECTS-Punkte", "6"),
    ("6 crédits ECTS", "6"),
    ("30 studiepunten", "30"),
    ("60 EC", "60"),
    ("6 créditos ECTS", "6"),
    ("12 CFU", "12"),
    ("9 crediti formativi universitari", "9"),
    ("10 punktów ECTS", "10"),
]


@pytest.mark.parametrize(("published", "value"), CREDITS)
def test_credit_phrasings_are_stated_ects(published: str, value: str) -> None:
    assert ects(published) == (Workload(ects=Decimal(value), ects_basis="stated"), ())


@pytest.mark.parametrize(
    ("published", "value", "basis"),
    [("20 SCQF credit points", "10", "converted:SCQF"), ("thirty CATS points", "15", "converted:CATS")],
)
def test_other_schemes_in_words_are_converted(published: str, value: str, basis: str) -> None:
    assert ects(published).value == Workload(ects=Decimal(value), ects_basis=basis)


@pytest.mark.parametrize("published", ["2 ECVET points", "5 to 10 ECTS", "zwischen 5 und 10 ECTS"])
def test_unconvertible_or_ranged_credits_are_warned(published: str) -> None:
    result = ects(published)
    assert result.value is None and result.issues[0].severity is Severity.WARNING
