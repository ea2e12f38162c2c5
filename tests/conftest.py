"""Shared fixtures: catalogue stores on SQLite and PostgreSQL, each test in a fresh database.

PostgreSQL tests run in their own schema (created, put first on the search_path, dropped after),
so they never see each other's data and can run repeatedly against one server. Without a server
they are skipped, except under CI=true, where a missing server is a failure.
Server URL: env TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.taxonomy import Skill, Taxonomy

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@cache
def _postgres_problem() -> str | None:
    """Why the test server cannot be used, or None when it answers (checked once per session)."""
    engine = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure (driver missing, refused, auth) means "no server"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Skip the calling test without a server; fail it under CI=true, where one must exist."""
    problem = _postgres_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"{problem} (CI=true: the CI machine must provide PostgreSQL)")
    pytest.skip(problem)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (dropped after the test)."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalogue.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL, once per backend (not migrated)."""
    name = "postgres_url" if request.param == "postgresql" else "sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


def _open(url: str) -> Iterator[CatalogueStore]:
    store = CatalogueStore(url)
    try:
        store.migrate()
        yield store
    finally:
        store.close()  # before the schema is dropped: no pooled connection may hold a lock


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[CatalogueStore]:
    """A migrated store in a SQLite file under tmp_path."""
    yield from _open(sqlite_url)


@pytest.fixture
def store(store_url: str) -> Iterator[CatalogueStore]:
    """A migrated, empty store, once on SQLite and once on PostgreSQL."""
    yield from _open(store_url)


SKILLS_FIXTURE = Path(__file__).parent / "fixtures" / "skills" / "esco-small.json"


def small_taxonomy() -> Taxonomy:
    """Thirteen real ESCO v1.1.1 skills (tests/fixtures/skills/esco-small.json): tests link against
    them instead of the full 13,412-skill taxonomy, which takes a second to load and index."""
    import json

    data = json.loads(SKILLS_FIXTURE.read_text(encoding="utf-8"))
    skills = (Skill(s["uri"], tuple(s["labels"]), s["description"], s["group"]) for s in data["skills"])
    return Taxonomy(skills, data["version"])


@pytest.fixture(autouse=True, scope="session")
def _small_taxonomy() -> Iterator[None]:
    """Every test sees the small taxonomy, whether or not the ESCO packages are installed."""
    with skill_taxonomy.use(small_taxonomy()):
        yield
