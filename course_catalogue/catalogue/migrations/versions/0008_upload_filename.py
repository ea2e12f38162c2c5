"""The name of a staged upload's file, so a provider can tell pending uploads apart.

Staged feeds from before the upgrade keep no name (NULL), as do feeds pushed as a raw body.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staged_feeds") as batch:
        batch.add_column(sa.Column("filename", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staged_feeds") as batch:
        batch.drop_column("filename")
