"""Issue 22, class 17: staged feeds (pushed dry runs awaiting confirmation, kept in the database)
have quotas per source and per provider account, in count and in bytes, and a provider account
owns a bounded number of sources. Beyond them: a clear 409 `quota_exceeded` in the error shape,
naming the setting, before any work is done; nothing is staged, no run recorded.

Per source the oldest staged feeds make room for a new one (re-pushing fixes never gets stuck);
per account nothing is dropped behind the provider's back: the push is refused."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from flask import Flask

from course_catalogue.catalogue.entitlements import PUBLISHES_FOR_OTHERS
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.staged_feeds import StagedFeedStore
from tests.web.publishing import SOURCE, World, edx_csv, first_rows, world

__all__ = ["world"]

CSV = {"Content-Type": "text/csv"}


def _configure(w: World, **settings: Any) -> None:
    w.app.config.update(settings)


def _push(w: World, who: str, source: str, feed: bytes) -> Any:
    return w.client.post(f"/api/v1/sources/{source}/feed", data=feed, headers={**CSV, **w.auth(who)})


def _feed(n: int, start: int = 0) -> bytes:
    return edx_csv(first_rows(n, start))


def _quota_error(response: Any, setting: str) -> dict[str, Any]:
    assert response.status_code == 409, (response.status_code, response.get_json())
    error = response.get_json()["error"]
    assert error["code"] == "quota_exceeded", error
    assert setting in error["message"], error
    assert error["details"]["setting"] == setting
    return dict(error)


def _staged(w: World, source: str = SOURCE) -> int:
    return len(StagedFeedStore(w.store).list_for_source(source))


def _add_sources(w: World, owner: str, n: int) -> list[str]:
    ids = [f"{owner}-extra-{i}" for i in range(n)]
    # quotas, not identities: these sources may publish any institution's edX rows
    settings = MappingProxyType({PUBLISHES_FOR_OTHERS: True})
    for source_id in ids:
        w.store.save_source(
            Source(source_id, "csv", name=source_id, mapping="edx-csv", owner=owner, settings=settings)
        )
    return ids


def test_per_source_count_keeps_only_the_newest(world: World) -> None:
    _configure(world, STAGED_FEEDS_PER_SOURCE=3)
    ids = []
    for i in range(5):
        response = _push(world, "zed", SOURCE, _feed(12 + i % 2))
        assert response.status_code == 200, response.get_json()
        ids.append(response.get_json()["staged"]["id"])
    kept = [s.id for s in StagedFeedStore(world.store).list_for_source(SOURCE)]
    assert sorted(kept) == sorted(ids[-3:])


def test_per_source_bytes_drop_the_oldest_to_make_room(world: World) -> None:
    feed = _feed(12)
    _configure(world, STAGED_BYTES_PER_SOURCE=int(len(feed) * 2.5))
    for _ in range(4):
        assert _push(world, "zed", SOURCE, feed).status_code == 200
    staged = StagedFeedStore(world.store).list_for_source(SOURCE)
    assert len(staged) == 2 and sum(s.size for s in staged) <= len(feed) * 2.5


def test_a_feed_larger_than_the_source_quota_is_refused_before_the_dry_run(world: World) -> None:
    feed = _feed(12)
    _configure(world, STAGED_BYTES_PER_SOURCE=len(feed) - 1)
    runs = len(world.store.list_runs(SOURCE, limit=100))
    _quota_error(_push(world, "zed", SOURCE, feed), "STAGED_BYTES_PER_SOURCE")
    assert _staged(world) == 0
    assert len(world.store.list_runs(SOURCE, limit=100)) == runs, "no dry run was recorded"


def test_per_account_count_refuses_once_full(world: World) -> None:
    _configure(world, STAGED_FEEDS_PER_ACCOUNT=3)
    sources = _add_sources(world, "zed", 4)
    for source in sources[:3]:
        assert _push(world, "zed", source, _feed(3)).status_code == 200
    runs = len(world.store.list_runs(sources[3], limit=100))
    error = _quota_error(_push(world, "zed", sources[3], _feed(3)), "STAGED_FEEDS_PER_ACCOUNT")
    assert error["details"]["limit"] == 3 and error["details"]["used"] == 3
    assert "confirm" in error["message"] or "expire" in error["message"]
    assert len(world.store.list_runs(sources[3], limit=100)) == runs
    # re-pushing to a source that has one replaces it within the per-source count: still fits
    _configure(world, STAGED_FEEDS_PER_SOURCE=1)
    assert _push(world, "zed", sources[0], _feed(4)).status_code == 200
    # another provider has its own budget
    other = _add_sources(world, "other", 1)[0]
    assert _push(world, "other", other, _feed(3)).status_code == 200


def test_per_account_bytes_refuse_once_full(world: World) -> None:
    feed = _feed(6)
    _configure(world, STAGED_BYTES_PER_ACCOUNT=len(feed) * 2)
    sources = _add_sources(world, "zed", 3)
    assert _push(world, "zed", sources[0], feed).status_code == 200
    assert _push(world, "zed", sources[1], feed).status_code == 200
    error = _quota_error(_push(world, "zed", sources[2], feed), "STAGED_BYTES_PER_ACCOUNT")
    assert error["details"]["used"] == 2 * len(feed)


def test_confirming_frees_the_quota(world: World) -> None:
    _configure(world, STAGED_FEEDS_PER_ACCOUNT=1)
    first = _push(world, "zed", SOURCE, _feed(12))
    assert first.status_code == 200
    other = _add_sources(world, "zed", 1)[0]
    _quota_error(_push(world, "zed", other, _feed(3)), "STAGED_FEEDS_PER_ACCOUNT")
    confirm = first.get_json()["staged"]["links"]["confirm"]
    assert world.client.post(confirm, headers=world.auth("zed")).status_code == 200
    assert _push(world, "zed", other, _feed(3)).status_code == 200


def test_admins_have_no_account_quota(world: World) -> None:
    _configure(world, STAGED_FEEDS_PER_ACCOUNT=1)
    sources = _add_sources(world, "ops", 3)
    for source in sources:
        assert _push(world, "ops", source, _feed(3)).status_code == 200


def test_the_dashboard_upload_answers_the_quota_on_its_page(world: World) -> None:
    from tests.web.test_dashboard import _upload, csrf_of, log_in

    _configure(world, STAGED_BYTES_PER_SOURCE=10)
    client = log_in(world, "zed")
    status, html = _upload(client, _feed(3), csrf=csrf_of(client, f"/dashboard/sources/{SOURCE}"))
    assert status == 409 and "STAGED_BYTES_PER_SOURCE" in html
    assert _staged(world) == 0


def test_sources_per_account_are_capped(world: World) -> None:
    _configure(world, MAX_SOURCES_PER_ACCOUNT=3)
    _add_sources(world, "zed", 2)  # zed now owns 3 with zed-feed
    response = world.client.post(
        "/api/v1/sources", json={"id": "zed-four", "format": "csv"}, headers=world.auth("zed")
    )
    error = _quota_error(response, "MAX_SOURCES_PER_ACCOUNT")
    assert error["details"] == {"setting": "MAX_SOURCES_PER_ACCOUNT", "limit": 3, "used": 3}
    # an admin registering for zed is held to zed's cap too; for itself it has none
    for_zed = world.client.post(
        "/api/v1/sources", json={"id": "zed-five", "format": "csv", "owner": "zed"}, headers=world.auth("ops")
    )
    _quota_error(for_zed, "MAX_SOURCES_PER_ACCOUNT")
    for i in range(4):
        mine = world.client.post(
            "/api/v1/sources", json={"id": f"ops-{i}", "format": "csv"}, headers=world.auth("ops")
        )
        assert mine.status_code == 201, mine.get_json()
    # re-registering a retired source of one's own is no new source
    assert world.client.delete(f"/api/v1/sources/{SOURCE}", headers=world.auth("zed")).status_code == 200
    again = world.client.post(
        "/api/v1/sources", json={"id": SOURCE, "format": "csv"}, headers=world.auth("zed")
    )
    assert again.status_code == 201, again.get_json()


def test_the_dashboard_registration_form_answers_the_cap(world: World) -> None:
    from tests.web.test_dashboard import csrf_of, log_in

    _configure(world, MAX_SOURCES_PER_ACCOUNT=1)
    client = log_in(world, "zed")
    form = {"id": "zed-two", "format": "csv", "csrf_token": csrf_of(client, "/dashboard/sources/new")}
    response = client.post("/dashboard/sources/new", data=form)
    assert response.status_code == 409 and "MAX_SOURCES_PER_ACCOUNT" in response.get_data(as_text=True)


def test_the_settings_are_documented_and_typed(app_factory: Any) -> None:
    app: Flask = app_factory(
        STAGED_FEEDS_PER_SOURCE="2",
        STAGED_BYTES_PER_SOURCE="1000",
        STAGED_FEEDS_PER_ACCOUNT="7",
        STAGED_BYTES_PER_ACCOUNT="0",
        MAX_SOURCES_PER_ACCOUNT="9",
    )
    assert app.config["STAGED_FEEDS_PER_SOURCE"] == 2
    assert app.config["STAGED_BYTES_PER_SOURCE"] == 1000
    assert app.config["STAGED_FEEDS_PER_ACCOUNT"] == 7
    assert app.config["STAGED_BYTES_PER_ACCOUNT"] == 0  # 0: no limit
    assert app.config["MAX_SOURCES_PER_ACCOUNT"] == 9
    with pytest.raises(Exception, match="STAGED_FEEDS_PER_SOURCE"):
        app_factory(STAGED_FEEDS_PER_SOURCE="0")


def test_defaults_bound_what_one_provider_can_stage(app_factory: Any) -> None:
    config = app_factory().config
    upload = config["MAX_UPLOAD_BYTES"]
    per_account = config["STAGED_BYTES_PER_ACCOUNT"]
    assert 0 < per_account <= 5 * upload, "a provider stages at most a few uploads' worth of bytes"
    assert 0 < config["STAGED_BYTES_PER_SOURCE"] <= per_account
    assert 0 < config["MAX_SOURCES_PER_ACCOUNT"] <= 100
