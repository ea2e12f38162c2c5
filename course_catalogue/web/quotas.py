"""What one account may keep, from the settings: staged feeds (per source and per account, count
and bytes) and sources. Refusals are `QuotaExceeded`: a 409 `quota_exceeded` in the error shape
whose `details` name the setting, its limit and what is used (see catalogue.staged_feeds)."""

from __future__ import annotations

from flask import current_app

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Account
from course_catalogue.catalogue.permissions import is_admin
from course_catalogue.catalogue.sources import check_source_cap
from course_catalogue.catalogue.staged_feeds import StagedFeedStore, StagedQuota
from course_catalogue.services.runtime import get_services


def staged_feeds(account: Account | None) -> StagedFeedStore:
    """The staged-feed store with the quota of `account`'s pushes (admins: no account quota)."""
    config = current_app.config
    admin = is_admin(account)
    quota = StagedQuota(
        feeds_per_source=config["STAGED_FEEDS_PER_SOURCE"],
        bytes_per_source=config["STAGED_BYTES_PER_SOURCE"],
        feeds_per_account=0 if admin else config["STAGED_FEEDS_PER_ACCOUNT"],
        bytes_per_account=0 if admin else config["STAGED_BYTES_PER_ACCOUNT"],
    )
    return StagedFeedStore(get_services().store, quota)


def check_source_quota(owner_id: str | None) -> None:
    """QuotaExceeded when a new source owned by `owner_id` would pass MAX_SOURCES_PER_ACCOUNT
    (sources of admins, or of nobody, have no cap)."""
    if owner_id is None:
        return
    store = get_services().store
    if is_admin(AccountStore(store).get_account(owner_id)):
        return
    check_source_cap(store.list_sources(), owner_id, current_app.config["MAX_SOURCES_PER_ACCOUNT"])
