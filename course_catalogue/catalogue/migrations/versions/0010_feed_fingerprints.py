"""The feed each source's last fully applied harvest read, as a whole (catalogue.feed_memory), so a
byte-identical re-harvest is recognised before it is parsed.

Empty after the upgrade: the next successful harvest of each source records its feed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_fingerprints",
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_feed_fingerprints_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("source_id", name="pk_feed_fingerprints"),
    )


def downgrade() -> None:
    op.drop_table("feed_fingerprints")
