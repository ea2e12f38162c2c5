"""Stateless, signed OAI-PMH resumption tokens.

A token carries everything needed to continue a list: verb, metadata prefix, set, from/until as
the harvester sent them, the `seq` of the last record delivered (lists are in seq order, so paging
is stable while the catalogue changes: a record that changes mid-harvest gets a higher seq and
comes again later, none is skipped), how many records came before and the expiry. It is signed
with itsdangerous (HMAC-SHA1 over the app's secret key), so nothing is stored on the server and a
forged or altered token is rejected; tokens survive restarts as long as the secret stays the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from course_catalogue.catalogue.oai.protocol import OaiError

SALT = "oai-pmh.resumption-token.v1"


@dataclass(frozen=True)
class ListState:
    """Where a list request stands. `after` is the seq of the last record delivered."""

    verb: str
    prefix: str
    set_spec: str | None
    since: str | None
    until: str | None
    after: int = 0
    cursor: int = 0  # records delivered before the next page
    complete_size: int | None = None
    expires: int = 0  # Unix seconds; set by TokenCodec.encode

    def advanced(self, after: int, delivered: int) -> ListState:
        return replace(self, after=after, cursor=self.cursor + delivered)


class TokenCodec:
    """Encodes a ListState as a token valid for `lifetime`, and decodes it back."""

    def __init__(self, secret: str | bytes, lifetime: timedelta) -> None:
        if not secret:
            raise ValueError("resumption tokens need a secret key")
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.lifetime = lifetime

    def encode(self, state: ListState, now: datetime) -> tuple[str, datetime]:
        """(token, expiry) of `state` issued at `now`."""
        expiry = (now + self.lifetime).astimezone(UTC).replace(microsecond=0)
        data = asdict(replace(state, expires=int(expiry.timestamp())))
        return self._serializer.dumps(data), expiry

    def decode(self, token: str, verb: str, now: datetime) -> ListState:
        """The state of a token issued for `verb`; OaiError badResumptionToken if it is forged,
        damaged, expired or for another verb."""
        try:
            data: Any = self._serializer.loads(token)
            state = ListState(**data)
        except (BadData, TypeError, ValueError):
            raise OaiError("badResumptionToken", "The resumption token is invalid.") from None
        if state.verb != verb:
            raise OaiError("badResumptionToken", f"The resumption token is not for {verb}.")
        if state.expires <= now.timestamp():
            raise OaiError("badResumptionToken", "The resumption token has expired: start the list again.")
        return state
