"""The `skill_links` table: each course's published ESCO skill links, kept between index builds.

`search.skill_cache` decides what is kept and when it may be reused (the digest of the course
text the links were made from, the key of the linker that made them); this module only reads and
writes the rows. One row per course, replaced whenever links are computed again; the row goes
with its course (foreign key ON DELETE CASCADE).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from course_catalogue.catalogue.errors import StoreError
from course_catalogue.catalogue.schema import skill_links
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.store_rows import CHUNK, chunks

logger = logging.getLogger(__name__)


class SkillLinkStore:
    """Kept skill links of one catalogue database (a `search.skill_cache.SkillLinkCache`)."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    def recall(self, course_ids: Sequence[str], key: str) -> dict[str, tuple[str, str]]:
        """(text digest, links JSON) of those of `course_ids` whose row was written under `key` (in
        bulk: one query per CHUNK ids). Never raises: a read that fails is logged and finds
        nothing (the links are then computed, as without the table)."""
        t = skill_links
        found: dict[str, tuple[str, str]] = {}
        try:
            with self._store.reading() as conn:
                for chunk in chunks(list(course_ids), CHUNK):
                    query = sa.select(t.c.course_id, t.c.text_digest, t.c.links).where(
                        t.c.course_id.in_(chunk), t.c.linker_key == key
                    )
                    for course_id, digest, links in conn.execute(query):
                        found[course_id] = (digest, links)
        except StoreError as error:
            logger.warning("kept skill links not read (computed instead): %s", error)
            return {}
        return found

    def keep(self, kept: Sequence[tuple[str, str, str]], key: str) -> None:
        """Insert or replace the (course id, text digest, links JSON) of `kept`, made under `key`,
        in one transaction. Never
        raises: a write that fails (the database busy with a long harvest, a course deleted
        meanwhile) is logged, and those links are computed again at the next build."""
        if not kept:
            return
        rows = [
            {"course_id": course_id, "text_digest": digest, "linker_key": key, "links": links}
            for course_id, digest, links in kept
        ]
        try:
            with self._store.writing() as conn:
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                stmt = insert(skill_links)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[skill_links.c.course_id],
                    set_={name: stmt.excluded[name] for name in ("text_digest", "linker_key", "links")},
                )
                for chunk in chunks(rows, CHUNK):
                    conn.execute(stmt, chunk)
        except StoreError as error:
            logger.warning(
                "skill links of %d courses not kept (computed again next time): %s", len(rows), error
            )

    def counts(self) -> Mapping[str, int]:
        """Rows per linker key (diagnostics: a reindex after a linker change replaces them all)."""
        t = skill_links
        with self._store.reading() as conn:
            query = sa.select(t.c.linker_key, sa.func.count()).group_by(t.c.linker_key)
            return {key: count for key, count in conn.execute(query)}
