"""Who performs a service operation: an account (API, dashboard) or the operator (CLI, tasks).

The operator runs commands on the machine itself (`catalogue ...`, Celery workers): it may do
everything, and also name files on that machine (a mapping spec by path). Accounts are
authorised by the rules of `catalogue.permissions`, checked once per operation by the service
(`Actor.permit`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from course_catalogue.catalogue.accounts import Account
from course_catalogue.services.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    """`account` None means the operator."""

    account: Account | None

    @classmethod
    def operator(cls) -> Actor:
        return cls(None)

    @property
    def is_operator(self) -> bool:
        return self.account is None

    @property
    def id(self) -> str | None:
        """The acting account's id (None for the operator)."""
        return None if self.account is None else self.account.id

    def may(self, rule: Callable[[Account | None], bool]) -> bool:
        """Whether a `catalogue.permissions` rule allows this actor (the operator: always)."""
        return self.account is None or rule(self.account)

    def permit(self, rule: Callable[[Account | None], bool], message: str) -> None:
        """PermissionDenied unless the rule allows this actor."""
        if not self.may(rule):
            raise PermissionDenied(message)
