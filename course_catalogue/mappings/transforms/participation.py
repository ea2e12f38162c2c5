"""Form of participation: modes ("online", "onsite", ...), learning schedules and the attendance
patterns that imply one, from the words providers use (`data/participation.toml`).

One reading serves both transforms: a published phrase is looked up whole, else split where
feeds combine terms ("Twilight/Evening/Weekends", "Other Part-time Day and/or Twilight") and
each part read as a sequence of known phrases ("Part Time Day" = part time + daytime). A phrase
yields what it implies: an evening, twilight, weekend, day-release or block-release pattern is a
part-time schedule; "Short Full-time" is full-time. A word that belongs to another element ("Full
Time" inside attendanceMode) is understood by the transform of that element and ignored by the
other; a part nobody understands is reported by the element's own transform, and `quiet` lets a
spec read an element a second time (for what it says about another field) without a second
report. Published code lists (XCRI-CAP identifiers, LHEO and FORMACODE codes) are read only when
the spec names them (`codes`), since "ON" or "2" mean nothing elsewhere.

Results are codes of `catalogue.vocabularies.MODES` / `SCHEDULES`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.catalogue.vocabularies import MODES, SCHEDULES
from course_catalogue.mappings.transforms.result import Result, unaccented

_SEPARATORS = re.compile(r"[/,;|+&()\[\]]")
_SPACES = re.compile(r"[-_'’.\s]+")
_WORD = re.compile(r"[^\W_]+")
_INTENSITY = ("full-time", "part-time", "part-time-light", "part-time-intensive")
_PART_TIME = frozenset(("part-time", "part-time-light", "part-time-intensive"))
_SHOWN = 80


@dataclass(frozen=True)
class _Term:
    kind: str  # "mode", "schedule", "pattern" or "none"
    code: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """The phrase tables, compiled: whole phrases, phrases by first word (longest first), stems."""

    whole: dict[str, _Term]
    phrases: dict[str, tuple[tuple[tuple[str, ...], _Term], ...]]
    stems: tuple[tuple[str, _Term], ...]
    fillers: frozenset[str]
    negations: frozenset[str]
    implies: dict[str, str]  # pattern -> schedule ("" for none)
    codes: dict[str, dict[str, _Term]]  # code list -> code (upper case) -> term


@dataclass(frozen=True)
class Reading:
    """What a published phrase says: modes, stated schedules and patterns in the order met,
    `understood` (any part was known, a "none" term included) and the parts nobody knows."""

    modes: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    understood: bool = False
    unknown: tuple[str, ...] = ()


def key(text: str) -> str:
    """Lookup form of a phrase: no accents (ł is l), case folded, "-", "_", "'", "." as spaces."""
    return _SPACES.sub(" ", unaccented(text).casefold()).strip()


def _term(value: str) -> _Term:
    kind, _, code = value.partition(":")
    return _Term(kind, code)


@cache
def vocabulary() -> Vocabulary:
    """The compiled tables of `data/participation.toml` plus the MODES / SCHEDULES codes, labels
    and ELM concept IRIs."""
    path = resources.files("course_catalogue.mappings.transforms") / "data" / "participation.toml"
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    entries: list[tuple[str, _Term]] = []
    for kind, table in (("mode", "modes"), ("schedule", "schedules"), ("pattern", "patterns")):
        for code, languages in data[table].items():
            for language, phrases in languages.items():
                if language != "implies":
                    entries += [(phrase, _Term(kind, code)) for phrase in phrases]
    entries += [(phrase, _Term("none")) for phrase in data["none"]]
    whole: dict[str, _Term] = {}
    for kind, concepts in (("mode", MODES), ("schedule", SCHEDULES)):
        for code, concept in concepts.items():
            entries += [(code, _Term(kind, code)), (concept.label, _Term(kind, code))]
            if concept.uri:
                whole[key(concept.uri)] = _Term(kind, code)
    by_first: dict[str, list[tuple[tuple[str, ...], _Term]]] = {}
    stems: list[tuple[str, _Term]] = []
    for phrase, term in entries:
        if phrase.endswith("*"):
            stems.append((key(phrase[:-1]), term))
            continue
        whole.setdefault(key(phrase), term)
        words = tuple(_WORD.findall(key(phrase)))
        if words:
            by_first.setdefault(words[0], []).append((words, term))
    return Vocabulary(
        whole=whole,
        phrases={first: tuple(sorted(found, key=lambda p: -len(p[0]))) for first, found in by_first.items()},
        stems=tuple(stems),
        fillers=frozenset(map(key, data["fillers"])),
        negations=frozenset(map(key, data["negations"])),
        implies={code: table.get("implies", "") for code, table in data["patterns"].items()},
        codes={
            name: {str(code).upper(): _term(value) for code, value in table.items()}
            for name, table in data["codes"].items()
        },
    )


def code_lists() -> tuple[str, ...]:
    """Names a spec may give as `codes`."""
    return tuple(vocabulary().codes)


def _stem(word: str, vocab: Vocabulary) -> _Term | None:
    return next((term for stem, term in vocab.stems if word.startswith(stem)), None)


def _part(text: str, vocab: Vocabulary, codes: dict[str, _Term] | None) -> list[_Term] | None:
    """The terms of one part of a phrase; None when the part is not understood."""
    if codes is not None and text.upper() in codes:
        return [codes[text.upper()]]
    folded = key(text)
    if folded in vocab.whole:
        return [vocab.whole[folded]]
    words = _WORD.findall(folded)
    terms: list[_Term] = []
    leftover = False
    i = 0
    while i < len(words):
        found = next(
            (
                (len(phrase), term)
                for phrase, term in vocab.phrases.get(words[i], ())
                if tuple(words[i : i + len(phrase)]) == phrase
            ),
            None,
        )
        if found is None and (stem := _stem(words[i], vocab)) is not None:
            found = (1, stem)
        if found is not None:
            terms.append(found[1])
            i += found[0]
            continue
        if words[i] in vocab.negations:
            return None  # "not full time", "non presencial" (unless a known phrase): unreadable
        leftover = leftover or not (words[i].isdigit() or words[i] in vocab.fillers)
        i += 1
    if terms:
        return terms
    return None if leftover else []


def read(value: str, codes: str | None = None) -> Reading:
    """Everything `value` says about the form of participation (see the module docstring)."""
    vocab = vocabulary()
    table = vocab.codes.get(codes) if codes else None
    stripped = value.strip()
    whole = (table is not None and stripped.upper() in table) or key(stripped) in vocab.whole
    sources = [stripped] if whole else [p.strip() for p in _SEPARATORS.split(stripped) if p.strip()]
    parts = [_part(source, vocab, table) for source in sources]
    terms = [t for found in parts if found for t in found]
    unknown = tuple(src[:_SHOWN] for src, found in zip(sources, parts, strict=True) if found is None)

    def codes_of(kind: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.code for t in terms if t.kind == kind))

    return Reading(codes_of("mode"), codes_of("schedule"), codes_of("pattern"), bool(terms), unknown)


def _unknown(reading: Reading, what: str, code: str, quiet: bool) -> tuple[Issue, ...]:
    if quiet or not reading.unknown:
        return ()
    parts = ", ".join(repr(u) for u in reading.unknown)
    return (Issue(Severity.WARNING, f"unknown {what} {parts}", code=code),)


def mode(value: str, codes: str | None = None, quiet: bool = False) -> Result[tuple[str, ...]]:
    """MODES codes from "Online", "e-learning", "distance", "face-to-face", "hybrid", "présentiel",
    "Fernstudium", an ELM mode IRI, or identifiers of the `codes` list ("CM", "DS")."""
    reading = read(value, codes)
    return Result(reading.modes or None, _unknown(reading, "mode of participation", "unknown-mode", quiet))


def schedule(value: str, codes: str | None = None, quiet: bool = False) -> Result[str]:
    """SCHEDULES code from "full time", "Teilzeit", "Part Time Day", "Evening" (part-time, with a
    note), "Self-paced on your time", an ELM schedule IRI, or `codes` identifiers ("FT", "EV").

    Stated schedules win over those patterns imply. Two stated schedules of the same kind
    (full-time and part-time) are reported, not chosen; a full/part-time statement is kept over
    a pacing one (self-paced, scheduled), the single code the field takes.
    """
    reading = read(value, codes)
    issues = _unknown(reading, "learning schedule", "unknown-schedule", quiet)
    stated = reading.schedules
    intensity = [s for s in stated if s in _INTENSITY]
    if len(intensity) > 1 and not (set(intensity) <= _PART_TIME and "part-time" in intensity):
        message = f"{value[:_SHOWN]!r} states several schedules ({', '.join(intensity)}); none recorded"
        return Result(None, (*issues, Issue(Severity.WARNING, message, code="ambiguous-schedule")))
    if intensity:
        specific = [s for s in intensity if s != "part-time"]
        return Result(specific[0] if specific else intensity[0], issues)
    if stated:
        return Result(stated[0], issues)
    implied = tuple(dict.fromkeys(i for p in reading.patterns if (i := vocabulary().implies.get(p))))
    if len(implied) == 1:
        patterns = ", ".join(p for p in reading.patterns if vocabulary().implies.get(p))
        note = f"{value[:_SHOWN]!r} read as {implied[0]} (an attendance pattern: {patterns})"
        return Result(implied[0], (*issues, Issue(Severity.INFO, note, code="schedule-implied")))
    return Result(None, issues)
