"""EQF level normaliser: EQF numbers, words and IRIs, plus national levels via official crosswalks.

National frameworks are read from `data/qualification_frameworks.toml`, where each table names
the referencing report it comes from. A level we cannot place is reported, never guessed: edX's
"Introductory" / "Advanced" are difficulty labels, not EQF levels.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mappings.transforms.result import Result, fold, info, ok, warn

_EQF_URI = re.compile(r"data\.europa\.eu/snb/eqf/([1-8])/?$")
_TOKENS = re.compile(r"[^\W\d_]+|\d+")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8}
_GENERIC_WORDS = frozenset({"level", "levels", "niveau", "niveaux", "nivel", "livello", "stufe", "the", "de"})
_EQF_NAMES = frozenset(
    {"eqf", "eqr", "cec", "eqf level", "european qualifications framework", "european", "eqf mec"}
)


@dataclass(frozen=True)
class Framework:
    """A national framework: its key (e.g. "RQF"), name and national level -> EQF level table."""

    key: str
    label: str
    levels: dict[str, int]


@cache
def frameworks() -> dict[str, Framework]:
    """Framework by key and by every alias (lower case)."""
    path = resources.files("mappings.transforms") / "data" / "qualification_frameworks.toml"
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    found: dict[str, Framework] = {}
    for key, entry in table.items():
        framework = Framework(key, entry["label"], {str(k): int(v) for k, v in entry["levels"].items()})
        for alias in (key.lower(), *entry.get("aliases", ())):
            found[alias] = framework
    return found


def _split_level(words: list[str]) -> tuple[list[str], str] | None:
    """(words before the level, level token): the first number, else the last roman numeral."""
    for i, word in enumerate(words):
        if word.isdigit():
            return words[:i], word
    for i in range(len(words) - 1, -1, -1):
        if words[i] in _ROMAN:
            return words[:i], words[i]
    return None


def _eqf(level: int, published: str) -> Result[int]:
    if 1 <= level <= 8:
        return ok(level)
    return warn(f"EQF levels run from 1 to 8, not {published!r}", "unknown-level")


def _national(framework: Framework, token: str, entry: bool) -> Result[int]:
    key = f"entry {token}" if entry else token
    shown = key.upper() if key in _ROMAN else key.capitalize() if entry else key
    level = framework.levels.get(key)
    if level is None:
        return warn(f"{framework.key} level {shown} has no EQF referencing", "unknown-level")
    return info(
        level, f"{framework.key} level {shown} read as EQF {level} ({framework.label})", "level-crosswalk"
    )


def eqf(value: str, framework: str | None = None) -> Result[int]:
    """EQF level 1..8 from "5", "V", "Level 5", "EQF 5", "niveau 5", an EQF IRI or a national level.

    `framework` (a key or alias from the crosswalk file, e.g. "RQF") says which national framework
    bare numbers belong to; without it a bare number is an EQF level. "niveau" with a roman numeral
    is the old French nomenclature (niveau V = EQF 3); with an arabic number it is the 2019 French
    framework, which equals the EQF.
    """
    uri = _EQF_URI.search(value.strip())
    if uri:
        return ok(int(uri.group(1)))
    words = _TOKENS.findall(fold(value))
    split = _split_level(words)
    if split is None:
        return warn(f"{value[:80]!r} is not an EQF level (no referenced framework level)", "unknown-level")
    before, token = split
    entry = "entry" in before
    hint = " ".join(w for w in before if w not in _GENERIC_WORDS and w != "entry")
    if not hint and token in _ROMAN and "niveau" in before:
        hint = "fr-1969"
    if not hint and entry:
        hint = "rqf"
    if not hint and framework:
        hint = framework.lower()
    if not hint or hint in _EQF_NAMES or hint == "eqf":
        return _eqf(_ROMAN[token] if token in _ROMAN else int(token), value)
    national = frameworks().get(hint)
    if national is None:
        return warn(f"unknown qualification framework {hint!r} in {value[:80]!r}", "unknown-level")
    return _national(national, token, entry)
