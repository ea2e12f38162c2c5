"""Runs keep exact issue totals (the stored issues are a sample per kind) and a coverage report.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from catalogue.schema (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        # [[severity, code, field, count], ...]: every issue counted, kept or not; NULL for runs
        # recorded before this revision (their stored issues are all they have).
        batch.add_column(sa.Column("issue_totals", JSON, nullable=True))
        # catalogue.runs.Coverage.to_dict(); NULL when the run had none
        batch.add_column(sa.Column("coverage", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("coverage")
        batch.drop_column("issue_totals")
