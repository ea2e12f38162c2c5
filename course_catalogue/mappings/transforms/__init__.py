"""Named pure normalisers (published text -> normalised value + issues) and their registry.

Every transform takes the published value first and keyword arguments from the spec's `args`;
it returns a `Result` and never raises on bad input. `REGISTRY` says what each one reads and
returns so `mappings.spec` can reject a spec that chains them wrongly before any record is read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from course_catalogue.mappings.transforms import (
    credits,
    dates,
    durations,
    fields,
    languages,
    levels,
    money,
    participation,
    places,
    text,
)
from course_catalogue.mappings.transforms.result import Result

__all__ = ["REGISTRY", "Result", "TransformDef"]


@dataclass(frozen=True)
class TransformDef:
    """A registered transform.

    `reads`: "str" (one published value), "workload" (a previous transform's Workload) or
    "slots" (the whole tuple of selected values, one per selector, None where empty).
    `returns`: "str", "int", "date", "price" or "workload". `many`: returns a tuple of values.
    `cache`: results may be cached per input (false for free text, which rarely repeats).
    """

    name: str
    fn: Callable[..., Result[Any]]
    reads: str = "str"
    returns: str = "str"
    many: bool = False
    cache: bool = True
    check: Callable[[Mapping[str, Any]], str | None] | None = None

    @property
    def arg_names(self) -> frozenset[str]:
        """Keyword arguments the spec may pass in `args`."""
        params = list(inspect.signature(self.fn).parameters.values())[1:]
        return frozenset(p.name for p in params)


def _positive(*names: str) -> Callable[[Mapping[str, Any]], str | None]:
    def check(args: Mapping[str, Any]) -> str | None:
        for name in names:
            if name in args:
                try:
                    ok = Decimal(str(args[name])) > 0
                except InvalidOperation:
                    ok = False
                if not ok or isinstance(args[name], bool):
                    return f"{name} must be a positive number, not {args[name]!r}"
        return None

    return check


def _check_ects(args: Mapping[str, Any]) -> str | None:
    scheme = args.get("scheme", "ECTS")
    if not isinstance(scheme, str) or scheme.upper() not in ("ECTS", "SCQF", "CATS", "US", "OTHER"):
        return f"scheme must be one of ECTS, SCQF, CATS, US, other, not {scheme!r}"
    return _positive("hours_per_ects", "ects_per_us_credit")(args)


def _check_eqf(args: Mapping[str, Any]) -> str | None:
    framework = args.get("framework")
    if framework is None or (isinstance(framework, str) and framework.lower() in levels.framework_keys()):
        return None
    known = ", ".join(sorted(set(levels.framework_keys().values())))
    return f"unknown framework {framework!r}; known: {known}"


def _check_price(args: Mapping[str, Any]) -> str | None:
    code = args.get("currency")
    if code is None or (isinstance(code, str) and money.known_currency(code)):
        return None
    return f"currency must be an ISO 4217 code, not {code!r}"


def _check_date(args: Mapping[str, Any]) -> str | None:
    if not isinstance(args.get("day_first", False), bool):
        return f"day_first must be true or false, not {args['day_first']!r}"
    return None


def _check_participation(args: Mapping[str, Any]) -> str | None:
    codes = args.get("codes")
    if codes is not None and codes not in participation.code_lists():
        return f"codes must be one of {', '.join(participation.code_lists())}, not {codes!r}"
    if not isinstance(args.get("quiet", False), bool):
        return f"quiet must be true or false, not {args['quiet']!r}"
    return None


def _check_separator(args: Mapping[str, Any]) -> str | None:
    separator = args.get("separator", "-")
    return None if isinstance(separator, str) and separator else "separator must be a non-empty string"


def _defs(*defs: TransformDef) -> dict[str, TransformDef]:
    return {d.name: d for d in defs}


REGISTRY: dict[str, TransformDef] = _defs(
    TransformDef("text", text.text, cache=False),
    TransformDef("html_text", text.html_text, cache=False),
    TransformDef("url", text.url),
    TransformDef("iri", text.iri),
    TransformDef("person_names", text.person_names, many=True, check=_check_separator),
    TransformDef("eqf", levels.eqf, returns="int", check=_check_eqf),
    TransformDef("ects", credits.ects, returns="workload", check=_check_ects),
    TransformDef("hours", credits.hours, returns="workload"),
    TransformDef(
        "estimate_ects",
        credits.estimate_ects,
        reads="workload",
        returns="workload",
        check=_positive("hours_per_ects"),
    ),
    TransformDef("effort_hours", durations.effort_hours, reads="slots", returns="workload"),
    TransformDef("duration", durations.duration),
    TransformDef("language", languages.language),
    TransformDef("country", places.country),
    TransformDef("coordinate", places.coordinate, returns="float"),
    TransformDef("price", money.price, returns="price", check=_check_price),
    TransformDef("currency", money.currency),
    TransformDef("date", dates.date_value, returns="date", check=_check_date),
    TransformDef("isced_f", fields.isced_f),
    TransformDef("mode", participation.mode, many=True, check=_check_participation),
    TransformDef("schedule", participation.schedule, check=_check_participation),
)
"""Transform name (as written in specs) -> definition."""
