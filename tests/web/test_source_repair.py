"""Repairing one source (services.harvests.HarvestService.repair) over the API and the CLI: stuck
runs failed, records that disagree with their content hash remapped from their stored payloads,
missing or stale index documents upserted; a dry run changes nothing; only the owner or an admin."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskCliRunner

from course_catalogue.catalogue.record_checks import inconsistent_records
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.schema import courses
from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.web.publishing import SOURCE, World, world

__all__ = ["world"]


def _ids(w: World) -> list[str]:
    return sorted(s.id for s in w.store.iter_courses(source_id=SOURCE))


def _row(w: World, course_id: str) -> Any:
    with w.store.reading() as conn:
        return conn.execute(sa.select(courses).where(courses.c.id == course_id)).one()


def _damage(w: World) -> tuple[list[str], int, dict[str, Any]]:
    """Edit one record (its hash kept), garble another's hash, replace a third record by junk,
    drop one index document, leave a run RUNNING as a killed process would."""
    edited, rehashed, junk, unindexed = _ids(w)[:4]
    original = _row(w, edited).record
    changed = {**original, "title": {"en": "Edited by hand"}}
    with w.store.writing() as conn:
        conn.execute(courses.update().where(courses.c.id == edited).values(record=changed))
        conn.execute(courses.update().where(courses.c.id == rehashed).values(content_hash="0" * 64))
        conn.execute(courses.update().where(courses.c.id == junk).values(record={"nonsense": 1}))
    get_services(w.app).backend.delete([unindexed])
    stuck = w.store.start_run(SOURCE)
    return sorted([edited, rehashed, junk]), stuck.run_id or 0, {"id": edited, "record": original}


def _repair(w: World, who: str, dry_run: bool) -> Any:
    flag = "true" if dry_run else "false"
    return w.client.post(f"/api/v1/sources/{SOURCE}/repair?dry_run={flag}", headers=w.auth(who))


def test_a_dry_run_reports_and_a_repair_fixes_one_source(world: World) -> None:
    damaged, stuck, edited = _damage(world)
    assert [entry.course_id for entry in inconsistent_records(world.store, SOURCE)] == damaged

    dry = _repair(world, "zed", dry_run=True)
    assert dry.status_code == 200, dry.get_json()
    found = dry.get_json()
    assert found["stale_runs"] == [stuck] and found["inconsistent_records"] == damaged
    assert found["remap"] is None and found["index"] is None  # a junk record: no document to compare
    assert world.store.get_run(stuck).status is RunStatus.RUNNING  # nothing changed
    assert len(inconsistent_records(world.store, SOURCE)) == 3

    done = _repair(world, "zed", dry_run=False).get_json()
    assert done["stale_runs"] == [stuck] and world.store.get_run(stuck).status is RunStatus.FAILED
    assert done["inconsistent_records"] == damaged and done["still_inconsistent"] == []
    assert done["remap"]["status"] == "succeeded" and done["remap"]["counts"]["updated"] == 2
    assert inconsistent_records(world.store, SOURCE) == []
    assert _row(world, edited["id"]).record["title"] == edited["record"]["title"]  # rebuilt from the feed
    backend = get_services(world.app).backend
    assert backend.count() == len(_ids(world))  # the dropped document is back
    hits = backend.inventory()
    assert all(hits[course_id][0] == _row(world, course_id).seq for course_id in damaged)

    again = _repair(world, "zed", dry_run=False).get_json()
    assert again["stale_runs"] == [] and again["inconsistent_records"] == [] and again["remap"] is None
    assert again["index"]["missing"] == 0 and again["index"]["stale"] == 0


def test_only_the_owner_or_an_admin_repairs_a_source(world: World) -> None:
    assert world.client.post(f"/api/v1/sources/{SOURCE}/repair").status_code == 401
    assert _repair(world, "other", dry_run=True).status_code == 403
    assert _repair(world, "reg", dry_run=True).status_code == 403
    assert _repair(world, "ops", dry_run=True).status_code == 200
    missing = world.client.post("/api/v1/sources/nope/repair", headers=world.auth("ops"))
    assert missing.status_code == 404


def test_the_cli_repairs_one_source(world: World) -> None:
    _, stuck, _ = _damage(world)
    runner: FlaskCliRunner = world.app.test_cli_runner()
    dry = runner.invoke(main, ["repair", "--source", SOURCE, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Would mark interrupted run(s) {stuck} FAILED." in dry.output
    assert "3 record(s) disagreeing with their content hash would be remapped." in dry.output
    assert "the index is checked once they are readable" in dry.output
    done = runner.invoke(main, ["repair", "--source", SOURCE, "--json"])
    assert done.exit_code == 0, done.output
    assert '"still_inconsistent": []' in done.output and inconsistent_records(world.store, SOURCE) == []
    assert runner.invoke(main, ["repair", "--source", "nope"]).exit_code != 0


def test_a_record_without_its_payload_is_reported_left_and_the_index_not_touched(world: World) -> None:
    from course_catalogue.catalogue.schema import raw_items

    junk = _ids(world)[0]
    with world.store.writing() as conn:
        conn.execute(courses.update().where(courses.c.id == junk).values(record={"nonsense": 1}))
        conn.execute(raw_items.delete().where(raw_items.c.course_id == junk))
    done = _repair(world, "zed", dry_run=False).get_json()
    assert done["inconsistent_records"] == [junk] and done["still_inconsistent"] == [junk]
    assert any(issue["code"] == "raw-missing" for issue in done["remap"]["issues"])
    assert done["index"] is None  # no document can be built from it: the index is left as it is
    again = _repair(world, "zed", dry_run=True).get_json()
    assert again["inconsistent_records"] == [junk]  # still found, whatever hash it was given
