"""The catalogue database schema as SQLAlchemy Core tables (the source of truth for migrations).

Every change here needs an Alembic revision in catalogue/migrations/versions; a test compares the
migrated database with this metadata on SQLite and PostgreSQL, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can refer to them on every backend."""

metadata = sa.MetaData(naming_convention=NAMING)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON everywhere; JSONB on PostgreSQL so records can be queried and indexed there later."""

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids; SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY."""


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the offset (timestamptz); SQLite stores text without one, so values are
    normalised to UTC on the way in and get UTC attached on the way out. Naive input is refused:
    guessing a zone is how timestamps silently shift.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("mapping", sa.String(200)),
    sa.Column("schedule_minutes", sa.Integer),
    sa.Column("owner", sa.String(200)),
    sa.Column("settings", JSONType, nullable=False),
    # fetch state: HTTP validators of the last successful download
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("counts", JSONType, nullable=False),  # Outcome value -> number of records
    sa.Column("error", sa.Text),
    sa.Column("held_withdrawals", JSONType, nullable=False),  # course ids awaiting confirmation
    sa.Column("issue_totals", JSONType),  # [[severity, code, field, count], ...]: every issue counted
    sa.Column("coverage", JSONType),  # catalogue.runs.Coverage.to_dict()
    sqlite_autoincrement=True,  # never reuse a run id, even after the newest run is deleted
)

run_issues = sa.Table(
    "run_issues",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("field", sa.String(100)),
    sa.Column("record_ref", sa.Text),
    sa.Column("pointer", sa.Text),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("value", sa.Text),
)

courses = sa.Table(
    "courses",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # catalogue.model.course_id()
    sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("provider_ref", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # CourseStatus value
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("record", JSONType, nullable=False),  # catalogue.codec.course_to_dict()
    sa.Column("seq", sa.BigInteger, nullable=False, index=True),  # seq of its latest change
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.Column("withdrawn_at", UTCDateTime),
    # catalogue.provider_keys: the provider's key (bounded form) and display name, so OAI-PMH
    # provider sets are an index range in seq order (migration 0005)
    sa.Column("provider_key", sa.String(200)),
    sa.Column("provider_name", sa.Text),
    sa.UniqueConstraint("source_id", "provider_ref"),
    sa.Index(None, "source_id", "status"),
    sa.Index(None, "provider_key", "seq"),
)

raw_items = sa.Table(
    "raw_items",
    metadata,
    sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("media_type", sa.String(200), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    # digest of `content`: a payload that changed where the mapping does not look is refreshed
    # without touching the course row (the record and its seq stay as they are)
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

item_fingerprints = sa.Table(
    "item_fingerprints",
    metadata,
    # What the last successful run made of one stored course's feed item (catalogue.item_memory):
    # `digest` keys the item's raw bytes with the mapping spec, source parameters and code that
    # mapped it, so an item a later run reads with the same digest need not be mapped again; its
    # course (checked active with this content_hash) and its `item_reports` row carry forward.
    sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("digest", sa.String(32), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("report", sa.String(32), nullable=False),  # item_reports.digest
    sa.Index(None, "source_id", "digest"),
)

item_reports = sa.Table(
    "item_reports",
    metadata,
    # What mapping one item reported, without its place (catalogue.item_memory): its issues and
    # the source paths it had values at (for the run's coverage). Shared by every item that
    # reported the same, so most records of a feed point at a handful of rows.
    sa.Column("digest", sa.String(32), primary_key=True),
    sa.Column("issues", JSONType, nullable=False),
    sa.Column("paths", JSONType, nullable=False),
)

feed_fingerprints = sa.Table(
    "feed_fingerprints",
    metadata,
    # The feed a source's last fully applied harvest read, as a whole (catalogue.feed_memory): `key`
    # digests its bytes with everything else that decides the run's outcome (spec, parameters,
    # code, format, completeness); `state` digests the source's courses as that run committed
    # them. A later run of the same key, on a source in the same state, need not read the feed.
    sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

skill_links = sa.Table(
    "skill_links",
    metadata,
    # The published ESCO skill links of a course (search.skill_cache, catalogue.skill_link_store):
    # made from the course text whose digest is `text_digest`, by the linker and taxonomy that
    # `linker_key` names; reused by later search-document builds while both still match, replaced
    # when either differs, deleted with the course. `links` is JSON text, not JSON(B): it goes to
    # the documents as it was written (key order kept), decoded only when reused.
    sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("text_digest", sa.String(32), nullable=False),
    sa.Column("linker_key", sa.String(200), nullable=False),
    sa.Column("links", sa.Text, nullable=False),
)

changes = sa.Table(
    "changes",
    metadata,
    # The auto-increment key is the changes-feed cursor: courses.seq copies the seq of the
    # course's latest row here. Commit order == seq order is the store's job (see store.py).
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("course_id", sa.String(64), nullable=False),  # no FK: written before the course row
    sa.Column("run_id", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False),  # added | updated | withdrawn
    sqlite_autoincrement=True,  # SQLite must never hand out a seq twice
)

# --- accounts, API tokens and staged uploads (migration 0002) ------------------------------------

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # a slug; sources.owner holds it
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # catalogue.accounts.Role value
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    # The public part of the token ("cat_<id>.<secret>"): found by primary key, then the hash of
    # the whole token is compared in constant time. The plaintext is never stored.
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of the whole token
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

staged_feeds = sa.Table(
    "staged_feeds",
    metadata,
    # A pushed feed kept between its dry run and the provider's confirmation. In the database,
    # not on disk, so any web process of a multi-host deployment can confirm it.
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("media_type", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # the source's format and mapping when the dry run was computed: confirming after either
    # changed would publish something the provider never previewed
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("mapping", sa.String(200)),
    sa.Column("dry_run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("filename", sa.String(255)),  # as uploaded (migration 0008); None for a raw-body push
    sa.Index(None, "source_id", "created_at"),
)

# --- eligibility schemes, their decisions and webhooks (migration 0003) ---------------------------

schemes = sa.Table(
    "schemes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # a slug: the search filter value
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owner", sa.String(64), sa.ForeignKey("accounts.id")),  # a registry account
    sa.Column("rules", JSONType, nullable=False),  # catalogue.eligibility.rules_to_data()
    sa.Column("accredited", JSONType, nullable=False),  # provider names/identifiers
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # When the evaluation readers see (course_eligibility) was completed; NULL until the first
    # evaluation job of a new scheme switches in (migration 0004).
    sa.Column("evaluated_at", UTCDateTime),
)

scheme_decisions = sa.Table(
    "scheme_decisions",
    metadata,
    # A registry's manual decision on one course: overrides the rules, kept until replaced.
    sa.Column("scheme_id", sa.String(64), sa.ForeignKey("schemes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id"), primary_key=True),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", UTCDateTime, nullable=False),
)

course_eligibility = sa.Table(
    "course_eligibility",
    metadata,
    sa.Column("scheme_id", sa.String(64), sa.ForeignKey("schemes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("course_id", sa.String(64), sa.ForeignKey("courses.id"), primary_key=True),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),  # when `eligible` last took its value
    sa.Column("reasons", JSONType, nullable=False),  # [{"rule", "message"}]
    sa.Column("manual", sa.Boolean, nullable=False),
    # Position in the scheme's changes feed, from the `changes` sequence: set when the course
    # became eligible, changed while eligible, or stopped being eligible; NULL while it never was.
    sa.Column("seq", sa.BigInteger),
    sa.Column("course_seq", sa.BigInteger, nullable=False),  # courses.seq when last evaluated
    sa.Column("evaluated_at", UTCDateTime, nullable=False),
    sa.Index(None, "scheme_id", "seq"),
    sa.Index(None, "course_id"),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    # Kept in plaintext: signing needs it (an HMAC key cannot be stored as a hash). It is shown
    # once, when the subscription is created, and never returned by the API after that.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("scheme_id", sa.String(64), sa.ForeignKey("schemes.id", ondelete="CASCADE")),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("cursor", sa.BigInteger, nullable=False),  # newest seq already enqueued for delivery
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.String(32),
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("from_seq", sa.BigInteger, nullable=False),  # exclusive
    sa.Column("to_seq", sa.BigInteger, nullable=False),  # inclusive
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index(None, "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)


# --- index outbox, scheme evaluation jobs, provider entitlements (migration 0004) --------------------

index_outbox = sa.Table(
    "index_outbox",
    metadata,
    # One entry per committed change the search index has not received yet (catalogue/outbox.py):
    # written in the transaction that made the change, deleted once the index has it.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),  # changes.seq
    sa.Column("course_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # changes.kind
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "course_id", "kind"),
    sa.Index(None, "kind", "course_id"),
)

scheme_jobs = sa.Table(
    "scheme_jobs",
    metadata,
    # One evaluation of a scheme's (new) definition against every course (catalogue/eligibility_jobs.py).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme_id", sa.String(64), sa.ForeignKey("schemes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # create | update
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | succeeded | failed | superseded
    sa.Column("definition", JSONType, nullable=False),  # name, description, owner, rules, accredited
    sa.Column("requested_by", sa.String(64)),
    sa.Column("total", sa.Integer, nullable=False),  # courses when the job started
    sa.Column("done", sa.Integer, nullable=False),  # courses evaluated so far
    sa.Column("resume_after", sa.String(64)),  # the last course id evaluated: where a resumed run continues
    sa.Column("attempts", sa.Integer, nullable=False),  # runs that claimed it (a resumed job has 2+)
    sa.Column("runner", sa.String(200)),  # who holds it (host:pid:nonce) ...
    sa.Column("heartbeat_at", UTCDateTime),  # ... and when it last showed it is alive
    sa.Column("changed", sa.Integer),  # courses whose eligibility changed when it switched in
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Index(None, "scheme_id", "id"),
    sa.Index(None, "status"),
    sqlite_autoincrement=True,
)

scheme_staging = sa.Table(
    "scheme_staging",
    metadata,
    # A job's evaluation while it runs: invisible to readers until it switches into course_eligibility.
    sa.Column("job_id", sa.Integer, sa.ForeignKey("scheme_jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("course_id", sa.String(64), primary_key=True),  # no FK: dropped after the switch
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("reasons", JSONType, nullable=False),
    sa.Column("manual", sa.Boolean, nullable=False),
    sa.Column("course_seq", sa.BigInteger, nullable=False),
    sa.Column("evaluated_at", UTCDateTime, nullable=False),
    sa.Column("seq", sa.BigInteger),  # given at the switch to the rows whose feed-visible state changes
)

account_organisations = sa.Table(
    "account_organisations",
    metadata,
    # The organisations an account may publish courses for (catalogue/entitlements.py); admins grant them.
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(64), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),  # the name folded for comparison (one grant per name)
    sa.Column("aliases", JSONType, nullable=False),  # other names of the same organisation (translations)
    sa.Column("identifier", sa.Text),
    sa.Column("country", sa.String(3)),
    sa.Column("granted_by", sa.String(64)),
    sa.Column("granted_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("account_id", "name_key"),
)
