"""A small catalogue with places for the place search, map and course page tests: courses in
Lyon, Paris, München, Kraków, Amsterdam and online, dated after today (so they are current),
stored through the real store and indexed by the app's backend."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from flask import Flask

from course_catalogue.catalogue.changes import Candidate
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.model import Location
from course_catalogue.catalogue.sources import Source
from course_catalogue.search.documents import to_document
from course_catalogue.services.runtime import get_services
from tests.search.conftest import make_course
from tests.store_writes import apply_harvest
from tests.web.conftest import make_app

SOURCE = "test-source"


def _courses() -> list:  # type: ignore[type-arg]
    soon = date.today() + timedelta(days=40)
    later = soon + timedelta(days=120)
    ended = date.today() - timedelta(days=30)
    common = {"start": soon, "end": later, "modes": ["onsite"], "ects": "6", "price": "450"}
    return [
        make_course(
            "lyon-data",
            "Data analysis with Python",
            description="Hands-on course in Lyon. Learn pandas and plotting. Bring a laptop.",
            provider="Université de Lyon",
            country="FRA",
            eqf=6,
            languages=["fr"],
            isced=["0613"],
            locations=[Location("FRA", "Auvergne-Rhône-Alpes", "Lyon", latitude=45.7640, longitude=4.8357)],
            **common,
        ),
        make_course(
            "paris-web",
            "Web development bootcamp",
            description="Build web applications in Paris over twelve weeks.",
            provider="École du Web",
            country="FRA",
            eqf=5,
            languages=["fr"],
            isced=["0613"],
            locations=[Location("FRA", "Île-de-France", "Paris", latitude=48.8566, longitude=2.3522)],
            **common,
        ),
        make_course(
            "muenchen-pm",
            "Projektmanagement kompakt",
            description="Projektmanagement für Fachkräfte in München.",
            provider="Technische Hochschule München",
            country="DEU",
            eqf=6,
            languages=["de"],
            isced=["0413"],
            locations=[Location("DEU", "Bayern", "München", latitude=48.1351, longitude=11.5820)],
            **common,
        ),
        make_course(
            "krakow-nursing",
            "Nursing practice",
            description="Clinical nursing practice in Kraków hospitals.",
            provider="Uniwersytet Jagielloński",
            country="POL",
            eqf=6,
            languages=["pl"],
            isced=["0913"],
            locations=[Location("POL", "Małopolskie", "Kraków", latitude=50.0647, longitude=19.9450)],
            **common,
        ),
        make_course(
            "villeurbanne-ai",
            "Machine learning for engineers",
            description="Machine learning next to Lyon, in Villeurbanne.",
            provider="INSA Lyon",
            country="FRA",
            eqf=7,
            languages=["en"],
            isced=["0613", "0714"],
            locations=[
                Location("FRA", "Auvergne-Rhône-Alpes", "Villeurbanne", latitude=45.7719, longitude=4.8902)
            ],
            **common,
        ),
        make_course(
            "amsterdam-ended",
            "Design thinking",
            description="A past workshop in Amsterdam.",
            provider="Hogeschool van Amsterdam",
            country="NLD",
            eqf=5,
            isced=["0212"],
            start=ended - timedelta(days=20),
            end=ended,
            modes=["onsite"],
            locations=[Location("NLD", "Noord-Holland", "Amsterdam", latitude=52.3676, longitude=4.9041)],
        ),
        make_course(
            "online-stats",
            "Statistics online",
            description="Self-paced statistics. Regression, sampling and surveys.",
            provider="Open Learning Institute",
            country="NLD",
            eqf=5,
            isced=["0542"],
            start=soon,
        ),
    ]


def places_app(instance: Path, **config: object) -> Iterator[Flask]:
    """The app holding `_courses()` (yields it; closes its services afterwards). Maps have no
    tiles unless `config` gives MAP_TILES_URL (the tests run offline)."""
    app = make_app(instance, **{"MAP_TILES_URL": "", **config})
    services = get_services(app)
    services.store.migrate()
    services.store.save_source(
        Source(id=SOURCE, format="csv", name="Synthetic places test feed", mapping="edx-csv")
    )
    candidates = []
    for stored in _courses():
        record = course_to_dict(stored.course)
        digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
        candidates.append(Candidate(stored.course, digest, b"{}", "application/json", record))
    report = services.store.start_run(SOURCE)
    diff = apply_harvest(
        services.store,
        report,
        candidates,
        seen_refs={c.course.provenance.provider_ref for c in candidates},
        complete=True,
    )
    services.store.finish_run(report)
    services.backend.upsert([to_document(stored) for stored in diff.changed])
    yield app
    services.close()
