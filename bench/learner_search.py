"""Learner-side search costs (issue 18): gazetteer load and suggestions, and the CPU time of
search pages with spelling correction, the any-word fallback, excludes and place search, on
the edX fixture through the Flask test client. Run: `nice -n 10 .venv/bin/python -m bench.learner_search`."""

import statistics
import tempfile
import time
from pathlib import Path

from course_catalogue.catalogue.sources import Source
from course_catalogue.search.gazetteer import load
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app

app = create_app(
    {
        "TESTING": True,
        "RATELIMIT_ANONYMOUS": "",
        "RATELIMIT_PAGES": "",
        "BACKGROUND_SECONDS": 0,
        "SCHEME_JOBS": "inline",
        "MAP_TILES_URL": "",
    },
    instance_path=tempfile.mkdtemp(),
)
s = get_services(app)
s.store.migrate()
src = Source(id="edx", format="csv", name="edx", mapping="edx-csv")
s.store.save_source(src)
run_harvest(
    s.store,
    src,
    data=Path("tests/fixtures/csv_edx_courses.csv").read_bytes(),
    sinks=s.sinks,
    settings=s.harvest_settings,
)
c = app.test_client()
t = time.process_time()
load(5000)
print(f"gazetteer load (5000): {time.process_time() - t:.2f} s CPU")
g = load(5000)
t = time.process_time()
for i in range(2000):
    g.suggest(["Lyo", "Mün", "Kra", "Par", "Ber"][i % 5], 8)
print(f"gazetteer suggest: {(time.process_time() - t) / 2000 * 1e3:.3f} ms CPU each")


def cpu(url, n=40):
    c.get(url)
    xs = []
    for _ in range(n):
        t = time.process_time()
        r = c.get(url)
        xs.append(time.process_time() - t)
        assert r.status_code == 200
    return statistics.median(xs) * 1e3


for url in [
    "/?q=machine+learning",
    "/?q=machne+lerning",
    "/?q=machne+lerning&verbatim=true",
    "/?q=python+java",
    "/?q=python+-data",
    "/?place=Lyon&within_km=50",
    "/places/suggest?q=Lyo",
]:
    print(f"{url}: median {cpu(url):.1f} ms CPU")
