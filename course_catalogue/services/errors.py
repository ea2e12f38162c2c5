"""Errors of the application services, beside the domain's (`catalogue.errors`).

    CatalogueError                     (catalogue/errors.py: NotFound, Conflict, QuotaExceeded, ...)
    └── ServiceError
        ├── InvalidInput               an operation's input breaks its schema; `field` names the culprit
        └── PermissionDenied           the caller's account may not do this (catalogue.permissions)
    └── WorkerLost                     a harvest's mapping worker process died (services.workers)

Every interface maps these the same way: the API and the dashboard through `web.errors`
(400 `bad_request`, 403 `forbidden`, in the one error shape), the CLI as a usage error. The
domain's own errors (NotFound 404, Conflict 409, QuotaExceeded 409, FeedError 422) pass
through the services unchanged.
"""

from __future__ import annotations

from course_catalogue.catalogue.errors import CatalogueError


class ServiceError(CatalogueError):
    """Base of the errors a service operation raises about its caller's request."""


class InvalidInput(ServiceError):
    """The input does not fit the operation's schema. `field`: the input field at fault, if one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.details = {"field": field} if field else {}


class PermissionDenied(ServiceError):
    """The acting account may not perform this operation on this target."""


class WorkerLost(CatalogueError):
    """A mapping worker process of a harvest died (killed, out of memory) before it returned its
    results: the run fails and changes nothing (its transaction is rolled back); a retry may pass."""
