"""Linking a course to ESCO skills: stated links kept as stated, others inferred from its text.

A learning outcome that carries an ESCO URI (`LearningOutcome.esco_uri`, from ELM `relatedESCOSkill`,
CTDL or any mapping that fills it) is the provider's statement: it is kept as it is, confidence 1,
whether or not the installed taxonomy knows the URI.

Everything else is inferred, by label matching: the course's title, keywords, learning outcomes and
description are cut into sentences, folded (lowercase, accents off, a light English plural fold),
and every run of words that is a skill label (preferred or alternative, up to `MAX_LABEL_WORDS`
words, longest match first so "project management" wins over "management") is a candidate. Each
inferred link carries the method (`label`), the sentence it was found in, and a confidence from
what is known to predict a right link (`confidence`): a longer label, a preferred label, a match in
the title, keywords or outcomes, more than one supporting sentence, and a label no other skill
shares. The scale was calibrated by hand-checking links (bench/skills_judgements.tsv, SKILLS.md):
only links at or above `PUBLISH_THRESHOLD` are published (search documents, API, UI, facets).

ESCO labels are English, so inference finds skills in English text (and in other languages only
where a label is the same word, e.g. "marketing"). Stated links work in every language.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from course_catalogue.skills import semantic as by_meaning
from course_catalogue.skills.taxonomy import Taxonomy

LINKER_VERSION = 1
"""Bump when a change of this module or of `skills.semantic` (other than the thresholds and
MAX_LINKS, which `linker_key` names itself) changes the links made for the same text: links kept
from an older linker (`linker_key`, the catalogue's `skill_links` table) are then computed again
on the next index update or reindex."""
MAX_LABEL_WORDS = 6
MAX_LINKS = 12
"""Links a course publishes at most (the most confident): a card shows a few, a facet counts them."""
SENTENCE_CHARS = 240
PUBLISH_THRESHOLD = 0.55
"""Inferred links below this confidence are not published; chosen from the hand-checked precision
per confidence band (SKILLS.md: recompute with `python -m bench.skills precision`)."""

STATED = "stated"
LABEL = "label"
EMBEDDING = "embedding"  # skills.semantic: a sentence in another language near an English label
SOURCES = ("title", "keywords", "outcomes", "description")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+[-\u2022\u2013*]\s+")
_PHRASE_BREAK = re.compile(r"[,;:/|()\[\]{}]+")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "use",
        "using",
        "apply",
        "manage",
        "perform",
        "work",
    }
)
"""Words that alone (or all together) never make a label worth matching: a one-word label "use" or
"manage" says nothing of what a course teaches."""


@dataclass(frozen=True)
class SkillLink:
    """A (course, skill) link. `stated`: the provider's own (method "stated", confidence 1);
    otherwise inferred by `method` with `confidence` in 0..1 from `sentence` (found in `source`:
    title, keywords, outcomes or description)."""

    uri: str
    label: str
    stated: bool
    method: str
    confidence: float
    sentence: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        # Its fields are strings, a bool and a float: a copy of the instance's dict is what
        # `dataclasses.asdict` gives, without its deep copy of every value.
        return dict(vars(self))


def fold_words(text: str) -> list[str]:
    """The words of `text` as labels are matched: lowercased, accents off, English plurals folded."""
    plain = text.casefold()
    if not plain.isascii():  # most course text is ASCII: decomposing it would only cost time
        plain = unicodedata.normalize("NFKD", plain).translate(_NO_MARKS)
    return [_singular(word) for word in _WORD.findall(plain)]


class _NoMarks(dict[int, "int | None"]):
    """A `str.translate` table that drops combining marks (`unicodedata.combining`) and keeps
    every other character, each looked up once and then remembered: the translation runs in C,
    where a test per character in Python cost a third of linking a non-English course."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_NO_MARKS = _NoMarks()


@lru_cache(maxsize=65536)
def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ics")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class _Entry:
    uri: str
    preferred: bool
    shared: bool  # the same folded label names more than one skill


class LabelIndex:
    """Folded label word tuples -> the skills they name, built once per taxonomy."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        entries: dict[tuple[str, ...], dict[str, bool]] = {}
        for label, skill in taxonomy.labels():
            preferred = label == skill.label
            for variant in {label, _PARENTHESIS.sub("", label)}:
                words = tuple(fold_words(variant))
                if not _worth_matching(words):
                    continue
                named = entries.setdefault(words, {})
                named[skill.uri] = named.get(skill.uri, False) or preferred
        self._entries: dict[tuple[str, ...], tuple[_Entry, ...]] = {
            words: tuple(_Entry(uri, preferred, len(named) > 1) for uri, preferred in named.items())
            for words, named in entries.items()
        }
        longest: dict[str, int] = {}
        for words in self._entries:
            longest[words[0]] = max(longest.get(words[0], 0), len(words))
        self._longest = longest
        """First word of a label -> the most words a label starting with it has: most words of a
        text start no label, and are passed over with one lookup."""

    def matches(self, words: Sequence[str]) -> Iterator[tuple[int, int, tuple[_Entry, ...]]]:
        """(start, end, entries) of the longest label at each position, left to right, not overlapping."""
        i = 0
        while i < len(words):
            longest = self._longest.get(words[i])
            if longest is None:  # most words start no label
                i += 1
                continue
            for n in range(min(longest, len(words) - i), 0, -1):
                found = self._entries.get(tuple(words[i : i + n]))
                if found:
                    yield i, i + n, found
                    i += n
                    break
            else:
                i += 1


def _worth_matching(words: tuple[str, ...]) -> bool:
    if not words or len(words) > MAX_LABEL_WORDS or all(word in _STOPWORDS for word in words):
        return False
    return len(words) > 1 or (len(words[0]) >= 4 and not words[0].isdigit())


_indexes: dict[int, LabelIndex] = {}


def label_index(taxonomy: Taxonomy) -> LabelIndex:
    """The LabelIndex of `taxonomy`, built once per taxonomy object."""
    index = _indexes.get(id(taxonomy))
    if index is None or index.taxonomy is not taxonomy:
        index = _indexes[id(taxonomy)] = LabelIndex(taxonomy)
    return index


@dataclass(frozen=True)
class CourseText:
    """What links are made from: texts per source (each a list of language-tagged texts) and the
    stated (ESCO URI, outcome text) pairs."""

    title: Sequence[Mapping[str, str]]
    keywords: Sequence[str]
    outcomes: Sequence[Mapping[str, str]]
    description: Sequence[Mapping[str, str]]
    stated: Sequence[tuple[str, str]] = ()


def sentences(text: str) -> Iterator[str]:
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if part:
            yield part


def _source_sentences(course: CourseText) -> Iterator[tuple[str, str]]:
    for text in course.title:
        for value in text.values():
            yield "title", value
    for keyword in course.keywords:
        yield "keywords", keyword
    for source, texts in (("outcomes", course.outcomes), ("description", course.description)):
        for text in texts:
            for value in text.values():
                for sentence in sentences(value):
                    yield source, sentence


def confidence(words: int, preferred: bool, source: str, sentences_found: int, shared: bool) -> float:
    """The confidence of a label match (see the module docstring), rounded to 2 decimals."""
    score = {1: 0.3, 2: 0.5}.get(words, 0.6)
    if preferred:
        score += 0.1
    if source in ("title", "keywords", "outcomes"):
        score += 0.15
    if sentences_found > 1:
        score += 0.1
    if shared:
        score -= 0.2
    return round(min(max(score, 0.05), 0.95), 2)


def link(
    course: CourseText, taxonomy: Taxonomy | None, semantic: by_meaning.SemanticLinker | None = None
) -> list[SkillLink]:
    """Every link of `course`: stated ones first (as stated), then inferred ones by confidence
    (not cut by the threshold: `published` does that). Without a taxonomy only stated links.
    With `semantic`, sentences in languages other than English are matched by meaning too."""
    links: dict[str, SkillLink] = {}
    for uri, text in course.stated:
        if uri and uri not in links:
            label = taxonomy.label(uri) if taxonomy else uri
            links[uri] = SkillLink(uri, label, True, STATED, 1.0, _cut(text), "outcomes")
    if taxonomy is None:
        return list(links.values())
    index = label_index(taxonomy)
    found: dict[str, list[Any]] = {}  # uri -> [best (words, preferred, source, shared), sentence, count]
    for source, sentence in _source_sentences(course):
        seen_here: set[str] = set()
        for phrase, start, end, entries in _phrase_matches(index, sentence):
            for entry in entries:
                if entry.uri in links or entry.uri in seen_here:
                    continue
                seen_here.add(entry.uri)
                key = (end - start, entry.preferred, source, entry.shared)
                known = found.get(entry.uri)
                quote = _cut(sentence, phrase)
                if known is None:
                    found[entry.uri] = [key, quote, 1]
                else:
                    known[2] += 1
                    if _strength(key) > _strength(known[0]):
                        known[0], known[1] = key, quote
    inferred = [
        SkillLink(
            uri,
            taxonomy.label(uri),
            False,
            LABEL,
            confidence(key[0], key[1], key[2], count, key[3]),
            sentence,
            key[2],
        )
        for uri, (key, sentence, count) in found.items()
    ]
    if semantic is not None:
        linked = {*links, *found}
        inferred += [item for item in _by_meaning(course, semantic) if item.uri not in linked]
    inferred.sort(key=lambda item: (-item.confidence, item.label))
    return [*links.values(), *inferred]


def _by_meaning(course: CourseText, semantic: by_meaning.SemanticLinker) -> list[SkillLink]:
    """Links of the course's non-English sentences to their nearest labels (best per skill)."""
    chosen: list[tuple[str, str]] = []
    for source, texts in (
        ("title", course.title),
        ("outcomes", course.outcomes),
        ("description", course.description),
    ):
        for text in texts:
            for tag, value in text.items():
                if not by_meaning.foreign(tag):
                    continue
                pieces = [value] if source == "title" else list(sentences(value))
                chosen += [(source, piece) for piece in pieces]
    chosen = chosen[: by_meaning.MAX_SENTENCES]
    best: dict[str, SkillLink] = {}
    for i, uri, cosine in semantic.nearest([sentence for _, sentence in chosen]):
        source, sentence = chosen[i]
        item = SkillLink(
            uri, semantic.taxonomy.label(uri), False, EMBEDDING, round(cosine, 2), _cut(sentence), source
        )
        if uri not in best or item.confidence > best[uri].confidence:
            best[uri] = item
    return list(best.values())


def _phrase_matches(index: LabelIndex, sentence: str) -> Iterator[tuple[str, int, int, tuple[_Entry, ...]]]:
    """(phrase, start, end, entries) of the label matches within each phrase of `sentence`: a label
    never spans a comma, a slash or a bracket ("education, law" is two list items)."""
    for phrase in _PHRASE_BREAK.split(sentence):
        for start, end, entries in index.matches(fold_words(phrase)):
            yield phrase, start, end, entries


def _strength(key: tuple[int, bool, str, bool]) -> float:
    return confidence(key[0], key[1], key[2], 1, key[3])


def linker_key(taxonomy: Taxonomy, semantic_model: str | None = None) -> str:
    """What the links of a text depend on besides the text: this linker's version, its thresholds,
    the taxonomy (its package versions, or a digest of its skills and labels when it has none, as
    a test taxonomy) and the model of the links by meaning (None: off). Two equal keys give equal
    links for equal text, so links computed under one key may be reused under it."""
    version = taxonomy.version or _taxonomy_digest(taxonomy)
    key = (
        f"linker{LINKER_VERSION}:p{PUBLISH_THRESHOLD}:m{MAX_LINKS}:esco{version}"
        f":meaning{semantic_model or '-'}@{by_meaning.PUBLISH_THRESHOLD}"
    )
    if len(key) > 200:  # the cache's column: a key made of long package versions stays bounded
        key = key[:150] + "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return key


_digests: dict[int, tuple[Taxonomy, str]] = {}


def _taxonomy_digest(taxonomy: Taxonomy) -> str:
    """A digest of the taxonomy's skills and labels, computed once per taxonomy object."""
    known = _digests.get(id(taxonomy))
    if known is not None and known[0] is taxonomy:
        return known[1]
    digest = hashlib.blake2b(digest_size=12)
    for uri in sorted(taxonomy.skills):
        digest.update("\x1f".join((uri, *taxonomy.skills[uri].labels)).encode() + b"\x1e")
    value = "#" + digest.hexdigest()
    _digests[id(taxonomy)] = (taxonomy, value)
    return value


def published(links: Iterable[SkillLink], threshold: float = PUBLISH_THRESHOLD) -> list[SkillLink]:
    """The links that are shown: every stated one, label matches at or above `threshold`,
    embedding ones at or above `semantic.PUBLISH_THRESHOLD`, at most MAX_LINKS (stated first,
    then the most confident)."""
    return [item for item in links if item.stated or item.confidence >= _threshold(item, threshold)][
        :MAX_LINKS
    ]


def _threshold(item: SkillLink, label_threshold: float) -> float:
    return by_meaning.PUBLISH_THRESHOLD if item.method == EMBEDDING else label_threshold


def _cut(sentence: str, around: str = "") -> str:
    """`sentence` with blanks collapsed, cut to SENTENCE_CHARS around the phrase `around` (so the
    quote shows what was matched), with an ellipsis where text was left out."""
    sentence = " ".join(sentence.split())
    if len(sentence) <= SENTENCE_CHARS:
        return sentence
    where = max(sentence.find(" ".join(around.split())), 0)
    start = max(0, min(where - SENTENCE_CHARS // 3, len(sentence) - SENTENCE_CHARS + 2))
    piece = sentence[start : start + SENTENCE_CHARS - 2].strip()
    return (
        ("\u2026" if start > 0 else "")
        + piece
        + ("\u2026" if start + SENTENCE_CHARS - 2 < len(sentence) else "")
    )
