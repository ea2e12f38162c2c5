"""Skill requests: "teaches: project management, budgeting" in a search text, `skills=` names, and
which requested skills a course covers.

Names are ESCO skill URIs, bare ESCO ids or labels (preferred or alternative, any case; English,
as ESCO's labels in our data are). An http(s) URI is taken as it is even when the taxonomy does
not hold it: a provider may state a skill URI of another ESCO version. Anything else must resolve,
or the request fails with UnknownSkill (never a search that silently ignores a name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from course_catalogue.skills.errors import UnknownSkill
from course_catalogue.skills.taxonomy import Taxonomy

TEACHES = re.compile(r"(?i)(?:^|\s)teaches:")
MAX_NAMES = 20
"""Skills one search may name (each is a filter value of the `skill` facet)."""


def split_teaches(text: str) -> tuple[str, list[str]]:
    """(search words, skill names) of a search text: names are what follows "teaches:",
    separated by commas; the words are what precedes it."""
    found = TEACHES.search(text)
    if found is None:
        return text, []
    words, rest = text[: found.start()].strip(), text[found.end() :]
    return words, [name.strip() for name in rest.split(",") if name.strip()]


def resolve(names: Iterable[str], taxonomy: Taxonomy | None) -> tuple[str, ...]:
    """The skill URIs of `names` (in order, without repeats). Raises UnknownSkill for a name that
    is not a URI and not in the taxonomy (or when there is no taxonomy to look labels up in)."""
    uris: dict[str, None] = {}
    for raw in names:
        name = " ".join(raw.split())
        if not name:
            continue
        if re.match(r"https?://", name):
            uris[name] = None
        elif taxonomy is None:
            raise UnknownSkill(f"cannot look up the skill {name[:80]!r}: ESCO skills are off on this server")
        else:
            uris[taxonomy.resolve(name).uri] = None
    if len(uris) > MAX_NAMES:
        raise UnknownSkill(f"a search names at most {MAX_NAMES} skills, not {len(uris)}")
    return tuple(uris)


def covered(links: Sequence[Mapping[str, Any]] | None, requested: Sequence[str]) -> list[Mapping[str, Any]]:
    """The published links of a course (`skill_links` of its document) to the requested skills,
    in the order they were requested."""
    by_uri = {link["uri"]: link for link in links or () if isinstance(link, Mapping) and "uri" in link}
    return [by_uri[uri] for uri in requested if uri in by_uri]
