"""OAI-PMH 2.0 requests: the six verbs, their arguments, datestamps and the protocol errors.

`parse_request` turns the raw arguments of an HTTP request (GET query or POST form, each name
with every value it was given) into a validated `OaiRequest`, or raises `OaiError` with the exact
error code of the specification (section 3.6): a missing, repeated or unknown verb is `badVerb`;
a missing, repeated, illegal or malformed argument is `badArgument`.

Datestamps are UTC. We declare the seconds granularity (`YYYY-MM-DDThh:mm:ssZ`) in Identify, so
`from`/`until` may use it or the day granularity every repository must accept, but both the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"

VERBS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # verb -> (required arguments, optional arguments); resumptionToken is handled apart
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset()),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"})),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"})),
}
RESUMABLE = frozenset({"ListSets", "ListIdentifiers", "ListRecords"})
LIST_VERBS = frozenset({"ListIdentifiers", "ListRecords"})

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry, not even as character references."""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class OaiError(Exception):
    """A protocol error: `code` is one of the OAI-PMH error codes, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Window:
    """The datestamp window of a list request: `low <= datestamp < high` (None: open)."""

    low: datetime | None = None
    high: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.low is None or moment >= self.low) and (self.high is None or moment < self.high)


@dataclass(frozen=True)
class OaiRequest:
    """A syntactically valid request. `arguments` are echoed in the response's request element."""

    verb: str
    arguments: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.arguments.get(name)

    @property
    def token(self) -> str | None:
        return self.arguments.get("resumptionToken")


def parse_request(raw: Mapping[str, Sequence[str]]) -> OaiRequest:
    """Validate the verb and its arguments (OaiError badVerb / badArgument)."""
    verbs = raw.get("verb", [])
    if len(verbs) != 1:
        raise OaiError("badVerb", "The verb argument is missing." if not verbs else "The verb is repeated.")
    verb = verbs[0]
    if verb not in VERBS:
        raise OaiError("badVerb", f"{verb[:60]!r} is not an OAI-PMH verb.")
    unreadable = sorted(
        name for name, values in raw.items() if any(NOT_XML.search(v) for v in (name, *values))
    )
    if unreadable:
        # no identifier, set, token or date holds one (and the request element could not echo it)
        raise OaiError(
            "badArgument", f"The argument {NOT_XML.sub('?', unreadable[0])[:60]!r} holds a control character."
        )
    repeated = sorted(name for name, values in raw.items() if len(values) > 1)
    if repeated:
        raise OaiError("badArgument", f"The argument {repeated[0]!r} is repeated.")
    arguments = {name: values[0] for name, values in raw.items() if name != "verb"}
    required, optional = VERBS[verb]
    if "resumptionToken" in arguments and verb in RESUMABLE:
        others = sorted(set(arguments) - {"resumptionToken"})
        if others:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument: send it alone.")
        return OaiRequest(verb, arguments)
    illegal = sorted(set(arguments) - required - optional)
    if illegal:
        raise OaiError("badArgument", f"{illegal[0][:60]!r} is not an argument of {verb}.")
    missing = sorted(required - set(arguments))
    if missing:
        raise OaiError("badArgument", f"{verb} needs the argument {missing[0]!r}.")
    if verb in LIST_VERBS:
        window(arguments.get("from"), arguments.get("until"))  # badArgument early
    return OaiRequest(verb, arguments)


def _datestamp(value: str, name: str) -> tuple[datetime, bool]:
    """(moment, is_day_granularity); badArgument when it is neither granularity or not a date."""
    day = bool(_DAY.match(value))
    if not day and not _SECOND.match(value):
        raise OaiError(
            "badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, not {value[:40]!r}."
        )
    try:
        moment = datetime.strptime(value, "%Y-%m-%d" if day else "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise OaiError("badArgument", f"{name} is not a valid date: {value[:40]!r}.") from None
    return moment.replace(tzinfo=UTC), day


def window(since: str | None, until: str | None) -> Window:
    """The window of `from`/`until` (both inclusive at their granularity)."""
    low = high = None
    low_day = high_day = None
    if since is not None:
        low, low_day = _datestamp(since, "from")
    if until is not None:
        start, high_day = _datestamp(until, "until")
        try:
            high = start + (timedelta(days=1) if high_day else timedelta(seconds=1))
        except OverflowError:  # until the last day a date can have: no upper bound at all
            high = None
    if low_day is not None and high_day is not None and low_day != high_day:
        raise OaiError("badArgument", "from and until must have the same granularity.")
    if low is not None and high is not None and low >= high:
        raise OaiError("badArgument", "from is later than until.")
    return Window(low, high)


def format_datestamp(moment: datetime) -> str:
    """A UTC datestamp at the declared granularity (seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
