"""Accounts and API tokens: hashed at rest, constant-time checks, revocation, permissions; staged feeds."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Account, Role, hash_token, token_id_of, token_matches
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.permissions import (
    can_assign_owner,
    can_change_source,
    can_manage_accounts,
    can_manage_tokens,
    can_register_source,
    visible_sources,
)
from course_catalogue.catalogue.schema import api_tokens, staged_feeds
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.staged_feeds import MAX_PER_SOURCE, StagedFeedStore
from course_catalogue.catalogue.store import CatalogueStore


def _rows(store: CatalogueStore, table: sa.Table) -> list[sa.Row[object]]:
    with store.reading() as conn:
        return list(conn.execute(sa.select(table)))


def test_a_token_is_stored_only_as_its_hash(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("uni-zed", "Uni Zed", Role.PROVIDER)
    issued = accounts.issue_token("uni-zed", "ci")
    rows = _rows(store, api_tokens)
    assert len(rows) == 1
    stored = rows[0]._mapping
    assert issued.plaintext not in {str(v) for v in stored.values()}
    secret = issued.plaintext.split(".", 1)[1]
    assert all(secret not in str(v) for v in stored.values())
    assert stored["secret_hash"] == hash_token(issued.plaintext)
    assert stored["id"] == token_id_of(issued.plaintext) == issued.token.id


def test_authenticate_accepts_the_token_and_nothing_else(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("uni-zed", "Uni Zed", Role.PROVIDER)
    issued = accounts.issue_token("uni-zed")
    found = accounts.authenticate(issued.plaintext)
    assert found is not None
    account, token = found
    assert (account.id, account.role, token.id) == ("uni-zed", Role.PROVIDER, issued.token.id)
    assert accounts.get_token(token.id).last_used_at is not None
    tampered = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    for wrong in (tampered, "", "cat_", "Bearer x", issued.plaintext + "x", "cat_000000000000." + "a" * 43):
        assert accounts.authenticate(wrong) is None


def test_revoked_tokens_stop_working_and_others_do_not(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("uni-zed", "Uni Zed", Role.PROVIDER)
    first, second = accounts.issue_token("uni-zed"), accounts.issue_token("uni-zed")
    revoked = accounts.revoke_token(first.token.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert accounts.revoke_token(first.token.id).revoked_at == revoked.revoked_at  # idempotent
    assert accounts.authenticate(first.plaintext) is None
    assert accounts.authenticate(second.plaintext) is not None
    assert [t.active for t in accounts.list_tokens("uni-zed")] == [False, True]
    with pytest.raises(NotFound):
        accounts.revoke_token("ffffffffffff")


def test_accounts_are_unique_and_validated(store: CatalogueStore) -> None:
    accounts = AccountStore(store)
    accounts.create_account("ops", "Ops", Role.ADMIN)
    with pytest.raises(Conflict):
        accounts.create_account("ops", "Other ops", Role.PROVIDER)
    with pytest.raises(ValueError):
        accounts.create_account("Not A Slug", "x", Role.PROVIDER)
    with pytest.raises(NotFound):
        accounts.issue_token("nobody")
    assert [a.id for a in accounts.list_accounts()] == ["ops"]
    assert accounts.get_account("ops").role is Role.ADMIN


def test_hash_comparison_is_exact() -> None:
    token = "cat_0123456789ab." + "x" * 43
    assert token_matches(token, hash_token(token))
    assert not token_matches(token, hash_token(token + "y"))
    assert token_id_of(token) == "0123456789ab"


def _account(account_id: str, role: Role) -> Account:
    from datetime import UTC, datetime

    return Account(account_id, account_id.title(), role, datetime.now(UTC))


def test_permission_rules() -> None:
    admin, zed, other, registry = (
        _account("ops", Role.ADMIN),
        _account("zed", Role.PROVIDER),
        _account("other", Role.PROVIDER),
        _account("reg", Role.REGISTRY),
    )
    owned, unowned = Source("zed-feed", "csv", owner="zed"), Source("admin-feed", "csv")
    assert can_change_source(admin, owned) and can_change_source(admin, unowned)
    assert can_change_source(zed, owned)
    assert not can_change_source(other, owned)
    assert not can_change_source(zed, unowned)  # nobody owns it: admins only
    assert not can_change_source(registry, owned)
    assert not can_change_source(None, owned)
    assert [can_register_source(a) for a in (admin, zed, registry, None)] == [True, True, False, False]
    assert [can_assign_owner(a) for a in (admin, zed, registry)] == [True, False, False]
    assert [can_manage_accounts(a) for a in (admin, zed, registry)] == [True, False, False]
    assert can_manage_tokens(zed, "zed") and not can_manage_tokens(zed, "other")
    assert can_manage_tokens(admin, "other")
    assert visible_sources(zed, [owned, unowned]) == [owned]
    assert visible_sources(registry, [owned, unowned]) == [owned, unowned]


def test_staged_feeds_keep_exact_bytes_and_expire(store: CatalogueStore) -> None:
    AccountStore(store).create_account("zed", "Zed", Role.PROVIDER)
    source = Source("zed-feed", "csv", mapping="edx-csv", owner="zed")
    store.save_source(source)
    staged = StagedFeedStore(store)
    content = b"title\n\xc3\xa9t\xc3\xa9\n" * 3
    kept = staged.stage(source, "zed", content, "text/csv", dry_run_id=None, ttl=timedelta(hours=1))
    assert staged.content(kept.id) == content
    assert staged.get(kept.id).sha256 == kept.sha256 and kept.size == len(content)
    assert kept.matches(source) and not kept.matches(Source("zed-feed", "csv", mapping="other"))
    gone = staged.stage(source, "zed", b"x", "text/csv", dry_run_id=None, ttl=timedelta(seconds=-1))
    assert gone.expired() and staged.get(gone.id).id == gone.id  # kept until the next staging
    later = staged.stage(source, "zed", b"y", "text/csv", dry_run_id=None, ttl=timedelta(hours=1))
    with pytest.raises(NotFound):  # staging deletes the expired feeds
        staged.get(gone.id)
    assert [f.id for f in staged.list_for_source(source.id)] == [later.id, kept.id]
    assert staged.delete(later.id)
    assert staged.delete(kept.id) and not staged.delete(kept.id)


def test_staging_keeps_only_the_newest_per_source(store: CatalogueStore) -> None:
    AccountStore(store).create_account("zed", "Zed", Role.PROVIDER)
    source = Source("zed-feed", "csv", owner="zed")
    store.save_source(source)
    staged = StagedFeedStore(store)
    ids = [
        staged.stage(source, "zed", b"%d" % n, "text/csv", dry_run_id=None, ttl=timedelta(hours=1)).id
        for n in range(MAX_PER_SOURCE + 2)
    ]
    left = {row.id for row in _rows(store, staged_feeds)}
    assert len(left) == MAX_PER_SOURCE
    assert ids[-1] in left and ids[0] not in left
