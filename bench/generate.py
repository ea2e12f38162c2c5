"""Seeded, reproducible synthetic course catalogues for the benchmarks: records, Courses, CSV.

The same seed and size always give the same records. Value spreads follow what real EU
catalogues look like: providers drawn Zipf-like (a few big ones, a long tail), provider
countries weighted by EU population, course languages mostly the country's own with a good
share of English, EQF 3-8 skewed to 6-7, ECTS log-normal 0.5-60, about 40% free, dates spread
two years either side of `ANCHOR`, ISCED-F detailed codes from the topic. About 1% of the
records are bad (no title, EQF 12, a negative ECTS, an impossible date): `courses()` skips
them, as the harvest would reject them; `write_csv()` writes them so the harvest sees them.

    python -m bench.generate --docs 100000 --seed 1 --csv bench/out/courses-100000.csv
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from bench.vocab import (
    COMMON_WORDS,
    COUNTRIES,
    PROVIDER_PATTERNS,
    SYLLABLES,
    TITLE_PATTERNS,
    TOPIC_LANGUAGES,
    TOPICS,
)
from catalogue.changes import CourseStatus, StoredCourse
from catalogue.codec import content_hash
from catalogue.model import (
    Course,
    LearningOutcome,
    Organisation,
    Price,
    Provenance,
    Workload,
    course_id,
    lang_text,
)

ANCHOR = date(2026, 6, 1)
"""'Today' of the synthetic catalogue: dates spread two years either side of it. Benchmarks
pass it as `Query.today` so results do not drift with the calendar."""
SOURCE_ID = "bench"
CSV_COLUMNS = (
    "ref", "title", "title_en", "description", "outcomes", "provider", "provider_country", "language",
    "eqf", "ects", "price", "start_date", "end_date", "modes", "schedule", "isced", "keywords", "url",
)  # fmt: skip
BAD_SHARE = 0.01
_TAIL_WORDS = 4000  # pseudo-words per language: the long tail of the term dictionary
_MODES = (
    ("online",),
    ("onsite",),
    ("blended",),
    ("online", "blended"),
    ("workbased",),
    ("onsite", "project"),
)
_MODE_WEIGHTS = (44, 28, 17, 5, 4, 2)
_SCHEDULES = ("full-time", "part-time", "self-paced", "scheduled", "part-time-light", None)
_EQF = (None, 3, 4, 5, 6, 7, 8)
_EQF_WEIGHTS = (15, 4, 12, 17, 26, 19, 7)


@dataclass(frozen=True)
class Record:
    """One synthetic course as plain values; `bad` names the defect of a bad record ("" if none)."""

    ref: str
    title: dict[str, str]
    description: str
    outcomes: tuple[str, ...]
    provider: str
    provider_country: str
    language: str
    eqf: int | None
    ects: float | None
    price: float | None
    currency: str
    start: date | None
    end: date | None
    modes: tuple[str, ...]
    schedule: str | None
    isced: tuple[str, ...]
    keywords: tuple[str, ...]
    withdrawn: bool = False
    bad: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Generator:
    """Draws records from one seeded random stream; build one per catalogue."""

    def __init__(self, size: int, seed: int = 1, anchor: date = ANCHOR) -> None:
        self.size = size
        self.anchor = anchor
        self._rng = random.Random(seed)
        self._tails = {lang: _pseudo_words(random.Random(f"{seed}:{lang}"), _TAIL_WORDS) for lang in _langs()}
        self._tail_weights = list(itertools.accumulate(1.0 / (k + 1) ** 1.05 for k in range(_TAIL_WORDS)))
        self._providers = self._make_providers(max(20, size // 40))
        self._provider_weights = list(
            itertools.accumulate(1.0 / (k + 1) ** 0.9 for k in range(len(self._providers)))
        )
        self._topic_weights = list(itertools.accumulate(1.0 / (k + 1) ** 0.6 for k in range(len(TOPICS))))

    def records(self) -> Iterator[Record]:
        for number in range(self.size):
            yield self._record(number)

    # -- drawing -----------------------------------------------------------------------------

    def _make_providers(self, count: int) -> list[tuple[str, str, str, str]]:
        """(name, country, language, currency), biggest first; names unique."""
        rng = self._rng
        weights = [c[1] for c in COUNTRIES]
        providers: list[tuple[str, str, str, str]] = []
        names: set[str] = set()
        while len(providers) < count:
            code, _, lang, currency, cities = rng.choices(COUNTRIES, weights)[0]
            pattern = rng.choice(PROVIDER_PATTERNS.get(lang, PROVIDER_PATTERNS["other"]))
            name = pattern.format(c=rng.choice(cities))
            if name in names:
                name = f"{name} {rng.choice(('Campus', 'Centre', 'Lab', 'Online', 'Extension'))} {len(names)}"
            names.add(name)
            providers.append((name, code, lang, currency))
        return providers

    def _record(self, number: int) -> Record:
        rng = self._rng
        name, country, country_lang, currency = rng.choices(
            self._providers, cum_weights=self._provider_weights
        )[0]
        lang = "en" if rng.random() < 0.3 else country_lang
        topic = rng.choices(TOPICS, cum_weights=self._topic_weights)[0]
        title = {lang: self._title(lang, topic.names.get(lang))}
        if lang != "en" and rng.random() < 0.25:
            title["en"] = self._title("en", topic.names["en"])
        start, end = self._dates()
        isced = (topic.isced,) if rng.random() < 0.85 else (topic.isced, rng.choice(TOPICS).isced)
        record = Record(
            ref=f"C{number:08d}",
            title=title,
            description=self._text(lang, topic.names.get(lang), rng.randint(25, 90)),
            outcomes=tuple(self._text(lang, None, rng.randint(6, 14)) for _ in range(rng.randint(0, 4))),
            provider=name,
            provider_country=country,
            language=lang,
            eqf=rng.choices(_EQF, _EQF_WEIGHTS)[0],
            ects=self._ects(),
            price=self._price(),
            currency=currency,
            start=start,
            end=end,
            modes=rng.choices(_MODES, _MODE_WEIGHTS)[0],
            schedule=rng.choice(_SCHEDULES),
            isced=tuple(dict.fromkeys(isced)),
            keywords=tuple(rng.sample(COMMON_WORDS.get(lang, COMMON_WORDS["en"]), rng.randint(0, 3))),
            withdrawn=rng.random() < 0.02,
        )
        if rng.random() < BAD_SHARE:
            return _spoil(record, rng)
        return record

    def _title(self, lang: str, topic: str | None) -> str:
        rng = self._rng
        if topic is None:  # a language without a topic list: pseudo-words
            return " ".join(rng.choices(self._tails[lang], cum_weights=self._tail_weights, k=3)).capitalize()
        pattern = rng.choice(TITLE_PATTERNS[lang])
        return pattern.format(t=topic, T=topic[:1].upper() + topic[1:])

    def _text(self, lang: str, topic: str | None, words: int) -> str:
        rng = self._rng
        common = COMMON_WORDS.get(lang, ())
        tail = rng.choices(self._tails[lang], cum_weights=self._tail_weights, k=words)
        if common:
            for position in rng.sample(range(words), min(words // 3, len(common))):
                tail[position] = rng.choice(common)
        if topic:
            tail.insert(rng.randrange(len(tail) + 1), topic)
        sentences = [" ".join(tail[i : i + 12]) for i in range(0, len(tail), 12)]
        return ". ".join(s[:1].upper() + s[1:] for s in sentences) + "."

    def _dates(self) -> tuple[date | None, date | None]:
        rng = self._rng
        if rng.random() < 0.1:
            return None, None
        start = self.anchor + timedelta(days=rng.randint(-730, 730))
        if rng.random() < 0.2:
            return start, None
        return start, start + timedelta(days=rng.choice((7, 14, 28, 42, 70, 90, 120, 180, 365)))

    def _ects(self) -> float | None:
        rng = self._rng
        if rng.random() < 0.12:
            return None
        value = min(60.0, max(0.5, rng.lognormvariate(1.4, 1.0)))
        return round(value * 2) / 2

    def _price(self) -> float | None:
        rng = self._rng
        roll = rng.random()
        if roll < 0.1:
            return None
        if roll < 0.5:
            return 0.0
        return float(round(min(20000.0, rng.lognormvariate(5.6, 1.1))))


def _langs() -> list[str]:
    return sorted({*TOPIC_LANGUAGES, *(c[2] for c in COUNTRIES)})


def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < count:
        words["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


def _spoil(record: Record, rng: random.Random) -> Record:
    kind = rng.choice(("no-title", "eqf", "ects", "date"))
    if kind == "no-title":
        return _replace(record, title={}, bad=kind)
    if kind == "eqf":
        return _replace(record, extra={"eqf": "12"}, bad=kind)
    if kind == "ects":
        return _replace(record, extra={"ects": "-5"}, bad=kind)
    return _replace(record, extra={"start_date": "2025-02-31"}, bad=kind)


def _replace(record: Record, **changes: object) -> Record:
    return replace(record, **changes)  # type: ignore[arg-type]


# -- emitters --------------------------------------------------------------------------------------


def to_course(record: Record, source_id: str = SOURCE_ID) -> Course:
    """The Course the harvest would store for a good record (bad ones are never stored)."""
    price = None
    if record.price is not None:
        price = Price(Decimal(0)) if record.price == 0 else Price(Decimal(str(record.price)), record.currency)
    return Course(
        id=course_id(source_id, record.ref),
        title=lang_text(record.title),
        provider=Organisation(lang_text(record.provider, record.language), record.provider_country),
        provenance=Provenance(source_id, record.ref, pointer=f"line {int(record.ref[1:]) + 2}"),
        description=lang_text(record.description, record.language),
        learning_outcomes=tuple(LearningOutcome(lang_text(o, record.language)) for o in record.outcomes),
        workload=Workload(
            ects=None if record.ects is None else Decimal(str(record.ects)), ects_basis="stated"
        ),
        eqf_level=record.eqf,
        modes=record.modes,
        schedule=record.schedule,
        languages=(record.language,),
        isced_f=record.isced,
        start_date=record.start,
        end_date=record.end,
        price=price,
        url=f"https://courses.example.eu/{record.ref}",
        keywords=record.keywords,
    )


def courses(size: int, seed: int = 1, source_id: str = SOURCE_ID) -> Iterator[Course]:
    """The good records of a catalogue as Courses."""
    for record in Generator(size, seed).records():
        if not record.bad:
            yield to_course(record, source_id)


def stored_courses(size: int, seed: int = 1, *, hashed: bool = True) -> Iterator[StoredCourse]:
    """The good records as the store would hand them out (2% withdrawn tombstones).

    `hashed=False` puts the record's ref where the content hash goes: building a search index
    never reads the hash, and hashing a million records costs a minute.
    """
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for seq, record in enumerate(Generator(size, seed).records(), start=1):
        if record.bad:
            continue
        course = to_course(record)
        status = CourseStatus.WITHDRAWN if record.withdrawn else CourseStatus.ACTIVE
        digest = content_hash(course) if hashed else record.ref
        yield StoredCourse(
            course, status, digest, seq, when, when, withdrawn_at=when if record.withdrawn else None
        )


def csv_row(record: Record) -> dict[str, str]:
    """The CSV row of a record (bench/specs/bench-csv.toml maps it back)."""
    native = next((t for lang, t in record.title.items() if lang == record.language), "")
    row = {
        "ref": record.ref,
        "title": native,
        "title_en": record.title.get("en", "") if record.language != "en" else "",
        "description": record.description,
        "outcomes": " | ".join(record.outcomes),
        "provider": record.provider,
        "provider_country": record.provider_country,
        "language": record.language,
        "eqf": "" if record.eqf is None else str(record.eqf),
        "ects": "" if record.ects is None else f"{record.ects:g}",
        "price": _price_text(record),
        "start_date": record.start.isoformat() if record.start else "",
        "end_date": record.end.isoformat() if record.end else "",
        "modes": "|".join(record.modes),
        "schedule": record.schedule or "",
        "isced": "|".join(record.isced),
        "keywords": "|".join(record.keywords),
        "url": f"https://courses.example.eu/{record.ref}",
    }
    row.update(record.extra)
    return row


def _price_text(record: Record) -> str:
    if record.price is None:
        return ""
    return "free" if record.price == 0 else f"{record.price:.2f} {record.currency}"


def write_csv(out: TextIO, size: int, seed: int = 1) -> int:
    """Write a catalogue as CSV (header + one row per record, bad ones included); return rows."""
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = 0
    for record in Generator(size, seed).records():
        if not record.withdrawn:  # a tombstone is absent from its feed
            writer.writerow(csv_row(record))
            rows += 1
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", type=Path, required=True, help="where to write the CSV")
    args = parser.parse_args(argv)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", encoding="utf-8", newline="") as out:
        rows = write_csv(out, args.docs, args.seed)
    print(f"wrote {rows} rows to {args.csv}")


if __name__ == "__main__":
    main()
