"""Seeded, reproducible synthetic course catalogues for the benchmarks: records, Courses, CSV.

The same seed and size always give the same records. Value spreads follow what real EU
catalogues look like: providers drawn Zipf-like (a few big ones, a long tail), provider
countries weighted by EU population, course languages mostly the country's own with a good
share of English, EQF 3-8 skewed to 6-7, ECTS log-normal 0.5-60, about 40% free, dates spread
two years either side of `ANCHOR`, ISCED-F detailed codes from the topic. About 1% of the
records are bad (no title, EQF 12, a negative ECTS, an impossible date): `courses()` skips
them, as the harvest would reject them; `write_csv()` writes them so the harvest sees them.

    python -m bench.generate --docs 100000 --seed 1 --csv bench/out/courses-100000.csv
    python -m bench.generate --docs 100000 --format elm-rdf --out bench/out/courses-100000.ttl
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from bench.vocab import (
    COMMON_WORDS,
    COUNTRIES,
    PROVIDER_PATTERNS,
    SYLLABLES,
    TITLE_PATTERNS,
    TOPIC_LANGUAGES,
    TOPICS,
)
from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import content_hash
from course_catalogue.catalogue.model import (
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


# -- XML and RDF feeds: the same records, streamed to disk ---------------------------------------
#
# Each writer streams: it holds at most one block of records (XCRI-CAP groups a block by provider)
# or the small provider and location tables (QDR LOQ, ELM), never the whole document. Bad records
# are spoiled in each format's own way: no title element, EQF level 12 (an `mlo:level` / an EQF
# IRI that does not exist), a credit point of "-5", an impossible start date.

FORMATS = ("csv", "xcri-cap", "qdr-loq", "elm-rdf", "elm-jsonld")
_XCRI_ATTENDANCE = {"online": "ON", "onsite": "CM", "blended": "DA", "workbased": "WB", "project": "CM"}
_XCRI_STUDY = {"full-time": "FT", "part-time": "PT", "part-time-light": "PT"}
_MODE_IRI = "http://data.europa.eu/snb/learning-assessment/"
_MODE_IRIS = {
    "online": _MODE_IRI + "920fbb3cbe",
    "onsite": _MODE_IRI + "9191af2ed9",
    "blended": _MODE_IRI + "e92d221e4d",
    "workbased": _MODE_IRI + "729f3bed4b",
    "project": _MODE_IRI + "7813801c77",
}
_SCHEDULE_IRIS = {
    "full-time": "http://data.europa.eu/snb/learning-schedule/72a0ab92fa",
    "part-time-light": "http://data.europa.eu/snb/learning-schedule/67395e6b5a",
}
_ECTS_IRI = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
_COUNTRY_IRI = "http://publications.europa.eu/resource/authority/country/"
_CURRENCY_IRI = "http://publications.europa.eu/resource/authority/currency/"
_LANGUAGE_IRI = "http://publications.europa.eu/resource/authority/language/"
_ISCED_IRI = "http://data.europa.eu/snb/isced-f/"
_EQF_IRI = "http://data.europa.eu/snb/eqf/"
_COURSE_TYPE = "http://data.europa.eu/snb/learning-opportunity/05053c1cbe"
_LANG3 = {
    "en": "ENG", "fr": "FRA", "de": "DEU", "es": "SPA", "it": "ITA", "pl": "POL", "fi": "FIN",
    "nl": "NLD", "ro": "RON", "cs": "CES", "sv": "SWE", "pt": "POR", "el": "ELL", "hu": "HUN",
    "bg": "BUL", "da": "DAN", "sk": "SLK", "hr": "HRV", "lt": "LIT", "sl": "SLV", "lv": "LAV",
    "et": "EST",
}  # fmt: skip
_BASE = "https://courses.example.eu/"
_BLOCK = 2000


def feed_records(size: int, seed: int = 1) -> Iterator[Record]:
    """The records a feed lists: all but the withdrawn ones (a tombstone is absent from its feed)."""
    return (r for r in Generator(size, seed).records() if not r.withdrawn)


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _start_text(record: Record) -> str | None:
    if "start_date" in record.extra:
        return record.extra["start_date"]
    return record.start.isoformat() if record.start else None


def _eqf_value(record: Record) -> str | None:
    if "eqf" in record.extra:
        return record.extra["eqf"]
    return None if record.eqf is None else str(record.eqf)


def _ects_value(record: Record) -> str | None:
    if "ects" in record.extra:
        return record.extra["ects"]
    return None if record.ects is None else f"{record.ects:g}"


def write_xcri(out: TextIO, size: int, seed: int = 1) -> int:
    """XCRI-CAP 1.2: catalog / provider / course / presentation; one presentation per course.

    Records are grouped by provider within blocks of `_BLOCK` records (bounded memory), so a big
    provider appears as several <provider> elements, as in a feed concatenated from exports."""
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<catalog xmlns="http://xcri.org/profiles/1.2/catalog" xmlns:mlo="http://purl.org/net/mlo"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:credit="http://purl.org/net/cm" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' generated="2026-06-01T00:00:00Z">\n'
    )
    rows = 0
    providers = {p[0]: (n, p) for n, p in enumerate(Generator(size, seed)._providers)}
    for block in _blocks(feed_records(size, seed), _BLOCK):
        grouped: dict[str, list[Record]] = {}
        for record in block:
            grouped.setdefault(record.provider, []).append(record)
        for name, records in grouped.items():
            number, (_, country, _, _) = providers[name]
            out.write(
                f" <provider>\n  <dc:identifier>{_BASE}org/{number}</dc:identifier>\n"
                f"  <dc:title>{_x(name)}</dc:title>\n  <mlo:url>{_BASE}org/{number}</mlo:url>\n"
            )
            for record in records:
                out.write(_xcri_course(record))
                rows += 1
            out.write(f"  <mlo:location><mlo:country>{country}</mlo:country></mlo:location>\n </provider>\n")
    out.write("</catalog>\n")
    return rows


def _xcri_course(r: Record) -> str:
    parts = [f"  <course>\n   <dc:identifier>{_BASE}{r.ref}</dc:identifier>\n"]
    parts += [f'   <dc:title xml:lang="{lang}">{_x(t)}</dc:title>\n' for lang, t in r.title.items()]
    parts.append(f'   <dc:description xml:lang="{r.language}">{_x(r.description)}</dc:description>\n')
    parts += [f"   <dc:subject>{_x(k)}</dc:subject>\n" for k in r.keywords]
    parts += [f'   <dc:subject identifier="{code}">ISCED-F {code}</dc:subject>\n' for code in r.isced]
    parts.append(f"   <mlo:url>{_BASE}{r.ref}</mlo:url>\n")
    parts += [f'   <mlo:objective xml:lang="{r.language}">{_x(o)}</mlo:objective>\n' for o in r.outcomes]
    eqf = _eqf_value(r)
    if eqf is not None:
        parts.append(f"   <mlo:level>EQF {eqf}</mlo:level>\n")
    ects = _ects_value(r)
    if ects is not None:
        parts.append(
            "   <mlo:credit><credit:scheme>ECTS</credit:scheme>"
            f"<credit:value>{ects}</credit:value></mlo:credit>\n"
        )
    parts.append(f"   <presentation>\n    <dc:identifier>{_BASE}{r.ref}/p1</dc:identifier>\n")
    start = _start_text(r)
    if start:
        parts.append(f'    <mlo:start dtf="{start}">{start}</mlo:start>\n')
    if r.end:
        parts.append(f'    <end dtf="{r.end.isoformat()}">{r.end.isoformat()}</end>\n')
    if r.schedule in _XCRI_STUDY:
        parts.append(f'    <studyMode identifier="{_XCRI_STUDY[r.schedule]}">{r.schedule}</studyMode>\n')
    for mode in dict.fromkeys(_XCRI_ATTENDANCE[m] for m in r.modes):
        parts.append(f'    <attendanceMode identifier="{mode}"/>\n')
    parts.append(f"    <mlo:languageOfInstruction>{r.language}</mlo:languageOfInstruction>\n")
    if r.price is not None:
        parts.append(f"    <mlo:cost>{_price_text(r)}</mlo:cost>\n")
    parts.append("   </presentation>\n  </course>\n")
    return "".join(parts)


def _blocks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while block := list(itertools.islice(records, size)):
        yield block


def write_qdr(out: TextIO, size: int, seed: int = 1, spool: Path | None = None) -> int:
    """QDR LOQ XML (Europass `<Courses>` upload): flat reference lists linked by idref.

    Opportunities are written straight to `out`; their specifications and outcomes go to spool
    files (in `spool`, default a temp dir) appended after them; organisations and locations
    (one per provider / country) come last."""
    import tempfile

    generator = Generator(size, seed)
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/"'
        ' xmlns:skos="http://www.w3.org/2004/02/skos/core#" xmlns:dc="http://purl.org/dc/terms/"'
        ' xsdVersion="3.1.0">\n <learningOpportunityReferences>\n'
    )
    providers = {p[0]: n for n, p in enumerate(generator._providers)}
    rows = 0
    with tempfile.TemporaryDirectory(dir=spool, prefix="qdr-") as directory:
        specs_path, outcomes_path = Path(directory) / "specs.xml", Path(directory) / "outcomes.xml"
        with (
            open(specs_path, "w", encoding="utf-8") as specs,
            open(outcomes_path, "w", encoding="utf-8") as los,
        ):
            for r in feed_records(size, seed):
                out.write(_qdr_opportunity(r, providers[r.provider]))
                specs.write(_qdr_spec(r))
                for n, outcome in enumerate(r.outcomes):
                    los.write(
                        f'  <learningOutcome id="{_BASE}lo/{r.ref}/{n}">\n'
                        f'   <title language="{r.language}">{_x(outcome)}</title>\n'
                        '   <type uri="http://data.europa.eu/snb/skill-type/skill"/>\n  </learningOutcome>\n'
                    )
                rows += 1
        out.write(" </learningOpportunityReferences>\n <learningAchievementSpecificationReferences>\n")
        _copy(specs_path, out)
        out.write(" </learningAchievementSpecificationReferences>\n <learningOutcomeReferences>\n")
        _copy(outcomes_path, out)
    out.write(" </learningOutcomeReferences>\n <agentReferences>\n")
    for n, (name, country, lang, _) in enumerate(generator._providers):
        out.write(
            f'  <organisation id="{_BASE}org/{n}">\n   <legalName language="{lang}">{_x(name)}</legalName>\n'
            f"   <homepage><contentUrl>{_BASE}org/{n}</contentUrl></homepage>\n"
            f'   <location idref="{_BASE}place/{country}"/>\n  </organisation>\n'
        )
    out.write(" </agentReferences>\n <locationReferences>\n")
    for country in sorted({p[1] for p in generator._providers}):
        out.write(
            f'  <location id="{_BASE}place/{country}">\n'
            f'   <address><countryCode uri="{_COUNTRY_IRI}{country}"/></address>\n  </location>\n'
        )
    out.write(" </locationReferences>\n</Courses>\n")
    return rows


def _copy(path: Path, out: TextIO) -> None:
    with open(path, encoding="utf-8") as spooled:
        while chunk := spooled.read(1 << 20):
            out.write(chunk)


def _qdr_opportunity(r: Record, provider: int) -> str:
    parts = [f'  <learningOpportunity id="{_BASE}{r.ref}">\n']
    parts += [f'   <title language="{lang}">{_x(t)}</title>\n' for lang, t in r.title.items()]
    parts.append(f'   <description language="{r.language}">{_x(r.description)}</description>\n')
    parts.append(f'   <type uri="{_COURSE_TYPE}"/>\n')
    parts.append(f"   <homepage><contentUrl>{_BASE}{r.ref}</contentUrl></homepage>\n")
    start = _start_text(r)
    if start or r.end:
        parts.append("   <temporal>\n")
        if start:
            parts.append(f"    <startDate>{start}T00:00:00</startDate>\n")
        if r.end:
            parts.append(f"    <endDate>{r.end.isoformat()}T00:00:00</endDate>\n")
        parts.append("   </temporal>\n")
    parts += [f'   <mode uri="{_MODE_IRIS[m]}"/>\n' for m in r.modes]
    if r.schedule in _SCHEDULE_IRIS:
        parts.append(f'   <learningSchedule uri="{_SCHEDULE_IRIS[r.schedule]}"/>\n')
    if r.price is not None:
        parts.append(
            f'   <priceDetail><amount><unit uri="{_CURRENCY_IRI}{r.currency}"/>'
            f"<value>{r.price:.2f}</value></amount></priceDetail>\n"
        )
    parts.append(f'   <providedBy idref="{_BASE}org/{provider}"/>\n')
    parts.append(f'   <learningAchievementSpecification idref="{_BASE}spec/{r.ref}"/>\n')
    parts.append(f'   <defaultLanguage uri="{_LANGUAGE_IRI}{_LANG3[r.language]}"/>\n')
    parts.append("  </learningOpportunity>\n")
    return "".join(parts)


def _qdr_spec(r: Record) -> str:
    parts = [f'  <learningAchievementSpecification id="{_BASE}spec/{r.ref}">\n']
    parts += [f'   <title language="{lang}">{_x(t)}</title>\n' for lang, t in r.title.items()]
    parts += [f'   <ISCEDFCode uri="{_ISCED_IRI}{code}"/>\n' for code in r.isced]
    ects = _ects_value(r)
    if ects is not None:
        parts.append(f'   <creditPoint><framework uri="{_ECTS_IRI}"/><point>{ects}</point></creditPoint>\n')
    eqf = _eqf_value(r)
    if eqf is not None:
        parts.append(f'   <educationLevel uri="{_EQF_IRI}{eqf}"/>\n')
    parts.append(f'   <language uri="{_LANGUAGE_IRI}{_LANG3[r.language]}"/>\n')
    parts += [f'   <learningOutcome idref="{_BASE}lo/{r.ref}/{n}"/>\n' for n in range(len(r.outcomes))]
    parts += [f'   <category language="{r.language}">{_x(k)}</category>\n' for k in r.keywords]
    parts.append("  </learningAchievementSpecification>\n")
    return "".join(parts)


def _lit(text: str, lang: str | None = None) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"@{lang}' if lang else f'"{escaped}"'


def write_elm(out: TextIO, size: int, seed: int = 1) -> int:
    """ELM v3 Turtle: per record an elm:LearningOpportunity, its LearningAchievementSpecification,
    outcomes, period, price and homepage nodes; organisations (with a location per country) first."""
    generator = Generator(size, seed)
    out.write(
        "@prefix elm: <http://data.europa.eu/snb/model/elm/> .\n"
        "@prefix dc: <http://purl.org/dc/terms/> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
        "@prefix rov: <http://www.w3.org/ns/regorg#> .\n"
        "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        f"@prefix c: <{_BASE}> .\n@prefix org: <{_BASE}org/> .\n@prefix place: <{_BASE}place/> .\n\n"
    )
    for country in sorted({p[1] for p in generator._providers}):
        out.write(
            f"place:{country} a dc:Location ; elm:address place:{country}-address .\n"
            f"place:{country}-address a elm:Address ; elm:countryCode <{_COUNTRY_IRI}{country}> .\n"
        )
    providers = {p[0]: n for n, p in enumerate(generator._providers)}
    for n, (name, country, lang, _) in enumerate(generator._providers):
        out.write(
            f"org:{n} a elm:Organisation ; rov:legalName {_lit(name, lang)} ;"
            f" elm:location place:{country} .\n"
        )
    rows = 0
    for r in feed_records(size, seed):
        out.write(_elm_record(r, providers[r.provider]))
        rows += 1
    return rows


def _elm_record(r: Record, provider: int) -> str:
    ref = r.ref
    titles = " , ".join(_lit(t, lang) for lang, t in r.title.items())
    lo = [f"\nc:{ref} a elm:LearningOpportunity ;\n"]
    if titles:
        lo.append(f"  dc:title {titles} ;\n")
    lo.append(f"  dc:description {_lit(r.description, r.language)} ;\n  dc:type <{_COURSE_TYPE}> ;\n")
    lo.append(f"  foaf:homepage c:{ref}-home ;\n")
    start = _start_text(r)
    if start or r.end:
        lo.append(f"  dc:temporal c:{ref}-period ;\n")
    lo += [f"  elm:mode <{_MODE_IRIS[m]}> ;\n" for m in r.modes]
    if r.schedule in _SCHEDULE_IRIS:
        lo.append(f"  elm:learningSchedule <{_SCHEDULE_IRIS[r.schedule]}> ;\n")
    if r.price is not None:
        lo.append(f"  elm:priceDetail c:{ref}-price ;\n")
    lo.append(f"  elm:providedBy org:{provider} ;\n  elm:learningAchievementSpecification c:{ref}-spec ;\n")
    lo.append(f"  elm:defaultLanguage <{_LANGUAGE_IRI}{_LANG3[r.language]}> .\n")
    lo.append(f'c:{ref}-home a elm:WebResource ; elm:contentUrl "{_BASE}{ref}"^^xsd:anyURI .\n')
    if start or r.end:
        lo.append(f"c:{ref}-period a dc:PeriodOfTime")
        if start:
            lo.append(f' ; elm:startDate "{start}T00:00:00Z"^^xsd:dateTime')
        if r.end:
            lo.append(f' ; elm:endDate "{r.end.isoformat()}T00:00:00Z"^^xsd:dateTime')
        lo.append(" .\n")
    if r.price is not None:
        lo.append(
            f"c:{ref}-price a elm:PriceDetail ; elm:amount [ a elm:Amount ; "
            f'elm:unit <{_CURRENCY_IRI}{r.currency}> ; rdf:value "{r.price:.2f}"^^xsd:decimal ] .\n'
        )
    lo.append(f"c:{ref}-spec a elm:LearningAchievementSpecification")
    if titles:
        lo.append(f" ;\n  dc:title {titles}")
    lo += [f" ;\n  elm:ISCEDFCode <{_ISCED_IRI}{code}>" for code in r.isced]
    lo.append(f" ;\n  dc:language <{_LANGUAGE_IRI}{_LANG3[r.language]}>")
    eqf = _eqf_value(r)
    if eqf is not None:
        lo.append(f" ;\n  elm:educationLevel <{_EQF_IRI}{eqf}>")
    ects = _ects_value(r)
    if ects is not None:
        lo.append(
            f' ;\n  elm:creditPoint [ a elm:CreditPoint ; elm:framework <{_ECTS_IRI}> ; elm:point "{ects}" ]'
        )
    lo += [f" ;\n  elm:category {_lit(k, r.language)}" for k in r.keywords]
    lo += [f" ;\n  elm:learningOutcome c:{ref}-lo{n}" for n in range(len(r.outcomes))]
    lo.append(" .\n")
    lo += [
        f"c:{ref}-lo{n} a elm:LearningOutcome ; dc:title {_lit(o, r.language)} .\n"
        for n, o in enumerate(r.outcomes)
    ]
    return "".join(lo)


_JSONLD_PREFIXES = {
    "elm": "http://data.europa.eu/snb/model/elm/",
    "dc": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rov": "http://www.w3.org/ns/regorg#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_JSONLD_BLOCK = 500  # Turtle statements converted per parse


class _JsonLdFromTurtle:
    """A text sink for `write_elm` that writes the same triples as JSON-LD: the prefix block it is
    given first is kept to parse the statements written after it, which are converted a block at
    a time into node objects (one per subject, in the Turtle's order; predicates as compact IRIs
    of one context, values as full IRIs, blank nodes labelled) of a top-level `@graph`."""

    def __init__(self, out: TextIO) -> None:
        self._out, self._prefixes, self._pending, self._nodes = out, "", [], 0

    def write(self, text: str) -> int:
        if not self._prefixes:
            self._prefixes = text
            context = json.dumps({"@context": _JSONLD_PREFIXES})[:-1]
            self._out.write(context + ', "@graph": [\n')
        else:
            self._pending.append(text)
            if len(self._pending) >= _JSONLD_BLOCK:
                self._convert()
        return len(text)

    def close(self) -> None:
        self._convert()
        self._out.write("\n]}\n")

    def _convert(self) -> None:
        import pyoxigraph as ox

        turtle = self._prefixes + "".join(self._pending)
        self._pending = []
        nodes: dict[str, dict[str, Any]] = {}
        for quad in ox.parse(turtle.encode("utf-8"), ox.RdfFormat.TURTLE):
            subject = _jsonld_id(quad.subject)
            node = nodes.setdefault(subject, {"@id": subject})
            predicate = quad.predicate.value
            if predicate == _RDF_TYPE:
                node.setdefault("@type", []).append(quad.object.value)
                continue
            key = next(
                (f"{prefix}:{predicate[len(iri) :]}" for prefix, iri in _JSONLD_PREFIXES.items()
                 if predicate.startswith(iri)),
                predicate,
            )  # fmt: skip
            node.setdefault(key, []).append(_jsonld_value(quad.object))
        for node in nodes.values():
            self._out.write((",\n" if self._nodes else "") + json.dumps(node, ensure_ascii=False))
            self._nodes += 1


_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _jsonld_id(term: Any) -> str:
    return term.value if term.__class__.__name__ == "NamedNode" else "_:" + term.value


def _jsonld_value(term: Any) -> Any:
    kind = term.__class__.__name__
    if kind != "Literal":
        return {"@id": _jsonld_id(term)}
    if term.language:
        return {"@value": term.value, "@language": term.language}
    if term.datatype.value != _XSD_STRING:
        return {"@value": term.value, "@type": term.datatype.value}
    return term.value


def write_elm_jsonld(out: TextIO, size: int, seed: int = 1) -> int:
    """ELM v3 JSON-LD: the triples of `write_elm`'s Turtle as one document, a context of prefixes
    and a top-level `@graph` of node objects (the shape the RDF reader streams)."""
    sink = _JsonLdFromTurtle(out)
    rows = write_elm(sink, size, seed)  # type: ignore[arg-type]
    sink.close()
    return rows


WRITERS = {
    "csv": write_csv,
    "xcri-cap": write_xcri,
    "qdr-loq": write_qdr,
    "elm-rdf": write_elm,
    "elm-jsonld": write_elm_jsonld,
}
SUFFIXES = {
    "csv": "csv",
    "xcri-cap": "xcri.xml",
    "qdr-loq": "loq.xml",
    "elm-rdf": "ttl",
    "elm-jsonld": "jsonld",
}


def write_feed(fmt: str, path: Path, size: int, seed: int = 1) -> int:
    """Write the catalogue in `fmt` to `path` (streamed); return the records written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as out:
        return WRITERS[fmt](out, size, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--csv", "--out", dest="out", type=Path, required=True, help="the feed to write")
    args = parser.parse_args(argv)
    rows = write_feed(args.format, args.out, args.docs, args.seed)
    print(f"wrote {rows} {args.format} records to {args.out}")


if __name__ == "__main__":
    main()
