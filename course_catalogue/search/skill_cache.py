"""Skill links computed once per course text and linker, and reused by later document builds.

Linking a course to ESCO skills (`skills.linking`) costs about as much CPU as building the rest of
its search document, and its result depends only on the course's text and on the linker
(`documents.skill_key`: linker version, thresholds, taxonomy, links by meaning). So the published
links of each course are kept in the catalogue (`SkillLinkCache`: the `skill_links` table) with
the digest of the text they were made from and the key they were made under, and a later build
of the course's document (an index update after a harvest, a full reindex) reuses them when both
still match; otherwise they are computed and kept again. Without a taxonomy (skills off) only
stated links exist, which cost nothing to read: nothing is kept.

The search layer only asks and tells through `SkillLinkCache`; the catalogue layer implements it
(`catalogue.skill_link_store.SkillLinkStore`) and deletes a course's row with the course.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import orjson

from course_catalogue.search.documents import (
    SkillLinks,
    course_skill_links,
    record_skill_text,
    skill_key,
    text_digest,
)
from course_catalogue.skills.linking import CourseText


class KeptLinks(NamedTuple):
    """One course's kept links: the digest of the text they were made from and the published
    links as JSON text (a list of `SkillLink.as_dict`, in their order)."""

    course_id: str
    digest: str
    links_json: str


class SkillLinkCache(Protocol):
    """Where links are kept between document builds (`catalogue.skill_link_store.SkillLinkStore`,
    which takes and gives plain tuples: the catalogue layer does not import the search layer)."""

    def recall(self, course_ids: Sequence[str], key: str) -> Mapping[str, tuple[str, str]]:
        """(text digest, links JSON) of those of `course_ids` that have links made under `key`."""
        ...

    def keep(self, kept: Sequence[tuple[str, str, str]], key: str) -> None:
        """Insert or replace the (course id, text digest, links JSON) of courses, made under `key`.
        Never raises: links that could not be kept are computed again next time (the write is
        only a saving)."""
        ...


class LinkBatch:
    """The published links of one batch of stored records, reused from `cache` where the kept
    ones were made from the same text under the same key, otherwise computed now and kept by
    `flush`. Create it, call `links` once per record of the batch, then `flush`."""

    def __init__(self, cache: SkillLinkCache, course_ids: Sequence[str]) -> None:
        self._cache = cache
        self._key = skill_key()
        self._kept: Mapping[str, tuple[str, str]] = cache.recall(course_ids, self._key) if self._key else {}
        self._new: list[KeptLinks] = []
        self.reused = 0
        self.computed = 0

    def links(self, course_id: str, record: Mapping[str, Any]) -> SkillLinks | None:
        """The published links of the course whose stored record is `record`; None when skills
        are off (the document builder then takes the stated links itself)."""
        if self._key is None:
            return None
        return self.text_links(course_id, record_skill_text(record))

    def text_links(self, course_id: str, text: CourseText) -> SkillLinks | None:
        """The published links of the course whose linked text is `text` (`documents.skill_text`
        of its facts); None when skills are off."""
        if self._key is None:
            return None
        digest = text_digest(text)
        kept = self._kept.get(course_id)
        if kept is not None and kept[0] == digest:
            self.reused += 1
            links: list[dict[str, Any]] = orjson.loads(kept[1])
            return links
        links = course_skill_links(text)
        self.computed += 1
        self._new.append(KeptLinks(course_id, digest, orjson.dumps(links).decode()))
        return links

    def flush(self) -> None:
        """Keep the links computed since the last flush."""
        if self._new and self._key is not None:
            self._cache.keep(self._new, self._key)
        self._new = []
