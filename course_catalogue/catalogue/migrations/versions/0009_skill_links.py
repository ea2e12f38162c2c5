"""The published ESCO skill links of each course, kept so that a reindex reuses them (search.skill_cache).

Empty after the upgrade: the next index update or reindex computes every course's links once
and fills the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "skill_links",
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("text_digest", sa.String(32), nullable=False),
        sa.Column("linker_key", sa.String(200), nullable=False),
        sa.Column("links", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name="fk_skill_links_course_id_courses", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("course_id", name="pk_skill_links"),
    )


def downgrade() -> None:
    op.drop_table("skill_links")
