"""What the store holds about a course beyond the record, and how committed changes flow out.

`StoredCourse` is a course as the store knows it: the record plus its lifecycle (active or a
withdrawn tombstone), content hash and `seq`, the position of its last change in commit order
(the changes-feed cursor). After a transaction commits, the store hands the changed
`StoredCourse`s to `ChangeSink`s (the search index, later webhooks) so derived data follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import orjson

from course_catalogue.catalogue import jsontext
from course_catalogue.catalogue.codec import course_from_dict, course_to_dict
from course_catalogue.catalogue.model import Course
from course_catalogue.catalogue.provider_keys import provider_columns


class CourseStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"  # tombstone: gone from its feed, kept so consumers see the deletion


@dataclass(frozen=True)
class StoredCourse:
    course: Course
    status: CourseStatus
    content_hash: str
    seq: int
    first_seen: datetime
    updated_at: datetime  # last change of content or status
    last_run_id: int | None = None
    withdrawn_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.course.id


@dataclass(frozen=True)
class HarvestDiff:
    """What applying one harvest did (or, in a dry run, would do). Lists hold course ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    held_withdrawals: list[str] = field(default_factory=list)  # guard tripped: not applied
    # For sinks; empty in a dry run. A streamed harvest (CatalogueStore.harvesting) leaves it empty
    # and sets `seqs` instead: CatalogueStore.iter_changed reads the changed courses back in batches.
    changed: list[StoredCourse] = field(default_factory=list)
    seqs: tuple[int, int] | None = None  # first and last seq of the committed changes; None if none


class ChangeSink(Protocol):
    """Receives courses whose content or status changed, after their transaction committed.

    A sink must be idempotent: the same change may be delivered again after a crash or a
    repair, and delivering it twice must leave the same state.
    """

    def apply(self, changed: Sequence[StoredCourse]) -> None: ...


class EncodedRecord(NamedTuple):
    """A record (`course_to_dict`) already encoded as the store's JSON text (`catalogue.jsontext`),
    with the values the store reads from it besides the text: how a mapping worker hands a record
    back (`services.workers`), so the harvesting process neither decodes it nor encodes it again
    (with the objects of a decoded record, the cyclic collector's work, it was the largest part of
    what the harvesting process did per record it did not map)."""

    text: bytes
    course_id: str
    source_id: str
    provider_ref: str
    provider_key: str | None
    provider_name: str | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> EncodedRecord:
        provenance = record["provenance"]
        columns = provider_columns(record)
        return cls(
            jsontext.dumps_bytes(record),
            str(record["id"]),
            str(provenance["source_id"]),
            str(provenance["provider_ref"]),
            columns["provider_key"],
            columns["provider_name"],
        )


class Candidate:
    """A valid record of the current run, ready for the store, with the raw payload it came from.

    `raw` and `media_type` are kept so a changed mapping can be replayed without re-downloading.
    `record`, when given, is `course_to_dict(course)` already computed (the pipeline needs it for
    the hash), so the store does not serialise the course a second time.

    `Candidate.from_record` builds one from the stored record alone (how the harvest spool reads
    its batches back): the course is then decoded only when something asks for it (a dry-run
    preview does; the store needs only the record, `course_id`, `source_id` and `provider_ref`).
    Decoding every spooled course cost ~35 us per record beyond the spool's first 10,000.
    `Candidate.from_encoded` builds one from an `EncodedRecord`: the store writes its text as it
    is, and the record and the course are decoded only when something asks for them.
    Equality compares course, content hash, raw payload and media type. Not hashable.
    `digest` and `report` (optional): the item's digest and what mapping it reported (an
    `catalogue.item_memory.ItemReport`), remembered with the course so an unchanged item can skip
    the work next time.
    """

    __slots__ = ("_course", "content_hash", "digest", "encoded", "media_type", "raw", "record", "report")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        course: Course,
        content_hash: str,
        raw: bytes,
        media_type: str,
        record: Mapping[str, Any] | None = None,
        *,
        digest: str | None = None,
        report: Any = None,
    ) -> None:
        self._course: Course | None = course
        self.content_hash = content_hash
        self.raw = raw
        self.media_type = media_type
        self.record = record
        self.encoded: EncodedRecord | None = None
        self.digest = digest
        self.report = report

    @classmethod
    def from_record(
        cls,
        record: Mapping[str, Any],
        content_hash: str,
        raw: bytes,
        media_type: str,
        digest: str | None = None,
        report: Any = None,
    ) -> Candidate:
        """A candidate whose course is `course_from_dict(record)`, decoded on first use."""
        return cls._lazy(record, None, content_hash, raw, media_type, digest, report)

    @classmethod
    def from_encoded(
        cls,
        encoded: EncodedRecord,
        content_hash: str,
        raw: bytes,
        media_type: str,
        digest: str | None = None,
        report: Any = None,
    ) -> Candidate:
        """A candidate whose record is `encoded`, decoded on first use."""
        return cls._lazy(None, encoded, content_hash, raw, media_type, digest, report)

    @classmethod
    def _lazy(
        cls,
        record: Mapping[str, Any] | None,
        encoded: EncodedRecord | None,
        content_hash: str,
        raw: bytes,
        media_type: str,
        digest: str | None,
        report: Any,
    ) -> Candidate:
        """A candidate without its Course yet: built from `record` or `encoded` on first use."""
        candidate = cls.__new__(cls)
        candidate._course = None
        candidate.content_hash = content_hash
        candidate.raw = raw
        candidate.media_type = media_type
        candidate.record = record
        candidate.encoded = encoded
        candidate.digest = digest
        candidate.report = report
        return candidate

    @property
    def course(self) -> Course:
        if self._course is None:
            self._course = course_from_dict(self.stored_record())
        return self._course

    @property
    def course_id(self) -> str:
        if self.encoded is not None:
            return self.encoded.course_id
        if self._course is not None:
            return self._course.id
        assert self.record is not None
        return str(self.record["id"])

    @property
    def source_id(self) -> str:
        if self.encoded is not None:
            return self.encoded.source_id
        if self._course is not None:
            return self._course.provenance.source_id
        assert self.record is not None
        return str(self.record["provenance"]["source_id"])

    @property
    def provider_ref(self) -> str:
        if self.encoded is not None:
            return self.encoded.provider_ref
        if self._course is not None:
            return self._course.provenance.provider_ref
        assert self.record is not None
        return str(self.record["provenance"]["provider_ref"])

    def stored_record(self) -> Mapping[str, Any]:
        """The course as the store keeps it: `record` when given (decoded from `encoded`, then
        kept), else computed now."""
        if self.record is None and self.encoded is not None:
            self.record = jsontext.loads(self.encoded.text)
        return self.record if self.record is not None else course_to_dict(self.course)

    def stored_value(self) -> Any:
        """What the store binds to the record column: the encoded text as it is (an
        `orjson.Fragment`, which `jsontext.dumps` writes unchanged), else `stored_record()`."""
        if self.encoded is not None:
            return orjson.Fragment(self.encoded.text)
        return self.stored_record()

    def provider_columns(self) -> dict[str, str | None]:
        """`provider_key` and `provider_name` of the course's row (`catalogue.provider_keys`)."""
        if self.encoded is not None:
            return {"provider_key": self.encoded.provider_key, "provider_name": self.encoded.provider_name}
        return provider_columns(self.stored_record())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        return (self.course, self.content_hash, self.raw, self.media_type) == (
            other.course,
            other.content_hash,
            other.raw,
            other.media_type,
        )

    def __repr__(self) -> str:
        return f"Candidate({self.course_id!r}, content_hash={self.content_hash!r})"
