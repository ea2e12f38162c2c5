"""Who may do what: authorisation rules as pure functions of an account and a target.

ADMIN may do everything. A PROVIDER may register sources (it becomes their owner) and change,
push to, harvest, delete and confirm runs of the sources it owns, and nothing else. A REGISTRY
account reads everything (reads are public anyway), defines eligibility schemes (it owns them and
decides on their courses) and subscribes webhooks. Anonymous callers write nothing.
"""

from __future__ import annotations

from course_catalogue.catalogue.accounts import Account, Role
from course_catalogue.catalogue.sources import Source


def is_admin(account: Account | None) -> bool:
    return account is not None and account.role is Role.ADMIN


def can_register_source(account: Account | None) -> bool:
    return account is not None and account.role in (Role.ADMIN, Role.PROVIDER)


def can_assign_owner(account: Account | None) -> bool:
    """Only an admin registers a source on behalf of another account (or of nobody)."""
    return is_admin(account)


def can_change_source(account: Account | None, source: Source) -> bool:
    """Edit, push to, harvest, delete the source, and act on its runs and records."""
    if account is None:
        return False
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.PROVIDER and source.owner is not None and source.owner == account.id


def can_read_run(account: Account | None, source: Source | None, *, dry_run: bool) -> bool:
    """A published run's report is public. A dry run's is a preview of a feed that is not
    published (its records and their issues): only those who may change the source read it,
    so its owner and admins; registries read what is published, like everyone else."""
    if not dry_run:
        return True
    return source is not None and can_change_source(account, source)


def can_manage_accounts(account: Account | None) -> bool:
    return is_admin(account)


def can_manage_tokens(account: Account | None, owner_id: str) -> bool:
    """Issue or revoke tokens of `owner_id`: an admin, or the account itself (rotation)."""
    return account is not None and (account.role is Role.ADMIN or account.id == owner_id)


def visible_sources(account: Account, sources: list[Source]) -> list[Source]:
    """The sources an account's dashboard lists: a provider its own, others all of them."""
    if account.role is Role.PROVIDER:
        return [s for s in sources if s.owner == account.id]
    return list(sources)


# --- eligibility schemes and webhooks (registries) -------------------------------------------------


def can_create_scheme(account: Account | None) -> bool:
    """Registries define eligibility schemes (and own them); admins may too."""
    return account is not None and account.role in (Role.ADMIN, Role.REGISTRY)


def can_change_scheme(account: Account | None, owner: str | None) -> bool:
    """Edit a scheme and decide on its courses: its owning registry, or an admin."""
    if account is None:
        return False
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.REGISTRY and owner is not None and owner == account.id


def can_subscribe_webhooks(account: Account | None) -> bool:
    return account is not None and account.role in (Role.ADMIN, Role.REGISTRY)


def can_manage_webhook(account: Account | None, subscriber: str) -> bool:
    """See or delete a subscription: the account that made it, or an admin."""
    return account is not None and (account.role is Role.ADMIN or account.id == subscriber)


# --- provider identities (catalogue/entitlements.py) ---------------------------------------------


def can_grant_organisations(account: Account | None) -> bool:
    """Entitle an account to publish for an organisation, or revoke it: admins only (the whole
    point is that a provider cannot vouch for itself)."""
    return is_admin(account)


def can_mark_publishers(account: Account | None) -> bool:
    """Allow a source to publish courses of any provider (an aggregator's): admins only."""
    return is_admin(account)
