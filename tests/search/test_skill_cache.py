"""Skill links kept between document builds (search.skill_cache, catalogue.skill_link_store)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.changes import Candidate
from course_catalogue.catalogue.codec import content_hash
from course_catalogue.catalogue.model import course_id, lang_text
from course_catalogue.catalogue.outbox import Outbox
from course_catalogue.catalogue.schema import courses, skill_links
from course_catalogue.catalogue.skill_link_store import SkillLinkStore
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search import skill_cache
from course_catalogue.search.documents import skill_key
from course_catalogue.search.sync import documents, drain_outbox, record_documents, reindex, repair
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.skills import linking
from course_catalogue.skills import taxonomy as skill_taxonomy
from tests.catalogue.test_store import SOURCE, harvest, make_course


def kept_row(store: CatalogueStore, course_id: str) -> tuple[str, str, str] | None:
    """The `skill_links` row of one course, whatever its key: (text digest, linker key, links JSON)."""
    t = skill_links
    with store.reading() as conn:
        row = conn.execute(
            sa.select(t.c.text_digest, t.c.linker_key, t.c.links).where(t.c.course_id == course_id)
        ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


TEXTS = {
    "r0": "Learn project management and how to manage budgets.",
    "r1": "An introduction to statistics and computer programming.",
    "r2": "Teamwork principles for solar energy installers.",
    "r3": "Watercolour painting for beginners.",  # links to nothing in the small taxonomy
}


def candidate(ref: str, description: str) -> Candidate:
    course = replace(make_course(ref, f"Course {ref}"), description=lang_text({"en": description}))
    return Candidate(
        course=course, content_hash=content_hash(course), raw=ref.encode(), media_type="text/plain"
    )


@pytest.fixture
def filled(store: CatalogueStore) -> CatalogueStore:
    store.save_source(Source(SOURCE, "csv"))
    harvest(store, [candidate(ref, text) for ref, text in TEXTS.items()])
    return store


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stored course titles whose links were computed (not reused), in order."""
    seen: list[str] = []
    compute = skill_cache.course_skill_links

    def counting(text: linking.CourseText) -> list[dict[str, object]]:
        seen.extend(title.get("en", "") for title in text.title)
        return compute(text)

    monkeypatch.setattr(skill_cache, "course_skill_links", counting)
    yield seen


def built(store: CatalogueStore, cache: SkillLinkStore | None) -> list[dict[str, object]]:
    return list(record_documents(store.iter_records(include_withdrawn=True), skill_cache=cache, batch=3))


def test_links_are_kept_once_and_reused_with_the_same_documents(
    filled: CatalogueStore, computed: list[str]
) -> None:
    """A first build computes and keeps every course's links; a second reuses them all; both give
    exactly the documents built without the cache."""
    cache = SkillLinkStore(filled)
    plain = built(filled, None)
    computed.clear()
    cold = built(filled, cache)
    assert sorted(computed) == [f"Course {ref}" for ref in sorted(TEXTS)]
    computed.clear()
    warm = built(filled, cache)
    assert computed == []
    assert orjson.dumps(cold) == orjson.dumps(plain) == orjson.dumps(warm)
    assert [bool(doc["skills"]) for doc in warm].count(True) == 3  # r3 links to nothing, and is kept too
    assert cache.counts() == {skill_key(): 4}


def test_a_changed_text_is_linked_again_alone(filled: CatalogueStore, computed: list[str]) -> None:
    cache = SkillLinkStore(filled)
    built(filled, cache)
    before = {row.id: kept_row(filled, row.id) for row in filled.iter_records()}
    changed = dict(TEXTS, r1="Leadership principles and communication.")
    harvest(filled, [candidate(ref, text) for ref, text in changed.items()])
    computed.clear()
    docs = {doc["id"]: doc for doc in built(filled, cache)}
    assert computed == ["Course r1"]
    after = {row.id: kept_row(filled, row.id) for row in filled.iter_records()}
    assert [cid for cid in after if after[cid] != before[cid]] == [course_id(SOURCE, "r1")]
    r1 = docs[course_id(SOURCE, "r1")]
    assert [link["label"] for link in r1["skill_links"]] == ["leadership principles"]  # type: ignore[index]
    assert orjson.dumps(list(docs.values())) == orjson.dumps(built(filled, None))


def test_a_new_linker_version_links_every_course_again(
    filled: CatalogueStore, computed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SkillLinkStore(filled)
    built(filled, cache)
    old_key = skill_key()
    monkeypatch.setattr(linking, "LINKER_VERSION", linking.LINKER_VERSION + 1)
    assert skill_key() != old_key
    computed.clear()
    built(filled, cache)
    assert len(computed) == 4
    assert cache.counts() == {skill_key(): 4}  # replaced, not added beside the old rows
    computed.clear()
    built(filled, cache)
    assert computed == []


def test_another_taxonomy_is_another_key(filled: CatalogueStore, computed: list[str]) -> None:
    """Links made under one taxonomy are never served under another (a test taxonomy without a
    version is keyed by a digest of its skills)."""
    cache = SkillLinkStore(filled)
    built(filled, cache)
    small = skill_taxonomy.current()
    assert small is not None
    fewer = skill_taxonomy.Taxonomy(list(small.skills.values())[:3])
    with skill_taxonomy.use(fewer):
        computed.clear()
        docs = built(filled, cache)
        assert len(computed) == 4
        assert orjson.dumps(docs) == orjson.dumps(built(filled, None))
        three = skill_taxonomy.Taxonomy(list(small.skills.values())[1:4])
        assert linking.linker_key(three) != linking.linker_key(fewer)


def test_kept_links_go_with_their_course(filled: CatalogueStore) -> None:
    cache = SkillLinkStore(filled)
    built(filled, cache)
    gone = course_id(SOURCE, "r0")
    with filled.writing() as conn:  # the application never deletes a course; the table must follow if one is
        conn.execute(sa.delete(courses).where(courses.c.id == gone))
    assert kept_row(filled, gone) is None
    assert sum(cache.counts().values()) == 3


def test_reindex_and_drain_keep_and_reuse_links(
    filled: CatalogueStore, tmp_path: Path, computed: list[str]
) -> None:
    """The two paths that build documents in production: the outbox drain after a harvest, and a
    full reindex into the embedded engine (which takes records, not documents)."""
    cache = SkillLinkStore(filled)
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        drain_outbox(Outbox(filled), backend, skill_cache=cache)  # type: ignore[arg-type]
        assert len(computed) == 4 and sum(cache.counts().values()) == 4
        computed.clear()
        assert reindex(filled, backend, skill_cache=cache) == 4
        assert computed == []
        kept = kept_row(filled, course_id(SOURCE, "r0"))
        assert kept is not None and kept[1] == skill_key()
        labels = [link["label"] for link in orjson.loads(kept[2])]  # the published links, as JSON text
        assert labels == ["manage budgets", "project management"]
    finally:
        backend.close()


def test_skills_off_keep_nothing(filled: CatalogueStore, computed: list[str]) -> None:
    cache = SkillLinkStore(filled)
    with skill_taxonomy.use(None):
        docs = built(filled, cache)
    assert computed == [] and cache.counts() == {}
    assert all(doc["skills"] == [] for doc in docs)


def test_a_failed_write_is_logged_not_raised(
    filled: CatalogueStore, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SkillLinkStore(filled)
    with caplog.at_level(logging.WARNING):
        cache.keep([("no-such-course", "0" * 32, "[]")], "key")  # the foreign key refuses it
    assert "not kept" in caplog.text
    with filled.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(skill_links)).scalar_one() == 0


def test_documents_of_courses_and_repair_reuse_kept_links(
    filled: CatalogueStore, tmp_path: Path, computed: list[str]
) -> None:
    """The Course path (`documents`, which `repair` uses) keeps and reuses the same
    rows as the record path, with the same documents."""
    cache = SkillLinkStore(filled)
    built(filled, cache)
    computed.clear()
    stored = list(filled.iter_courses(include_withdrawn=True))
    assert orjson.dumps(list(documents(stored, skill_cache=cache))) == orjson.dumps(list(documents(stored)))
    assert computed == []  # reused, not recomputed
    backend = EmbeddedBackend(tmp_path / "index")
    try:
        report = repair(filled, backend, skill_cache=cache)
        assert report.missing == 4 and computed == []
    finally:
        backend.close()
    with filled.writing() as conn:
        conn.execute(sa.delete(skill_links))
    list(documents(stored, skill_cache=cache))
    assert len(computed) == 4 and sum(cache.counts().values()) == 4


def test_a_failed_read_finds_nothing(filled: CatalogueStore, caplog: pytest.LogCaptureFixture) -> None:
    """A database without the table (not migrated yet) still indexes: links are computed."""
    cache = SkillLinkStore(filled)
    built(filled, cache)
    with filled.writing() as conn:
        conn.execute(sa.text("DROP TABLE skill_links"))
    with caplog.at_level(logging.WARNING):
        docs = built(filled, cache)
    assert "not read" in caplog.text and "not kept" in caplog.text
    assert orjson.dumps(docs) == orjson.dumps(built(filled, None))
