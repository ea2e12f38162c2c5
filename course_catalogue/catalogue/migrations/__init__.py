"""Alembic migrations of the catalogue database; run them with `CatalogueStore.migrate()`."""
