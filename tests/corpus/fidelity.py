"""The real-feed conformance corpus: field accuracy of our harvest on real, unedited public feeds.

`tests/fixtures/corpus/corpus.toml` lists the feeds (file, standard, spec, provenance, floor) and,
per feed, an expectation file written by hand from the feed itself: for each checked record, every
field the source states, with the value a careful reader takes from it, normalised to our model
(`catalogue.model`). This module harvests each feed with its spec through the real pipeline
(`services.pipeline.run_harvest`) into a throwaway SQLite store, reads the stored courses and the
run's issues back, and compares them field by field.

Accuracy of a feed = right fields / stated fields. A record the pipeline rejected (or never
produced) fails all its fields. `tests/corpus/test_corpus.py` asserts each feed's accuracy is at
least the floor in the manifest; `python -m tests.corpus.fidelity --write` (`make fidelity`) prints
the table and rewrites FIDELITY.md, with what still fails grouped by cause.

Expectation files (TOML), one `[[record]]` per checked record:

* `ref`: the record's id as the spec's `[id]` rule gives it (the provider_ref);
* one key per stated field, named as the spec targets are (`title`, `"provider.name"`,
  `"workload.ects"`, `locations`, ...); see `compare_field` for what each value form checks;
* `causes`: optional, field -> "kind: why" for a failure already diagnosed in this record; a feed
  wide `[causes]` table does the same for every record (kinds: reader, spec, transform, model).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import isodate

from course_catalogue.catalogue.model import Course, LangText, Location
from course_catalogue.catalogue.runs import Issue, RunReport, RunStatus, Severity
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.mappings.spec import load_spec
from course_catalogue.services.pipeline import HarvestSettings, run_harvest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
MANIFEST = CORPUS / "corpus.toml"
FIDELITY = ROOT / "FIDELITY.md"
TARGET = 95.0
"""The goal for every feed, in percent of stated fields right (issue 16)."""

CAUSE_KINDS = {
    "reader": "reader gap",
    "spec": "spec gap",
    "transform": "transform / vocabulary gap",
    "model": "model gap",
}
UNDIAGNOSED = "not yet diagnosed"

# Settings for measuring, not for production: keep every issue (the per-record warnings are part of
# what is checked) and never hold withdrawals (each feed is harvested once into an empty store).
SETTINGS = HarvestSettings(max_issues=10_000_000, max_withdraw_share=None)


# -- the manifest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """One corpus feed as corpus.toml describes it."""

    name: str
    standard: str
    path: Path
    spec: str
    expectations: Path
    floor: float
    records: str
    what: str
    repo: str
    repo_path: str
    commit: str
    licence: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def relpath(self) -> str:
        return str(self.path.relative_to(ROOT))


def load_manifest(path: Path = MANIFEST) -> list[Feed]:
    """The feeds of the corpus manifest, in manifest order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    feeds = []
    for entry in data["feed"]:
        feeds.append(
            Feed(
                name=entry["name"],
                standard=entry["standard"],
                path=ROOT / entry["path"],
                spec=entry["spec"],
                expectations=ROOT / entry["expectations"],
                floor=float(entry["floor"]),
                records=str(entry["records"]),
                what=entry["what"],
                repo=entry["repo"],
                repo_path=entry["repo_path"],
                commit=entry["commit"],
                licence=entry["licence"],
                settings=entry.get("settings", {}),
                note=entry.get("note", ""),
            )
        )
    return feeds


# -- harvesting ---------------------------------------------------------------------------------


@dataclass
class Harvest:
    """What the pipeline made of one feed: stored courses and issues, by provider ref."""

    report: RunReport
    courses: dict[str, Course]
    issues: dict[str | None, list[Issue]]


def harvest(feed: Feed, store: CatalogueStore) -> Harvest:
    """Harvest `feed` with its spec into `store`, as `catalogue harvest --file` does."""
    spec = load_spec(feed.spec)
    source = Source(
        id=feed.name, format=spec.format, name=feed.name, mapping=feed.spec, settings=dict(feed.settings)
    )
    store.save_source(source)
    try:
        report = run_harvest(store, source, data=feed.path.read_bytes(), settings=SETTINGS)
    except Exception as exc:  # the pipeline recorded the run FAILED; measure the feed as lost
        error = f"the harvest crashed: {type(exc).__name__}: {exc}"
        return Harvest(RunReport(source.id, status=RunStatus.FAILED, error=error), {}, {})
    courses = {
        stored.course.provenance.provider_ref: stored.course
        for stored in store.iter_courses(source_id=source.id)
    }
    issues: dict[str | None, list[Issue]] = defaultdict(list)
    for issue in report.issues:
        issues[issue.record_ref].append(issue)
    return Harvest(report, courses, issues)


# -- comparing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One stated field of one record: what the source says, what we produced, right or not."""

    ref: str
    field: str
    expected: str
    produced: str
    ok: bool
    cause: str | None = None  # "kind: why" from the expectation file, for a failing check
    lost: bool = False  # the whole record was not stored (rejected, or the feed failed)

    @property
    def cause_kind(self) -> str:
        if not self.cause:
            return UNDIAGNOSED
        kind = self.cause.split(":", 1)[0].strip()
        return CAUSE_KINDS.get(kind, UNDIAGNOSED)

    @property
    def cause_text(self) -> str:
        if not self.cause:
            return ""
        return self.cause.split(":", 1)[1].strip() if ":" in self.cause else self.cause


def norm(text: str) -> str:
    """Text as compared: NFC, whitespace runs folded to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _texts(value: LangText) -> list[str]:
    return [norm(text) for text in value.values()]


def _show(value: Any) -> str:
    if value is None or value == () or value == {}:
        return "(nothing)"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_clip(str(v))}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_clip(str(v)) for v in value) + "]"
    return _clip(str(value))


def _clip(text: str, width: int = 90) -> str:
    text = norm(text)
    return text if len(text) <= width else text[: width - 1] + "…"


# Issues that report on a pair of fields though filed under one: contradicting dates are both left
# out (mappings.engine: "the end date ... is before the start date ...: both dates were left out").
PAIRED_FIELDS = {"invalid-dates": ("start_date", "end_date")}


def _warned(issues: Sequence[Issue], name: str) -> bool:
    """A WARNING (or worse) about a value the feed published for field `name` (or one of its
    parts) is in the record's issues. Validation's "this element is missing" warnings carry no
    published value and do not count: they do not say that what the feed stated was unreadable."""
    return any(
        issue.severity in (Severity.WARNING, Severity.ERROR)
        and issue.value is not None
        and issue.field is not None
        and (
            issue.field == name
            or issue.field.startswith(name + ".")
            or name.startswith(issue.field + ".")
            or name in PAIRED_FIELDS.get(issue.code or "", ())
        )
        for issue in issues
    )


def _produced(course: Course, name: str) -> Any:
    """The value of target `name` (a spec target path) in `course`."""
    if name.startswith("provider."):
        return getattr(course.provider, name.split(".", 1)[1])
    if name.startswith("workload."):
        return getattr(course.workload, name.split(".", 1)[1])
    if name == "awarding_bodies":
        return tuple(norm(next(iter(body.name.values()), "")) for body in course.awarding_bodies)
    return getattr(course, name)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _close(produced: Decimal | None, expected: Decimal | None) -> bool:
    """Equal to the hundredth: the model keeps workload to two decimals (34 minutes is 0.57 h)."""
    return produced is not None and expected is not None and abs(produced - expected) <= Decimal("0.005")


def _same_duration(expected: str, produced: str | None) -> bool:
    if produced is None:
        return False
    if expected == produced:
        return True
    try:
        return bool(isodate.parse_duration(expected) == isodate.parse_duration(produced))
    except (isodate.ISO8601Error, ValueError):
        return False


def _same_url(expected: str, produced: str) -> bool:
    """Equal but for a final "/"; an expected URL written without a scheme (the source gave none)
    matches either scheme."""
    want, got = expected.rstrip("/"), produced.rstrip("/")
    if "://" not in want:
        got = got.split("://", 1)[-1]
    return want == got


def _near_miss(expected: Any, value: LangText) -> Any:
    """For a failed `contains` check: the produced text around where the expected words should be,
    so the report shows e.g. "counselling.This is" rather than the text's first words."""
    checks = expected if isinstance(expected, list) else [expected]
    for check in checks:
        if not isinstance(check, Mapping):
            continue
        for part in check.get("contains", []):
            words = norm(part).split()
            for text in _texts(value):
                if norm(part) in text or not words:
                    continue
                # where the longest found beginning of the expected words is (the rest is what differs)
                at = next(
                    (i for n in range(len(words) - 1, 0, -1) if (i := text.find(" ".join(words[:n]))) >= 0),
                    -1,
                )
                if at >= 0:
                    return "…" + text[max(0, at - 40) : at + len(part) + 20] + "…"
    return value


def _text_ok(expected: Any, value: LangText) -> bool:
    """Text checks: a string (some language's text equals it), a {lang: text} table (each language
    equals), {starts_with, contains, lang} (prefix / substrings of one language's text), or a list
    of such checks (all must hold)."""
    if isinstance(expected, list):
        return bool(expected) and all(_text_ok(one, value) for one in expected)
    if isinstance(expected, str):
        return norm(expected) in _texts(value)
    if not isinstance(expected, Mapping):
        raise ValueError(f"a text expectation is a string or a table, not {expected!r}")
    if not ({"starts_with", "contains", "lang"} & expected.keys()):
        return all(norm(value.get(lang, "")) == norm(text) for lang, text in expected.items())
    lang = expected.get("lang")
    candidates = [norm(value.get(lang, ""))] if lang else _texts(value)
    prefix = norm(expected.get("starts_with", ""))
    parts = [norm(part) for part in expected.get("contains", [])]
    return any(text and text.startswith(prefix) and all(p in text for p in parts) for text in candidates)


TEXT_FIELDS = {
    "title",
    "description",
    "provider.name",
    "assessment",
    "quality_assurance",
    "prerequisites",
    "grade",
    "stackability",
    "further_information",
}
SET_FIELDS = {"modes", "languages", "isced_f", "assessment_types"}
DATE_FIELDS = {"start_date", "end_date"}
NUMBER_FIELDS = {"workload.ects", "workload.hours", "eqf_level"}
URL_FIELDS = {"url", "provider.homepage"}
LOCATION_KEYS = ("country", "region", "city", "postcode", "address", "latitude", "longitude")


def compare_field(name: str, expected: Any, course: Course, issues: Sequence[Issue]) -> tuple[bool, Any]:
    """Whether `course` has field `name` as `expected` says; returns (ok, produced value).

    Value forms: `"ambiguous"` (any single-valued field): the field is empty and the run report
    warns about it; `"none"`: the field is empty (the source states something that is not such a
    value, e.g. a difficulty label where an EQF level would be). Otherwise per field kind: text
    (see `_text_ok`), a list for code lists (same set), `keywords` (each expected keyword present,
    case-insensitively), `learning_outcomes` (a count, or a list of text beginnings), `price`
    ({amount, currency, note}: the amount equal, currency and note when given), numbers (equal as
    decimals), dates, ISO 8601 durations (equal, or equivalent), URLs (equal but for a final "/"),
    other strings (equal). `locations` are compared by `compare_locations`.
    """
    produced = _produced(course, name)
    if expected == "ambiguous":
        return (produced in (None, (), {}) or not produced) and _warned(issues, name), produced
    if expected == "none":
        return (produced in (None, (), {}) or not produced), produced
    if name in TEXT_FIELDS:
        ok = _text_ok(expected, produced)
        return ok, produced if ok else _near_miss(expected, produced)
    if name == "awarding_bodies":
        return {norm(n) for n in expected} == set(produced), produced
    if name in SET_FIELDS:
        return set(expected) == set(produced), produced
    if name == "keywords":
        have = {norm(k).casefold() for k in produced}
        return all(norm(k).casefold() in have for k in expected), produced
    if name == "learning_outcomes":
        texts = [_texts(outcome.text) for outcome in produced]
        if isinstance(expected, int):
            return len(produced) == expected, len(produced)
        found = all(any(t.startswith(norm(p)) for ts in texts for t in ts) for p in expected)
        return found and len(produced) == len(expected), [ts[0] if ts else "" for ts in texts]
    if name == "price":
        price = produced
        if price is None:
            return False, None
        ok = price.amount == Decimal(str(expected["amount"]))
        if "currency" in expected:
            ok = ok and price.currency == expected["currency"]
        if "note" in expected:
            ok = ok and norm(expected["note"]).casefold() in norm(price.note or "").casefold()
        return ok, f"{price.amount} {price.currency or ''} {price.note or ''}".strip()
    if name in NUMBER_FIELDS:
        return produced is not None and _close(_decimal(produced), _decimal(expected)), produced
    if name in DATE_FIELDS:
        want = expected if isinstance(expected, date) else date.fromisoformat(str(expected))
        return produced == want, produced
    if name == "duration":
        return _same_duration(str(expected), produced), produced
    if name in URL_FIELDS:
        return produced is not None and _same_url(str(expected), str(produced)), produced
    return produced == expected, produced


def _location_value_ok(key: str, expected: Any, location: Location) -> bool:
    value = getattr(location, key)
    if value is None:
        return False
    if key in ("latitude", "longitude"):
        return math.isclose(float(value), float(expected), abs_tol=1e-6)
    if key == "address":
        # The model has no field for a venue's name, so a spec may put it before the street
        # address ("Kirkcaldy (St Brycedale Campus), St Brycedale Avenue"): the stated address
        # must be there, whole and in order.
        return norm(str(expected)).casefold() in norm(str(value)).casefold()
    return norm(str(value)).casefold() == norm(str(expected)).casefold()


def _cause(name: str, causes: Sequence[Mapping[str, str]]) -> str | None:
    """The diagnosis for a failing field: the record's own `causes` first, then the feed's; in each,
    the field ("locations.city") before its group ("locations")."""
    group = name.split(".", 1)[0]
    for table in causes:
        for key in (name, group):
            if key in table:
                return table[key]
    return None


def compare_locations(
    ref: str,
    expected: Sequence[Mapping[str, Any]],
    produced: Sequence[Location],
    causes: Sequence[Mapping[str, str]],
) -> list[Check]:
    """One check per stated key of each expected location, against the produced location that
    matches it best (most equal keys; each produced location used once)."""
    checks = []
    free = list(produced)
    for want in expected:
        best = max(
            free, key=lambda loc: sum(_location_value_ok(k, v, loc) for k, v in want.items()), default=None
        )
        if best is not None:
            free.remove(best)
        for key, value in want.items():
            if key not in LOCATION_KEYS:
                raise ValueError(f"{ref}: unknown location key {key!r}")
            ok = best is not None and _location_value_ok(key, value, best)
            got = getattr(best, key) if best is not None else None
            name = f"locations.{key}"
            checks.append(
                Check(ref, name, _show(value), _show(got), ok, None if ok else _cause(name, causes))
            )
    return checks


def compare_record(
    expectation: Mapping[str, Any], harvest: Harvest, feed_causes: Mapping[str, str]
) -> list[Check]:
    """Every stated field of one expected record, checked against what the harvest stored."""
    ref = str(expectation["ref"])
    causes = (expectation.get("causes", {}), feed_causes)
    wanted = {k: v for k, v in expectation.items() if k not in ("ref", "causes")}
    course = harvest.courses.get(ref)
    issues = harvest.issues.get(ref, [])
    if course is None:
        errors = sorted({i.code for i in issues if i.severity is Severity.ERROR})
        if harvest.report.status == RunStatus.FAILED:
            why = f"feed failed: {_clip(harvest.report.error or '', 120)}"
        else:
            why = f"record not stored ({', '.join(errors) if errors else 'no record with this id'})"
        cause = _cause("record", causes) or f"{UNDIAGNOSED}: {why}"
        checks = []
        for name, value in wanted.items():
            if name == "locations" and value != "none":
                checks += [
                    Check(ref, f"locations.{k}", _show(v), why, False, cause, lost=True)
                    for loc in value
                    for k, v in loc.items()
                ]
            else:
                checks.append(Check(ref, name, _show(value), why, False, cause, lost=True))
        return checks
    checks = []
    for name, value in wanted.items():
        if name == "locations" and value == "none":  # the source states there is no place of study
            ok = not course.locations
            got = _show([loc.city or loc.address for loc in course.locations])
            checks.append(
                Check(ref, "locations", "no place of study", got, ok, None if ok else _cause(name, causes))
            )
            continue
        if name == "locations":
            checks += compare_locations(ref, value, course.locations, causes)
            continue
        ok, produced = compare_field(name, value, course, issues)
        checks.append(
            Check(ref, name, _show(value), _show(produced), ok, None if ok else _cause(name, causes))
        )
    return checks


# -- results ------------------------------------------------------------------------------------


@dataclass
class FeedResult:
    feed: Feed
    checks: list[Check]
    records_checked: int
    status: str
    error: str | None = None

    @property
    def right(self) -> int:
        return sum(check.ok for check in self.checks)

    @property
    def accuracy(self) -> float:
        """Percent of stated fields right (0 when nothing could be checked)."""
        return 100.0 * self.right / len(self.checks) if self.checks else 0.0

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


def evaluate_feed(feed: Feed, store: CatalogueStore) -> FeedResult:
    """Harvest one feed and check it against its expectation file."""
    data = tomllib.loads(feed.expectations.read_text(encoding="utf-8"))
    records = data.get("record", [])
    feed_causes = data.get("causes", {})
    result = harvest(feed, store)
    checks = [check for record in records for check in compare_record(record, result, feed_causes)]
    return FeedResult(feed, checks, len(records), str(result.report.status), result.report.error)


def evaluate(feeds: Iterable[Feed]) -> list[FeedResult]:
    """Every feed harvested into one throwaway SQLite store (a source each) and checked."""
    with tempfile.TemporaryDirectory(prefix="corpus-") as folder:
        store = CatalogueStore(f"sqlite:///{Path(folder) / 'corpus.db'}")
        try:
            store.migrate()
            return [evaluate_feed(feed, store) for feed in feeds]
        finally:
            store.close()


def floor_of(accuracy: float) -> float:
    """The floor to record for a measured accuracy: rounded down to 0.1 percent."""
    return math.floor(accuracy * 10) / 10


# -- FIDELITY.md ----------------------------------------------------------------------------------


def table(results: Sequence[FeedResult]) -> list[str]:
    rows = [
        "| feed | standard | spec | records checked | fields checked | right | accuracy | floor | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        mark = "ok" if r.accuracy >= TARGET else "**below 95%**"
        rows.append(
            f"| `{r.feed.name}` | {r.feed.standard} | `{r.feed.spec}` | {r.records_checked} | "
            f"{len(r.checks)} | {r.right} | {r.accuracy:.1f}% | {r.feed.floor:.1f}% | {mark} |"
        )
    total = sum(len(r.checks) for r in results)
    right = sum(r.right for r in results)
    if total:
        rows.append(
            f"| **all** | | | {sum(r.records_checked for r in results)} | {total} | {right} | "
            f"{100.0 * right / total:.1f}% | | |"
        )
    return rows


def failure_section(result: FeedResult) -> list[str]:
    """What fails in one feed, grouped by cause kind, then by field and diagnosis."""
    lines = [f"### `{result.feed.name}` ({result.accuracy:.1f}%)", ""]
    if result.status != str(RunStatus.SUCCEEDED):
        lines += [f"Run status: {result.status}. {result.error or ''}".rstrip(), ""]
    by_kind: dict[str, dict[tuple[str, str], list[Check]]] = defaultdict(lambda: defaultdict(list))
    for check in result.failures:
        # a lost record is one failure of every field it states: one entry, not one per field
        name = "(whole record: every stated field)" if check.lost else check.field
        by_kind[check.cause_kind][(name, check.cause_text)].append(check)
    order = [*CAUSE_KINDS.values(), UNDIAGNOSED]
    for kind in order:
        groups = by_kind.get(kind)
        if not groups:
            continue
        count = sum(len(checks) for checks in groups.values())
        lines.append(f"**{kind}** ({count} field{'s' if count != 1 else ''})")
        lines.append("")
        for (name, why), checks in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
            if checks[0].lost:
                refs = sorted({check.ref for check in checks})
                lines.append(
                    f"- {name}: {len(checks)} fields of {len(refs)} record(s)" + (f": {why}" if why else "")
                )
                lines.append(f"  - {checks[0].produced}; records: " + ", ".join(f"`{r}`" for r in refs[:5]))
                if len(refs) > 5:
                    lines[-1] += f" and {len(refs) - 5} more"
                continue
            head = f"- `{name}` x{len(checks)}" + (f": {why}" if why else "")
            lines.append(head)
            for check in checks[:3]:
                lines.append(f"  - `{check.ref}`: expected {check.expected}; produced {check.produced}")
            if len(checks) > 3:
                lines.append(f"  - ... and {len(checks) - 3} more")
        lines.append("")
    return lines


def render(results: Sequence[FeedResult]) -> str:
    """FIDELITY.md: the accuracy table, the corpus list with provenance, and every failure by cause."""
    lines = [
        "# Fidelity on real feeds",
        "",
        "Field accuracy of the harvest on real, unedited public feeds that nobody tuned the mappings",
        "for: for each feed, a hand-checked expectation file lists every field the source states for",
        "up to a few dozen records (all records where there are fewer), with the value a careful reader",
        "takes from the source, normalised to our model. The feed is harvested with its spec through the",
        "real pipeline into a throwaway store and every stated field is compared. Accuracy = right",
        f"fields / stated fields; the target is {TARGET:.0f}% on every feed.",
        "",
        "Regenerate (also prints the table): `make fidelity`",
        "(= `.venv/bin/python -m tests.corpus.fidelity --write`). The test that fails when a feed drops",
        "below its floor: `.venv/bin/python -m pytest tests/corpus -q -p no:cacheprovider`.",
        "Feeds, provenance and floors: `tests/fixtures/corpus/corpus.toml`; expectations: the",
        "`*.expected.toml` file next to each feed (how each was made and its judgement calls are in its",
        "header). Raise a floor when a fix lands; the test never lets a feed fall back.",
        "",
        "## Accuracy per feed",
        "",
        *table(results),
        "",
        "## The corpus",
        "",
        "| feed | file | records in feed | what it is | origin | licence |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r.feed
        lines.append(
            f"| `{f.name}` | `{f.relpath}` | {f.records} | {f.what} | {f.repo} `{f.repo_path}` @ "
            f"`{f.commit[:12]}` | {f.licence} |"
        )
    lines += ["", "## What still fails, by cause", ""]
    lines += [
        "Causes: **reader gap** (the harvester does not deliver the value), **spec gap** (the shipped",
        "spec does not select or route it), **transform / vocabulary gap** (a normaliser or table does",
        "not understand the published value), **model gap** (our model has no place for it). The",
        "diagnosis of each failure is written in the feed's expectation file (`causes`).",
        "",
    ]
    for r in results:
        if r.failures:
            lines += failure_section(r)
    totals: Counter[str] = Counter(check.cause_kind for r in results for check in r.failures)
    if totals:
        lines += ["## Failures per cause, all feeds", ""]
        lines += [f"- {kind}: {count}" for kind, count in totals.most_common()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def ratchet(results: Sequence[FeedResult], path: Path = MANIFEST) -> list[str]:
    """Raise each feed's floor in the manifest to its measured accuracy (rounded down); never lower
    one. Returns what changed."""
    new = {r.feed.name: max(r.feed.floor, floor_of(r.accuracy)) for r in results}
    lines, changed, name = [], [], None
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        key = line.split("=", 1)[0].strip()
        if key == "name":
            name = tomllib.loads(line)["name"]
        elif key == "floor" and name in new:
            old = float(tomllib.loads(line)["floor"])
            if new[name] != old:
                changed.append(f"{name}: {old:.1f}% -> {new[name]:.1f}%")
                line = f"floor = {new[name]:.1f}\n"
        lines.append(line)
    path.write_text("".join(lines), encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite FIDELITY.md")
    parser.add_argument("--feed", action="append", help="only these feeds (by name)")
    parser.add_argument("--failures", action="store_true", help="print every failing check")
    parser.add_argument(
        "--ratchet", action="store_true", help="raise the manifest's floors to the measured accuracies"
    )
    args = parser.parse_args(argv)
    feeds = [f for f in load_manifest() if not args.feed or f.name in args.feed]
    results = evaluate(feeds)
    print("\n".join(table(results)))
    for r in results:
        if r.accuracy < r.feed.floor:
            print(f"{r.feed.name}: {r.accuracy:.1f}% is below its floor {r.feed.floor:.1f}%", file=sys.stderr)
        if args.failures:
            for check in r.failures:
                print(
                    f"  {r.feed.name} {check.ref} {check.field}: expected {check.expected}; "
                    f"produced {check.produced} [{check.cause or UNDIAGNOSED}]"
                )
    if args.ratchet:
        for change in ratchet(results):
            print(f"floor raised: {change}")
        floors = {feed.name: feed.floor for feed in load_manifest()}
        for result in results:
            result.feed = replace(result.feed, floor=floors[result.feed.name])
    if args.write:
        if args.feed:
            parser.error("--write needs the whole corpus (no --feed)")
        FIDELITY.write_text(render(results), encoding="utf-8")
        print(f"wrote {FIDELITY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
