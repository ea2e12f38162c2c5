"""Courses keep their provider's key and display name, indexed with seq: OAI-PMH provider sets by index.

Before, a `provider:<key>` set decoded every course of the catalogue per request to find its
members (25-45 s on ~350k courses: issue 22). The columns are filled from each stored record
here and by every later write (catalogue.course_writes).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# The key is computed by the code that computes it for new writes (a pure function of the
# stored record); if that function ever changes, a later revision recomputes the column.
from course_catalogue.catalogue.provider_keys import provider_columns

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from catalogue.schema (see 0001).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BATCH = 2000

_courses = sa.table(
    "courses",
    sa.column("id", sa.String(64)),
    sa.column("record", JSON),
    sa.column("provider_key", sa.String(200)),
    sa.column("provider_name", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("provider_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("provider_name", sa.Text(), nullable=True))
    _backfill()
    op.create_index("ix_courses_provider_key_seq", "courses", ["provider_key", "seq"])


def _backfill() -> None:
    conn = op.get_bind()
    update = (
        _courses.update()
        .where(_courses.c.id == sa.bindparam("id_"))
        .values(provider_key=sa.bindparam("key_"), provider_name=sa.bindparam("name_"))
    )
    last = ""
    while True:  # keyset pages by id: bounded memory whatever the catalogue's size
        page = sa.select(_courses.c.id, _courses.c.record).where(_courses.c.id > last).order_by(_courses.c.id)
        rows = conn.execute(page.limit(BATCH)).all()
        if not rows:
            return
        values = []
        for course_id, record in rows:
            columns = provider_columns(record or {})
            values.append(
                {"id_": course_id, "key_": columns["provider_key"], "name_": columns["provider_name"]}
            )
        conn.execute(update, values)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_courses_provider_key_seq", table_name="courses")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("provider_name")
        batch.drop_column("provider_key")
