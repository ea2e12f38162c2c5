"""Search fixtures: a small, varied catalogue built in code, and indexed backends of every engine.

"Today" is pinned to TODAY so past/future does not drift with the calendar.

Engines (the `engine` parameter of `backend`, `readonly_backend` and `empty_backend`):
* "embedded": tantivy under tmp_path;
* "opensearch": a real OpenSearch node (tools/opensearch, search.opensearch.local) started once
  per session on a loopback port, with the k-NN plugin; each backend gets its own index prefix,
  deleted afterwards. Without Java or Maven, or if the node does not start, the tests skip,
  except under CI=true, where they fail;
* "cluster": the OpenSearch at env OPENSEARCH_URL (an operator's own cluster), only when set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import pytest
from opensearchpy import OpenSearch

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.model import (
    Course,
    LearningOutcome,
    Location,
    Organisation,
    Price,
    Provenance,
    Workload,
    course_id,
    lang_text,
)
from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.documents import to_document
from course_catalogue.search.errors import LocalClusterError
from course_catalogue.search.opensearch.backend import OpenSearchBackend, parse_url
from course_catalogue.search.opensearch.local import LocalCluster
from course_catalogue.search.query import Query
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from tests.conftest import in_ci

TODAY = date(2025, 6, 1)
PROJECT_MANAGEMENT = "http://data.europa.eu/esco/skill/7111b95d-0ce3-441a-9d92-4c75d05c4388"
"""ESCO "project management" (in the small test taxonomy, tests/fixtures/skills)."""
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def make_course(
    ref: str,
    title: dict[str, str] | str,
    *,
    description: dict[str, str] | str = "",
    outcomes: Sequence[str] = (),
    provider: str = "Open Learning Institute",
    country: str | None = "NLD",
    eqf: int | None = None,
    languages: Sequence[str] = ("en",),
    modes: Sequence[str] = ("online",),
    isced: Sequence[str] = (),
    ects: str | None = None,
    price: str | None = None,
    currency: str | None = "EUR",
    start: date | None = None,
    end: date | None = None,
    status: CourseStatus = CourseStatus.ACTIVE,
    source: str = "test-source",
    schedule: str | None = None,
    locations: Sequence[Location] = (),
    stated_skills: Sequence[tuple[str, str]] = (),
) -> StoredCourse:
    """A stored course with sensible defaults; text given as str is tagged with the first language."""
    lang = languages[0] if languages else "und"
    course = Course(
        id=course_id(source, ref),
        title=lang_text(title, lang),
        provider=Organisation(name=lang_text(provider, lang), country=country),
        provenance=Provenance(source_id=source, provider_ref=ref),
        description=lang_text(description, lang),
        learning_outcomes=(
            *(LearningOutcome(text=lang_text(o, lang)) for o in outcomes),
            *(LearningOutcome(text=lang_text(o, lang), esco_uri=uri) for uri, o in stated_skills),
        ),
        workload=Workload(ects=Decimal(ects) if ects is not None else None),
        eqf_level=eqf,
        modes=tuple(modes),
        languages=tuple(languages),
        isced_f=tuple(isced),
        start_date=start,
        end_date=end,
        price=Price(Decimal(price), currency if Decimal(price) else None) if price is not None else None,
        url=f"https://example.org/courses/{ref}",
        schedule=schedule,
        locations=tuple(locations),
    )
    return StoredCourse(
        course=course,
        status=status,
        content_hash=f"hash-{ref}",
        seq=1,
        first_seen=NOW,
        updated_at=NOW,
        withdrawn_at=NOW if status is CourseStatus.WITHDRAWN else None,
    )


def catalogue() -> list[StoredCourse]:
    """Ten courses covering every facet, French and German text, past, withdrawn and undated."""
    return [
        make_course(
            "python",
            "Introduction to Python programming",
            description="A first course in programming: variables, loops and functions for data analysis.",
            outcomes=["Write small scripts that automate spreadsheet work"],
            provider="Open Learning Institute",
            eqf=5,
            isced=["0613"],
            ects="5",
            price="0",
            start=date(2025, 9, 1),
            end=date(2025, 12, 1),
            schedule="self-paced",
            # online only: its place is faceted, but it has no geo point
            locations=[Location("NLD", "Noord-Holland", "Amsterdam", latitude=52.3676, longitude=4.9041)],
        ),
        make_course(
            "donnees",
            "Science des données",
            description="Formations en analyse de données et statistiques à Paris.",
            outcomes=["Maîtriser les outils de visualisation"],
            provider="Université de Lyon",
            country="FRA",
            eqf=6,
            languages=["fr"],
            modes=["onsite"],
            isced=["0542"],
            ects="20",
            price="1200",
            start=date(2025, 10, 1),
            end=date(2026, 6, 30),
            schedule="part-time",
            locations=[Location("FRA", "Île-de-France", "Paris", latitude=48.8566, longitude=2.3522)],
        ),
        make_course(
            "fuehrung",
            "Weiterbildung Projektmanagement",
            description="Kurse für Führungskräfte: Planung, Größe von Teams und agile Methoden.",
            # the provider states the ESCO skill (ELM relatedESCOSkill): German text links to no label
            stated_skills=[(PROJECT_MANAGEMENT, "Projekte planen und steuern")],
            provider="Technische Hochschule München",
            country="DEU",
            eqf=6,
            languages=["de"],
            modes=["blended"],
            isced=["0413"],
            ects="3",
            price="450",
            start=date(2025, 7, 1),
            end=date(2025, 8, 15),
            schedule="part-time",
            locations=[Location("DEU", "Bayern", "München", latitude=48.1351, longitude=11.5820)],
        ),
        make_course(
            "stats",
            "Applied statistics",
            description="Regression and sampling. Examples use the Python language and R.",
            outcomes=["Apply statistical methods to survey data"],
            provider="Statistics Netherlands Academy",
            eqf=7,
            isced=["0542"],
            ects="10",
            price="300",
            start=date(2025, 9, 15),
        ),
        make_course(
            "rust",
            "Systems programming in Rust",
            description="<script>alert('x')</script> Learn Rust & memory safety without a garbage collector.",
            provider="Open Learning Institute",
            eqf=6,
            isced=["0613"],
            ects="0.5",
            price="49",
            start=date(2025, 8, 1),
        ),
        make_course(
            "bilingual",
            {"en": "Renewable energy systems", "fr": "Systèmes d'énergie renouvelable"},
            description={"en": "Solar and wind power engineering.", "fr": "Ingénierie solaire et éolienne."},
            provider="Universidade do Porto",
            country="PRT",
            eqf=6,
            languages=["en", "fr"],
            modes=["online", "onsite"],
            isced=["0713"],
            ects="30",
            price="2500",
            start=date(2025, 11, 1),
            schedule="full-time",
            locations=[Location("PRT", "Norte", "Porto", latitude=41.1579, longitude=-8.6291)],
        ),
        make_course(
            "undated",
            "Course design for teachers",
            description="Self-paced course on designing courses.",
            provider="Teacher Academy",
            country="FIN",
            eqf=4,
            isced=["0111"],
        ),
        make_course(
            "past",
            "Machine learning basics",
            description="Neural networks and Python.",
            country="FRA",
            eqf=5,
            isced=["0613"],
            ects="4",
            price="150",
            start=date(2024, 9, 1),
            end=date(2024, 12, 1),
        ),
        make_course(
            "withdrawn",
            "Cloud computing fundamentals",
            description="Virtual machines and containers.",
            eqf=4,
            isced=["0612"],
            ects="2",
            price="99",
            start=date(2025, 9, 1),
            status=CourseStatus.WITHDRAWN,
        ),
        make_course(
            "polish",
            "Zarządzanie projektami",
            description="Kurs zarządzania projektami dla początkujących.",
            provider="Politechnika Warszawska",
            country="POL",
            eqf=5,
            languages=["pl"],
            modes=["onsite"],
            isced=["0413"],
            ects="6",
            price="0",
            start=date(2025, 10, 1),
            locations=[Location("POL", "Mazowieckie", "Warszawa", latitude=52.2297, longitude=21.0122)],
        ),
    ]


def cid(ref: str) -> str:
    return course_id("test-source", ref)


def q(text: str = "", **kwargs: Any) -> Query:
    """Query.create with today pinned to TODAY."""
    kwargs.setdefault("today", TODAY)
    return Query.create(text, **kwargs)


@pytest.fixture
def courses() -> list[StoredCourse]:
    return catalogue()


ENGINES = ["embedded", "opensearch", *(["cluster"] if os.environ.get("OPENSEARCH_URL") else [])]


def opensearch_unavailable(problem: str) -> NoReturn:
    """Skip the calling test, or fail it under CI=true, where a real OpenSearch must run."""
    if in_ci():
        pytest.fail(f"{problem} (CI=true: the OpenSearch tests must run on a real node)")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def opensearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One real OpenSearch node (k-NN plugin loaded) for the whole session; its folder, with
    the node's log, is under pytest's basetemp."""
    node = LocalCluster(tmp_path_factory.mktemp("opensearch"), nodes=1, knn=True, quick_start=True)
    try:
        node.start()
    except LocalClusterError as error:
        opensearch_unavailable(f"no local OpenSearch: {error}")
    yield node
    node.close()


def open_engine(request: pytest.FixtureRequest, engine: str, directory: Path) -> SearchBackend:
    """A new, empty backend of `engine`; OpenSearch ones are dropped when the test (or scope) ends."""
    if engine == "embedded":
        return EmbeddedBackend(directory / "index")
    if engine == "cluster":
        url = os.environ["OPENSEARCH_URL"]
    else:
        node: LocalCluster = request.getfixturevalue("opensearch_node")
        url = node.nodes[0].url
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: drop_indices(url, prefix))
    return OpenSearchBackend(url, index_prefix=prefix)


def drop_indices(url: str, prefix: str) -> None:
    """Delete every index a backend with `prefix` created (live, old, building)."""
    client = OpenSearch(hosts=parse_url(url)[0])
    try:
        names = list(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
        if names:
            client.indices.delete(index=",".join(names), ignore_unavailable=True)
    finally:
        client.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def empty_backend(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> Iterator[SearchBackend]:
    """An empty backend of each engine."""
    backend = open_engine(request, engine, tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def backend(empty_backend: SearchBackend, courses: list[StoredCourse]) -> SearchBackend:
    """A backend of each engine holding the catalogue, built by rebuild()."""
    empty_backend.rebuild(to_document(stored) for stored in courses)
    return empty_backend


@pytest.fixture(scope="module", params=ENGINES)
def readonly_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchBackend]:
    """One indexed catalogue per engine shared by a module's tests that only search, never write."""
    backend = open_engine(request, request.param, tmp_path_factory.mktemp("readonly"))
    backend.rebuild(to_document(stored) for stored in catalogue())
    yield backend
    backend.close()


@pytest.fixture
def embedded_backend(tmp_path: Path, courses: list[StoredCourse]) -> Iterator[EmbeddedBackend]:
    """An embedded backend over tmp_path holding the catalogue, built by rebuild()."""
    engine = EmbeddedBackend(tmp_path / "index")
    engine.rebuild(to_document(stored) for stored in courses)
    yield engine
    engine.close()
