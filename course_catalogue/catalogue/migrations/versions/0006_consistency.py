"""Index outbox, scheme evaluation jobs and their staging rows, provider entitlements.

`schemes.evaluated_at` is set to `updated_at` for existing schemes: they were evaluated in full
when they were last changed (evaluation used to run inside the request).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from catalogue.schema (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("schemes", sa.Column("evaluated_at", TIMESTAMP, nullable=True))
    op.execute(sa.text("UPDATE schemes SET evaluated_at = updated_at"))
    op.create_table(
        "index_outbox",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_index_outbox"),
    )
    op.create_index("ix_index_outbox_course_id_kind", "index_outbox", ["course_id", "kind"])
    op.create_index("ix_index_outbox_kind_course_id", "index_outbox", ["kind", "course_id"])
    op.create_table(
        "scheme_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scheme_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("resume_after", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("changed", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name="fk_scheme_jobs_scheme_id_schemes", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scheme_jobs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_scheme_jobs_scheme_id_id", "scheme_jobs", ["scheme_id", "id"])
    op.create_index("ix_scheme_jobs_status", "scheme_jobs", ["status"])
    op.create_table(
        "scheme_staging",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("course_seq", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", TIMESTAMP, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scheme_jobs.id"], name="fk_scheme_staging_job_id_scheme_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "course_id", name="pk_scheme_staging"),
    )
    op.create_table(
        "account_organisations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("aliases", JSON, nullable=False),
        sa.Column("identifier", sa.Text(), nullable=True),
        sa.Column("country", sa.String(3), nullable=True),
        sa.Column("granted_by", sa.String(64), nullable=True),
        sa.Column("granted_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_organisations_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_account_organisations"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_account_organisations_account_id_name_key"),
    )


def downgrade() -> None:
    op.drop_table("account_organisations")
    op.drop_table("scheme_staging")
    op.drop_index("ix_scheme_jobs_status", table_name="scheme_jobs")
    op.drop_index("ix_scheme_jobs_scheme_id_id", table_name="scheme_jobs")
    op.drop_table("scheme_jobs")
    op.drop_index("ix_index_outbox_kind_course_id", table_name="index_outbox")
    op.drop_index("ix_index_outbox_course_id_kind", table_name="index_outbox")
    op.drop_table("index_outbox")
    with op.batch_alter_table("schemes") as batch:
        batch.drop_column("evaluated_at")
