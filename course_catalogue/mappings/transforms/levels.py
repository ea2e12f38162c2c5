"""EQF levels from what feeds publish: EQF statements, national framework levels and award names.

Three kinds of statement give a level, strongest first:

* an EQF statement: "EQF 5", "niveau 5 CEC", an EQF IRI (no note: the feed states the EQF);
* a national framework level named with its framework: "SCQF level 7", "RQF 3", "NFQ Level 6",
  "niveau V" (the French 1969 nomenclature, which only ever used roman numerals);
* an award: "HNC", "Higher", "SVQ 3", "BTEC Level 3", "Licence professionnelle", "BA (Hons)",
  read through `data/awards.toml` to a national framework level.

National levels go to the EQF through `data/qualification_frameworks.toml`; every such
conversion is an INFO note ("level-crosswalk") naming the award, the framework level and the EQF
level. A bare "Level 3", "3" or "niveau 3" says nothing about its framework: it is read through
the framework the spec or the source declares (`framework`), else reported ("ambiguous-level").
An award that spans several EQF levels ("SVQ 3" is SCQF 6-7), a word that names no level alone
("Diploma") and statements that contradict each other are reported, never guessed.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from course_catalogue.mappings.transforms.result import Result, info, ok, unaccented, warn

_EQF_URI = re.compile(r"data\.europa\.eu/snb/eqf/([1-8])/?$")
_WORD = re.compile(r"[^\W\d_]+|\d+")
_DOTTED = re.compile(r"(?<=[^\W\d_])\.(?=[^\W\d_])")  # "B.Sc." -> "BSc.", "Ph.D." -> "PhD."
_POSSESSIVE = re.compile(r"['’]s\b")  # "Master's" -> "Masters"
_APOSTROPHE = re.compile(r"['’`]")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8}
_LEVEL_WORDS = frozenset(
    {"level", "levels", "lvl", "niveau", "niveaux", "nivel", "livello", "stufe", "poziom", "poziomu"}
)
_HONOURS = frozenset({"hons", "honours", "honors"})
_CONNECTORS = frozenset(
    [
        "and",
        "or",
        "to",
        "und",
        "oder",
        "bis",
        "et",
        "ou",
        "a",
        "en",
        "of",
        "tot",
        "y",
        "o",
        "e",
        "i",
        "lub",
        "do",
    ]
)
_EQF = "EQF"
_EQF_ALIASES = (
    "eqf",
    "eqr",
    "cec",
    "erk",
    "eqf mec",
    "european qualifications framework",
    "europaischer qualifikationsrahmen",
    "cadre europeen des certifications",
    "europees kwalificatiekader",
    "marco europeo de cualificaciones",
    "quadro europeo delle qualifiche",
    "europejska rama kwalifikacji",
)
_SHORT_CAPITALS = re.compile(r"^[A-Z]{1,5}$")
_NOTE_FRAMEWORKS = 3  # frameworks named in one note before "..."


@dataclass(frozen=True)
class Framework:
    """A national framework: its key (e.g. "RQF"), name and national level -> EQF level table."""

    key: str
    label: str
    levels: dict[str, int]


@dataclass(frozen=True)
class Award:
    """One award type in one framework (see data/awards.toml for the meaning of each field)."""

    framework: str
    level: tuple[str, ...] = ()
    numbers: Mapping[str, tuple[str, ...]] | None = None
    numbered: tuple[int, int] | None = None
    hons: str | None = None

    def levels(self, number: str | None, honours: bool) -> tuple[str, ...]:
        """The framework level(s) of this award with the number and honours written beside it."""
        if number is not None and self.numbers is not None:
            return self.numbers.get(number, ())
        if number is not None and self.numbered is not None:
            return (number,) if self.numbered[0] <= int(number) <= self.numbered[1] else ()
        if honours and self.hons:
            return (self.hons,)
        return self.level


@dataclass(frozen=True)
class _Entry:
    """A phrase of the level vocabulary: a framework name, an award, an ambiguous word or a
    phrase to ignore. `words` are (normalised word, exact spelling required or None)."""

    words: tuple[tuple[str, str | None], ...]
    kind: str  # "framework", "award", "ambiguous" or "ignore"
    cased: bool = False
    framework: str | None = None  # kind "framework": the key ("EQF" for the EQF)
    awards: tuple[Award, ...] = ()


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    entries: tuple[_Entry, ...]
    text: str  # as published


# -- data -----------------------------------------------------------------------------------


def _data(name: str) -> dict[str, Any]:
    path = resources.files("course_catalogue.mappings.transforms") / "data" / name
    return tomllib.loads(path.read_text(encoding="utf-8"))


@cache
def frameworks() -> dict[str, Framework]:
    """Framework by key and by every alias (lower case)."""
    found: dict[str, Framework] = {}
    for key, entry in _data("qualification_frameworks.toml").items():
        framework = Framework(key, entry["label"], {str(k): int(v) for k, v in entry["levels"].items()})
        for alias in (key.lower(), *entry.get("aliases", ())):
            found[alias] = framework
    return found


def framework_keys() -> dict[str, str]:
    """Every framework name a spec or a source may declare (key or alias, lower case) -> its key,
    including "eqf"."""
    return {"eqf": _EQF, **{alias: f.key for alias, f in frameworks().items()}}


def _tokens(text: str) -> list[tuple[str, str]]:
    """(word as written, normalised word: case folded, without accents) pairs."""
    text = unicodedata.normalize("NFC", text)
    text = _APOSTROPHE.sub(" ", _POSSESSIVE.sub("s", _DOTTED.sub("", text))).replace("+", " plus ")
    return [(word, unaccented(word).casefold()) for word in _WORD.findall(text)]


def _words(phrase: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((norm, orig if _SHORT_CAPITALS.match(orig) else None) for orig, norm in _tokens(phrase))


def _award(framework: str, row: dict[str, Any]) -> Award:
    def levels(value: Any) -> tuple[str, ...]:
        """A level, or every level of a [low, high] span."""
        if not isinstance(value, list):
            return (str(value),)
        low, high = (str(v) for v in value)
        return tuple(map(str, range(int(low), int(high) + 1))) if low.isdigit() else (low, high)

    numbers = row.get("numbers")
    numbered = row.get("numbered")
    return Award(
        framework=framework,
        level=levels(row["level"]) if "level" in row else (),
        numbers={str(k): levels(v) for k, v in numbers.items()} if numbers else None,
        numbered=(int(numbered[0]), int(numbered[1])) if numbered else None,
        hons=str(row["hons"]) if "hons" in row else None,
    )


@cache
def _vocabulary() -> dict[str, tuple[_Entry, ...]]:
    """Phrase entries by their first normalised word, longest phrases first."""
    entries: list[_Entry] = []
    data = _data("awards.toml")
    grouped: dict[tuple[tuple[tuple[str, str | None], ...], bool], list[Award]] = {}
    for key, table in data.items():
        if not isinstance(table, dict):
            continue
        for row in table["awards"]:
            for framework in (key, *row.get("also", ())):
                award = _award(framework, row)
                for name in row["names"]:
                    grouped.setdefault((_words(name), bool(row.get("cased"))), []).append(award)
    for (words, cased), awards in grouped.items():
        entries.append(_Entry(words, "award", cased, awards=tuple(awards)))
    entries += [_Entry(_words(p), "ambiguous") for p in data["ambiguous"]]
    entries += [_Entry(_words(p), "ignore") for p in data["ignore"]]
    entries += [_Entry(_words(a), "framework", framework=_EQF) for a in _EQF_ALIASES]
    for alias, framework in frameworks().items():
        words = _words(alias)
        if len(alias) > 2 and not any(norm.isdigit() for norm, _ in words):  # "fr", "fr-1969": no
            entries.append(_Entry(words, "framework", framework=framework.key))
    index: dict[str, list[_Entry]] = {}
    for entry in entries:
        if entry.words:
            index.setdefault(entry.words[0][0], []).append(entry)
    return {first: tuple(sorted(found, key=lambda e: -len(e.words))) for first, found in index.items()}


# -- reading --------------------------------------------------------------------------------


def _fits(token: tuple[str, str], word: tuple[str, str | None], capital: bool) -> bool:
    orig, norm = token
    exact = word[1]
    return norm == word[0] and (exact is None or orig == exact) and (not capital or orig[:1].isupper())


def _scan(tokens: list[tuple[str, str]]) -> list[_Match]:
    """Longest vocabulary phrases, left to right, without overlaps."""
    vocabulary = _vocabulary()
    found: list[_Match] = []
    i = 0
    while i < len(tokens):
        best: list[_Entry] = []
        for entry in vocabulary.get(tokens[i][1], ()):
            n = len(entry.words)
            if best and n < len(best[0].words):
                break
            if i + n <= len(tokens) and all(
                _fits(tokens[i + k], entry.words[k], entry.cased and k == 0) for k in range(n)
            ):
                best.append(entry)
        if best:
            n = len(best[0].words)
            found.append(_Match(i, i + n, tuple(best), " ".join(orig for orig, _ in tokens[i : i + n])))
            i += n
        else:
            i += 1
    return found


def _number(tokens: list[tuple[str, str]], i: int) -> tuple[str, int] | None:
    """The level number at token i, after at most one level word: ("3", index of the number)."""
    if i < len(tokens) and tokens[i][1] in _LEVEL_WORDS:
        i += 1
    if i < len(tokens) and tokens[i][1].isdigit():
        return str(int(tokens[i][1])), i
    return None


def _more_numbers(tokens: list[tuple[str, str]], i: int) -> list[str]:
    """Numbers listed after the one at token i: "Intermediate 1 and 2", "SVQ 2/3", "Level 2 or 3"."""
    found: list[str] = []
    while True:
        j = i + 2 if i + 1 < len(tokens) and tokens[i + 1][1] in _CONNECTORS else i + 1
        if j >= len(tokens) or not tokens[j][1].isdigit() or (j == i + 1 and not tokens[j - 1][1].isdigit()):
            return found
        found.append(str(int(tokens[j][1])))
        i = j


@dataclass(frozen=True)
class _Bare:
    """A level the text states without naming a framework: "Level 3", "niveau V", "3"."""

    level: str
    index: int  # of the number's token
    roman: bool = False
    entry: bool = False  # "Entry Level 3" (RQF, CQFW)


def _bare_level(tokens: list[tuple[str, str]]) -> _Bare | None:
    """The number (or roman numeral) after the first level word, or a text that is one number."""
    for i, (_, norm) in enumerate(tokens):
        if norm in _LEVEL_WORDS and i + 1 < len(tokens):
            following = tokens[i + 1][1]
            entry = i > 0 and tokens[i - 1][1] == "entry"
            if following.isdigit():
                return _Bare(str(int(following)), i + 1, entry=entry)
            if following in _ROMAN:
                bis = i + 2 < len(tokens) and tokens[i + 2][1] == "bis"
                return _Bare(following + (" bis" if bis else ""), i + 1, roman=True, entry=entry)
    if len(tokens) == 1 and (tokens[0][1].isdigit() or tokens[0][1] in _ROMAN):
        norm = tokens[0][1]
        return _Bare(str(int(norm)) if norm.isdigit() else norm, 0, roman=not norm.isdigit())
    return None


@dataclass(frozen=True)
class _Reading:
    """One statement's EQF levels (None: a level below the EQF) and how it got them. `stated`:
    the statement is an EQF level itself (no crosswalk, so no note)."""

    eqf: frozenset[int | None]
    how: str
    stated: bool = False


def _shown(framework: str, levels: tuple[str, ...]) -> str:
    if framework == "QF-EHEA":
        return f"a QF-EHEA {' or '.join(levels)} degree"
    if len(levels) == 1:
        return f"{framework} level {levels[0].upper() if levels[0] in _ROMAN else levels[0]}"
    return f"{framework} levels {levels[0]}-{levels[-1]}"


def _explicit(tokens: list[tuple[str, str]], match: _Match) -> _Reading | None:
    """An EQF or national level stated with its framework's name ("SCQF level 7", "niveau 5 CEC")."""
    key = next(e.framework for e in match.entries if e.kind == "framework")
    after = _number(tokens, match.end)
    before = None
    if match.start and tokens[match.start - 1][1].isdigit():
        before = str(int(tokens[match.start - 1][1]))
    level = after[0] if after else before
    if key is None or level is None:
        return None
    if key == _EQF:
        return _Reading(frozenset({int(level)} if 1 <= int(level) <= 8 else {None}), f"EQF {level}", True)
    framework = frameworks()[key.lower()]
    eqf = framework.levels.get(level)
    return _Reading(frozenset({eqf}), f"{_shown(framework.key, (level,))} ({framework.label})")


def _award_reading(
    tokens: list[tuple[str, str]], match: _Match, loose_number: str | None, declared: str | None
) -> _Reading | None:
    """The award's framework level(s) and their EQF levels; None when it is no award here (a
    numbered award without a number, or with a number it does not have)."""
    awards = [a for entry in match.entries for a in entry.awards]
    if declared and any(a.framework == declared for a in awards):
        awards = [a for a in awards if a.framework == declared]
    near = _number(tokens, match.end)
    listed = [near[0], *_more_numbers(tokens, near[1])] if near else []
    honours = any(norm in _HONOURS for _, norm in tokens[match.end : match.end + 2])
    found: dict[str, tuple[str, ...]] = {}
    eqf: set[int | None] = set()
    counted = False
    for award in awards:
        # A number elsewhere in the text ("NQ Care | Level 5") counts only for awards that have
        # a level without one: "National" needs its number right after it ("National 5").
        numbers: list[str | None] = list(listed) or [loose_number if award.level else None]
        levels = tuple(dict.fromkeys(level for n in numbers for level in award.levels(n, honours)))
        if not levels:
            continue
        counted = counted or (_is_numbered(award) and numbers != [None])
        framework = frameworks()[award.framework.lower()]
        found.setdefault(framework.key, levels)
        eqf |= {framework.levels.get(level) for level in levels}
    if not found:
        return None
    number_text = " and ".join(listed) if listed else f"(level {loose_number})"
    name = match.text + (f" {number_text}" if counted else "")
    if "QF-EHEA" in found and len(eqf) == 1:
        shown = _shown("QF-EHEA", found["QF-EHEA"])
    else:
        parts = [_shown(key, levels) for key, levels in found.items()]
        shown = " / ".join(parts[:_NOTE_FRAMEWORKS]) + (" / ..." if len(parts) > _NOTE_FRAMEWORKS else "")
    return _Reading(frozenset(eqf), f"award {name!r} is {shown}")


def _is_numbered(award: Award) -> bool:
    return award.numbers is not None or award.numbered is not None


def _levels_text(eqf: frozenset[int | None]) -> str:
    known = sorted(e for e in eqf if e is not None)
    if not known:
        return "below EQF 1"
    return " or ".join(f"EQF {e}" for e in known) + (" or below EQF 1" if None in eqf else "")


def _conclude(readings: list[_Reading], value: str, code: str) -> Result[int]:
    """One EQF level when every reading agrees on exactly one, else a warning with `code`."""
    eqf: frozenset[int | None] = frozenset().union(*(r.eqf for r in readings))
    how = "; ".join(r.how for r in readings)
    if len(eqf) == 1:
        (level,) = eqf
        if level is None:
            return warn(f"{how}: no EQF level (below EQF 1 or not referenced)", "unknown-level")
        if all(r.stated for r in readings):
            return ok(level)
        return info(level, f"{how} = EQF {level}", "level-crosswalk")
    return warn(f"{value[:80]!r}: {how}, so {_levels_text(eqf)}; not recorded", code)


def _weigh(primary: list[_Reading], awards: list[_Reading], value: str) -> Result[int]:
    """Stated levels (explicit, or bare through the declared framework) against the awards: an
    award agrees when its span holds the stated level; one that does not is a conflict."""
    if not primary:
        return _together(awards, value)
    stated: frozenset[int | None] = frozenset().union(*(r.eqf for r in primary))
    same = [a for a in awards if a.eqf == stated]
    clash = [a for a in awards if not stated <= a.eqf]
    return _conclude(primary + same + clash, value, "level-conflict")


def _together(awards: list[_Reading], value: str) -> Result[int]:
    """Several awards named together describe one level: the one they all allow ("NC | Higher"
    is the NC at SCQF 6), else the text is ambiguous ("Intermediate 2 to Higher")."""
    common: frozenset[int | None] = frozenset.intersection(*(a.eqf for a in awards))
    if len(common) == 1:
        return _conclude([_Reading(common, "; ".join(a.how for a in awards))], value, "ambiguous-award")
    shown = common or frozenset().union(*(a.eqf for a in awards))
    how = "; ".join(a.how for a in awards)
    return warn(f"{value[:80]!r}: {how}, so {_levels_text(shown)}; not recorded", "ambiguous-award")


def read_level(value: str, framework: str | None = None) -> Result[int]:
    """EQF level 1..8 of a level or award text; see the module docstring.

    `framework` (a key or alias of the frameworks file, or "EQF") is the framework bare levels
    belong to; award names and named frameworks do not need it.
    """
    uri = _EQF_URI.search(value.strip())
    if uri:
        return ok(int(uri.group(1)))
    declared = framework_keys().get(framework.lower()) if framework else None
    tokens = _tokens(value)
    matches = _scan(tokens)
    explicit = [m for m in matches if any(e.kind == "framework" for e in m.entries)]
    named = [m for m in matches if m not in explicit and any(e.kind == "award" for e in m.entries)]
    bare = _bare_level(tokens)
    taken = {near[1] for m in named if (near := _number(tokens, m.end))}
    loose = bare.level if bare and not bare.roman and bare.index not in taken else None
    stated = [r for m in explicit if (r := _explicit(tokens, m)) is not None]
    awards = [r for m in named if (r := _award_reading(tokens, m, loose, declared)) is not None]
    if stated:
        return _weigh(stated, awards, value)
    if awards:
        # A number that belongs to a numbered award ("SVQ ... | Level 2") is not a bare level too.
        numbered = any(_is_numbered(a) for m in named for e in m.entries for a in e.awards)
        declared_level = [] if numbered or bare is None else _declared_reading(bare, declared)
        return _weigh(declared_level, awards, value)
    if bare is not None:
        return _bare(value, bare, declared)
    vague = [m.text for m in matches if any(e.kind == "ambiguous" for e in m.entries)]
    if vague:
        return warn(f"{vague[0]!r} names no level on its own: {value[:80]!r}", "ambiguous-award")
    return warn(f"{value[:80]!r} is not an EQF level (no referenced framework level)", "unknown-level")


def _declared_reading(bare: _Bare, declared: str | None) -> list[_Reading]:
    """The bare level read through the declared framework (nothing when none is declared)."""
    level = bare.level
    if declared is None or bare.roman:
        return []
    if declared == _EQF:
        return [_Reading(frozenset({int(level)} if 1 <= int(level) <= 8 else {None}), f"EQF {level}", True)]
    framework = frameworks()[declared.lower()]
    how = f"{_shown(framework.key, (level,))} (the framework declared for this feed)"
    return [_Reading(frozenset({framework.levels.get(level)}), how)]


def _not_roman(declared: str | None) -> bool:
    """True when the declared framework (if any) writes no level in roman numerals."""
    if declared is None:
        return True
    if declared == _EQF:
        return False
    return not any(level in _ROMAN for level in frameworks()[declared.lower()].levels)


def _bare(value: str, bare: _Bare, declared: str | None) -> Result[int]:
    level, roman = bare.level, bare.roman
    how = "the framework declared for this feed"
    if bare.entry:
        declared = declared if declared in ("RQF", "CQFW") else "RQF"  # entry levels exist only there
        level, how = f"entry {level}", "entry levels exist in the RQF and CQFW only"
    elif roman and _not_roman(declared) and any(n == "niveau" for _, n in _tokens(value)):
        declared = "FR-1969"
        how = "the 1969 nomenclature wrote its levels in roman numerals"
    if declared is None:
        return warn(
            f"{value[:80]!r} names no framework: declare the qualification framework of this feed "
            "(spec args or source parameter `framework`) to read bare levels",
            "ambiguous-level",
        )
    if declared == _EQF:
        number = _ROMAN.get(level, 0) if roman else int(level)
        if 1 <= number <= 8:
            return ok(number)
        return warn(f"EQF levels run from 1 to 8, not {value[:80]!r}", "unknown-level")
    framework = frameworks()[declared.lower()]
    eqf = framework.levels.get(level)
    shown = _shown(framework.key, (level,))
    if eqf is None:
        return warn(f"{shown} has no EQF referencing ({value[:80]!r})", "unknown-level")
    note = f"{value.strip()[:80]!r} read as {shown} ({how}; {framework.label}) = EQF {eqf}"
    return info(eqf, note, "level-crosswalk")


def eqf(value: str, framework: str | None = None) -> Result[int]:
    """EQF level 1..8 from an EQF statement, a national level with its framework or an award
    name; bare levels through `framework` (see `read_level`)."""
    return read_level(value, framework)
