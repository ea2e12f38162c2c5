"""What the last successful run made of each stored course's feed item (fingerprint, issues, source
paths), so unchanged items skip the work.

Empty after the upgrade: the first run of each source after it maps every item as before and
fills the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from catalogue.schema (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "item_fingerprints",
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("report", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name="fk_item_fingerprints_course_id_courses", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("course_id", name="pk_item_fingerprints"),
    )
    op.create_index("ix_item_fingerprints_source_id_digest", "item_fingerprints", ["source_id", "digest"])
    op.create_table(
        "item_reports",
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("issues", JSON, nullable=False),
        sa.Column("paths", JSON, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_item_reports"),
    )


def downgrade() -> None:
    op.drop_table("item_reports")
    op.drop_index("ix_item_fingerprints_source_id_digest", table_name="item_fingerprints")
    op.drop_table("item_fingerprints")
