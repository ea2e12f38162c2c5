"""Alembic environment: migrate the connection the store hands over, or a URL given on the CLI.

Programmatic use (the normal path) is `CatalogueStore(url).migrate()`, which passes its own
connection in `config.attributes["connection"]`, already inside a locked transaction. CLI users:
`alembic -c catalogue/migrations/alembic.ini -x url=sqlite:///data/catalogue.db upgrade head`.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from course_catalogue.catalogue.schema import metadata

config = context.config
if config.config_file_name is not None:  # CLI run: log as alembic.ini says; never when embedded
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set sqlalchemy.url")
    return url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Imported here so offline SQL generation needs no engine; the store's engine sets the
    # SQLite pragmas (WAL, foreign keys) the same way the application does.
    from course_catalogue.catalogue.store import open_engine

    engine = open_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
