"""Errors of the catalogue domain.

    CatalogueError
    ├── ConfigurationError      a setting is missing or wrong (bad database URL, unknown mapping)
    ├── NotFound                a course, source or run id that does not exist
    ├── Conflict                the id is taken, or the target changed so the request no longer fits
    ├── QuotaExceeded           an account would hold more than a configured quota allows
    ├── StoreError              the database refused an operation (wraps the driver error)
    └── FeedError               a whole feed is unusable: the run fails and nothing changes
        ├── FetchError          could not download (network, HTTP status, size cap, blocked address)
        └── ParseError          could not read (encoding, syntax, not the announced format)

Item-level problems are never raised: they become `catalogue.runs.Issue` entries.
"""


class CatalogueError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigurationError(CatalogueError):
    pass


class NotFound(CatalogueError):
    pass


class Conflict(CatalogueError):
    pass


class QuotaExceeded(CatalogueError):
    """`details`: the `setting` that sets the quota, its `limit` and what is `used` already."""

    def __init__(self, message: str, *, setting: str, limit: int, used: int) -> None:
        super().__init__(message)
        self.details = {"setting": setting, "limit": limit, "used": used}


class StoreError(CatalogueError):
    pass


class FeedError(CatalogueError):
    pass


class FetchError(FeedError):
    """`transient`: worth trying again later (the network failed, a timeout, HTTP 5xx or 429 after
    the fetcher's own retries); False for answers that will not change by waiting (404, size cap,
    a blocked address). Schedulers retry only transient failures."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ParseError(FeedError):
    pass
