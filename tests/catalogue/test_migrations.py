"""The Alembic migrations build exactly the schema declared in catalogue.schema, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from course_catalogue.catalogue.schema import metadata
from course_catalogue.catalogue.store import CatalogueStore, open_engine


def _head() -> str | None:
    """The newest revision in catalogue/migrations (one head: revisions form a chain)."""
    config = Config()
    config.set_main_option("script_location", "course_catalogue.catalogue:migrations")
    return ScriptDirectory.from_config(config).get_current_head()


def test_migrated_schema_matches_metadata(store_url: str) -> None:
    store = CatalogueStore(store_url)
    try:
        store.migrate()
    finally:
        store.close()
    engine = open_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
            assert context.get_current_revision() == _head()
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables


def test_migrate_twice_is_a_no_op(store: CatalogueStore) -> None:
    store.migrate()
    assert store.list_sources() == []
