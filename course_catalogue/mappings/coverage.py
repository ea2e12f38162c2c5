"""Coverage of a run: every source path that carried a value, and whether a mapping rule reads it.

Nothing a feed states may be lost silently: for each source path with a non-blank value in a
record (an XML element or attribute path, a CSV column, a JSON path, an RDF predicate path; each
selector language says how it names them, see `CoverageTracker`) a run counts the records that
had a value there, keeps one example, and learns whether any rule of the spec reads it: the id
rule, field rules, group `each` and sub-field rules, and the predicates inside selectors that
decide what is taken. A path some rule reads is MAPPED; a path the spec's `ignore` list names is
IGNORED (a decision); any other is UNMAPPED (a gap the report lists).

What "reads" means: a rule reads the values its selectors would take from the record, whether
or not the engine needed that rule for this record (a `fallback` entry reads its path even when
the entry before it gave a value): coverage is about what the spec maps, not about which
alternative won. How each language learns what a selector reads is in its own module
(`mappings.xpath_reads` for XPath).

Exactness and cost: record counts are exact (every record's values are walked). Whether a path
is read is decided by evaluating the spec's read probes on a record only while that record has a
path not yet settled (not yet seen read, or ignored and not yet checked): a feed the spec covers
pays for the walk alone after its first records; a feed with gaps pays for the probes on the
records that have them. An ignored path is checked against the rules in the first record that
has it; an ignore entry that matches a path a rule reads is a spec mistake: the path counts as
mapped and the run gets a WARNING (`ignored-but-read`).

A reader may also hand over paths it saw but could not pass on to the records (`unread`: JSON-LD
keys no context defines, which expansion drops; see `mappings.jsonld_keys`): no rule can read
them, so each is UNMAPPED with a WARNING giving the reader's reason, or IGNORED when an `ignore`
entry names it (a decision).

`ignore` entries are paths in the report's notation. An entry names a path and everything below
it (`xcri:venue` ignores `xcri:venue/xcri:provider/mlo:location/mlo:town` too); `*` matches any
part of one step (`@*`, `dc:*`) and `**` any number of steps (`**/@xml:lang`, `**/rdf:type`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any, Protocol

from course_catalogue.catalogue.runs import Coverage, Issue, PathCoverage, PathStatus, Severity
from course_catalogue.mappings.jsonld_keys import UnreadPath
from course_catalogue.mappings.transforms.result import fold

EXAMPLE_CHARS = 120
MAX_PATHS = 5000
"""Distinct paths a run tracks; a feed with more (generated element names) is reported as such."""


@dataclass(frozen=True)
class SelectorUse:
    """One selector expression a spec uses. `each`: the expression of the group's `each` when
    the selector is a sub-field (it runs from the group's nodes); `nodes`: the expression is an
    `each` itself (its nodes are navigated, its predicates read)."""

    expression: str
    each: str | None = None
    nodes: bool = False


class CoverageTracker(Protocol):
    """A selector language's view of one record for coverage, built once per run for one spec.

    `values(doc)`: {path: first non-blank value} of the record, and a state `reads` may use
    (node -> path tables). `reads(doc, state)`: the paths whose values the spec's selectors read
    in this record. `problems`: selectors whose reads could not be analysed (they are ignored
    for coverage; each is reported once per run)."""

    problems: tuple[str, ...]

    def values(self, doc: Any) -> tuple[dict[str, str], Any]: ...

    def reads(self, doc: Any, state: Any) -> AbstractSet[str]: ...


class IgnoreRules:
    """A spec's `ignore` entries, compiled: `match(path)` gives the first entry that ignores it."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.entries = tuple(entries)
        self._patterns = [(entry, _pattern(entry)) for entry in self.entries]
        self._cache: dict[str, str | None] = {}

    def match(self, path: str) -> str | None:
        try:
            return self._cache[path]
        except KeyError:
            pass
        found = next((entry for entry, pattern in self._patterns if pattern.match(path)), None)
        if len(self._cache) < 4 * MAX_PATHS:
            self._cache[path] = found
        return found


def check_ignore_entry(entry: str) -> str | None:
    """A problem with one `ignore` entry, or None."""
    if not entry.strip() or entry != entry.strip():
        return "entries are non-empty paths without surrounding spaces"
    if "//" in entry.replace("**/", "").replace("/**", ""):
        return f"{entry!r}: empty step (write ** for any number of steps)"
    return None


def _pattern(entry: str) -> re.Pattern[str]:
    """An entry as a regular expression: the path itself or anything below it."""
    out: list[str] = []
    steps = entry.split("/")
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if step == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        if step == "" and index == 0:
            out.append("/")  # an absolute path (XML context elements)
            continue
        out.append("[^/]*".join(re.escape(part) for part in step.split("*")))
        if not last:
            out.append("/")
    return re.compile("".join(out) + "(?:/.*)?$")


class RecordProbe:
    """What coverage needs of one record, taken where the record is parsed (a mapping worker
    process) and counted by the run's `CoverageCounter.observe_probed`: its values and the paths
    of them the spec's selectors read (always worked out: the counter may need them)."""

    def __init__(self, tracker: CoverageTracker, settled: AbstractSet[str] = frozenset()) -> None:
        self.tracker = tracker
        self.settled = settled  # paths the run's counter had settled when the record was sent
        self.values: dict[str, str] = {}
        self.read: frozenset[str] = frozenset()
        self.observed = False

    def observe(self, doc: Any) -> None:
        """Take the record's values, and what the spec reads of them unless every one is at a
        path already `settled` (the counter, which only settles more, will not ask)."""
        values, state = self.tracker.values(doc)
        self.values = values
        if any(path not in self.settled for path in values):
            self.read = frozenset(p for p in self.tracker.reads(doc, state) if p in values)
        self.observed = True

    def __getstate__(self) -> tuple[dict[str, str], frozenset[str], bool]:
        return self.values, self.read, self.observed  # sent back from a worker without its tracker

    def __setstate__(self, state: tuple[dict[str, str], frozenset[str], bool]) -> None:
        self.values, self.read, self.observed = state


class CoverageCounter:
    """One run's coverage: `observe` each record's parsed document, then `result()`."""

    def __init__(
        self,
        tracker: CoverageTracker,
        ignore: IgnoreRules,
        nulls: frozenset[str] = frozenset(),
        longest_null: int = -1,
    ) -> None:
        self.tracker = tracker
        self.ignore = ignore
        self.records = 0
        self._nulls = nulls
        self._longest_null = longest_null
        self._counts: dict[str, int] = {}
        self._examples: dict[str, str] = {}
        self._read: set[str] = set()
        self._settled: set[str] = set()  # read, or ignored and checked against the rules
        self._conflicts: dict[str, str] = {}  # ignored path a rule reads -> the ignore entry
        self._untracked = 0  # values at paths beyond MAX_PATHS
        self.last_paths: Sequence[str] = ()
        self._unread: dict[str, UnreadPath] = {}  # path -> what the reader could not pass on
        # `observe_known` path sets already found settled -> records with them not yet in the
        # counts: a recalled record costs one dict update, whatever its paths (`_fold`)
        self._known: dict[tuple[str, ...], int] = {}

    def unread(self, paths: Iterable[UnreadPath]) -> None:
        """Take in paths the reader saw but could not pass on (see the module docstring); a path
        handed over again (the next page of a listing) adds its records."""
        for entry in paths:
            known = self._unread.get(entry.path)
            if known is not None:
                self._unread[entry.path] = replace(known, records=known.records + entry.records)
            elif len(self._unread) < MAX_PATHS:
                self._unread[entry.path] = entry
            else:
                self._untracked += entry.records

    def observe(self, doc: Any) -> None:
        """Count one record's values and settle what they are. `last_paths` is then the paths
        the record had (non-null) values at, in its order: what `observe_known` takes."""
        values, state = self.tracker.values(doc)
        if self._count(values):
            self._settle(values, self.tracker.reads(doc, state))

    def observe_probed(self, probe: RecordProbe) -> None:
        """`observe` for a record another process parsed (`RecordProbe`): the same counts."""
        if self._count(probe.values):  # pending: a path was not settled, so the probe read it
            self._settle(probe.values, probe.read)

    @property
    def settled(self) -> frozenset[str]:
        """The paths settled so far (a snapshot for `RecordProbe`)."""
        return frozenset(self._settled)

    def _count(self, values: dict[str, str]) -> bool:
        """Count a record's values; whether some path is not settled yet (then `_settle`)."""
        self.records += 1
        counts, settled = self._counts, self._settled
        pending = False
        kept: list[str] = []
        self.last_paths = kept
        for path, value in values.items():
            if self._longest_null >= len(value) and fold(value) in self._nulls:
                continue
            kept.append(path)
            n = counts.get(path)
            if n is None:
                if len(counts) >= MAX_PATHS:
                    self._untracked += 1
                    continue
                counts[path] = 1
                self._examples[path] = _example(value)
            else:
                counts[path] = n + 1
            if path not in settled:
                pending = True
        return pending

    def _settle(self, values: dict[str, str], read: AbstractSet[str]) -> None:
        counts, settled = self._counts, self._settled
        for path in values:
            if path in settled or path not in counts:
                continue
            entry = self.ignore.match(path)
            if path in read:
                settled.add(path)
                self._read.add(path)
                if entry is not None:
                    self._conflicts[path] = entry
            elif entry is not None:
                settled.add(path)

    def observe_known(self, paths: Sequence[str]) -> bool:
        """Count a record known to have values at `paths` (an earlier run's `last_paths` for the
        same bytes and spec), when that is all `observe` would do with it: every path already
        counted with an example and settled (which stays so for the run). False (nothing
        counted) otherwise: `observe` the record's document then, which decides what its values
        are. The counts of such records are added in bulk when they are read (`_fold`)."""
        key = paths if isinstance(paths, tuple) else tuple(paths)
        known = self._known.get(key)
        if known is None:
            counts, settled = self._counts, self._settled
            for path in key:
                if path not in settled or path not in counts:
                    return False
            known = 0
        self._known[key] = known + 1
        self.records += 1
        return True

    def _fold(self) -> None:
        """Add the records `observe_known` took to the counts of their paths."""
        counts = self._counts
        for paths, records in self._known.items():
            for path in paths:
                counts[path] += records
        self._known.clear()

    def result(self) -> Coverage:
        self._fold()
        paths = []
        for path in sorted(self._counts):
            entry = None if path in self._read else self.ignore.match(path)
            if path in self._read:
                status = PathStatus.MAPPED
            elif entry is not None:
                status = PathStatus.IGNORED
            else:
                status = PathStatus.UNMAPPED
            paths.append(PathCoverage(path, self._counts[path], status, self._examples[path], entry))
        for path, unread in self._unread.items():
            if path in self._counts:
                continue  # a value reached the records there after all: its status stands
            entry = self.ignore.match(path)
            status = PathStatus.UNMAPPED if entry is None else PathStatus.IGNORED
            paths.append(PathCoverage(path, unread.records, status, _example(unread.example), entry))
        paths.sort(key=lambda p: p.path)
        return Coverage(self.records, tuple(paths))

    def issues(self) -> list[Issue]:
        """Feed-level notes about the coverage itself: spec mistakes and limits met."""
        notes = [
            Issue(
                Severity.WARNING,
                f"the mapping's ignore entry {entry!r} matches {path!r}, which a rule reads: "
                "remove it from `ignore` (the path is reported as mapped)",
                code="ignored-but-read",
                value=path,
            )
            for path, entry in sorted(self._conflicts.items())
        ]
        notes += [
            Issue(
                Severity.WARNING,
                f"{unread.path}: {unread.reason} ({unread.records} record(s); example: "
                f"{_example(unread.example)!r})",
                code=unread.code,
                value=unread.path,
            )
            for unread in sorted(self._unread.values(), key=lambda u: u.path)
            if unread.path not in self._counts and self.ignore.match(unread.path) is None
        ]
        notes += [
            Issue(
                Severity.INFO,
                f"what this selector reads could not be worked out, so coverage leaves it out: {problem}",
                code="coverage-limited",
            )
            for problem in self.tracker.problems
        ]
        if self._untracked:
            notes.append(
                Issue(
                    Severity.WARNING,
                    f"the feed has more than {MAX_PATHS} distinct source paths; {self._untracked} "
                    "value(s) at further paths are not in the coverage report",
                    code="coverage-limited",
                )
            )
        return notes


def _example(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def counter_for(spec: Any) -> CoverageCounter | None:
    """A coverage counter for one run of `spec` (a `MappingSpec`), or None when its selector
    language cannot tell what its selectors read."""
    build = getattr(spec.selector_language, "coverage_tracker", None)
    if build is None:
        return None
    tracker: CoverageTracker = build(spec.uses)
    return CoverageCounter(tracker, spec.ignore_rules, spec.null_values, spec.longest_null)


def static_tracker_values(row: dict[str, Any]) -> dict[str, str]:
    """CSV rows: {column: cell} of the non-blank cells."""
    found: dict[str, str] = {}
    for column, cell in row.items():
        text = cell if isinstance(cell, str) else ("" if cell is None else str(cell))
        if text and not text.isspace():
            found[column] = text
    return found


class ColumnTracker:
    """CSV coverage: a path is a column; the columns a spec reads are the ones its selectors name
    (a column selector has no predicates and no structure)."""

    problems: tuple[str, ...] = ()

    def __init__(self, uses: Iterable[SelectorUse]) -> None:
        self._read = frozenset(use.expression for use in uses)

    def values(self, doc: Any) -> tuple[dict[str, str], Any]:
        return static_tracker_values(doc), None

    def reads(self, doc: Any, state: Any) -> AbstractSet[str]:
        return self._read
