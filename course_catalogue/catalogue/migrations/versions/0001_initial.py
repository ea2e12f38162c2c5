"""Initial catalogue schema: sources, runs and their issues, courses, raw payloads, changes log.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here rather than imported from catalogue.schema: a revision must keep meaning
# what it meant when it was written, whatever the schema module says later.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("mapping", sa.String(200), nullable=True),
        sa.Column("schedule_minutes", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("held_withdrawals", JSON, nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_runs_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_source_id", "runs", ["source_id"])
    op.create_table(
        "run_issues",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("field", sa.String(100), nullable=True),
        sa.Column("record_ref", sa.Text(), nullable=True),
        sa.Column("pointer", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_issues_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_run_issues"),
    )
    op.create_index("ix_run_issues_run_id", "run_issues", ["run_id"])
    op.create_table(
        "courses",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("provider_ref", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("record", JSON, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["runs.id"], name="fk_courses_last_run_id_runs", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_courses_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_courses"),
        sa.UniqueConstraint("source_id", "provider_ref", name="uq_courses_source_id_provider_ref"),
    )
    op.create_index("ix_courses_seq", "courses", ["seq"])
    op.create_index("ix_courses_source_id_status", "courses", ["source_id", "status"])
    op.create_table(
        "raw_items",
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("stored_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name="fk_raw_items_course_id_courses", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("course_id", name="pk_raw_items"),
    )
    op.create_table(
        "changes",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_changes"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("changes")
    op.drop_table("raw_items")
    op.drop_index("ix_courses_source_id_status", table_name="courses")
    op.drop_index("ix_courses_seq", table_name="courses")
    op.drop_table("courses")
    op.drop_index("ix_run_issues_run_id", table_name="run_issues")
    op.drop_table("run_issues")
    op.drop_index("ix_runs_source_id", table_name="runs")
    op.drop_table("runs")
    op.drop_table("sources")
