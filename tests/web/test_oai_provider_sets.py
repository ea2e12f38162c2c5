"""Issue 22, class 10: OAI-PMH provider sets are answered from an index, not by reading the whole
catalogue per request (which took 25-45 s per anonymous request on ~350k courses).

A catalogue of 1,500 generated courses (bench.generate: Zipf-like providers, so a few big ones and
a long tail) is harvested through the real pipeline. A provider set's list reads at most a page
(+1) of course rows from the store however big the catalogue, ListSets never reads a record,
and the answers are those a scan would give: every member, in seq order, across resumption
tokens, agreeing with the search `provider` facet. Timings on 100k courses are in RELIABILITY.md.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient

import course_catalogue.catalogue.oai.records as oai_records
from bench.generate import write_csv
from course_catalogue.catalogue.provider_keys import MAX_INDEX_KEY, index_key, slug
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.schema import courses
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import open_engine
from course_catalogue.mappings.spec import load_spec
from course_catalogue.search.documents import provider_key
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from tests.web.conftest import make_app

BENCH_SPEC = Path(__file__).resolve().parents[2] / "bench" / "specs" / "bench-csv.toml"
SIZE = 1500
PAGE = 5
OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"


def _feed(size: int, seed: int = 7) -> bytes:
    out = io.StringIO()
    write_csv(out, size, seed)
    return out.getvalue().encode()


def _harvest(app: Flask, data: bytes, source_id: str = "bench") -> None:
    services = get_services(app)
    try:
        services.store.get_source(source_id)
    except Exception:
        services.store.save_source(Source(source_id, "csv", name=source_id, mapping=str(BENCH_SPEC)))
    report = run_harvest(
        services.store,
        services.store.get_source(source_id),
        data=data,
        sinks=services.sinks,
        settings=services.harvest_settings,
    )
    assert report.status is RunStatus.SUCCEEDED, report.error


def _build(tmp_path: Path, **config: Any) -> Flask:
    app = make_app(tmp_path / "instance", OAI_PAGE_SIZE=PAGE, **config)
    get_services(app).store.migrate()
    load_spec(str(BENCH_SPEC))
    _harvest(app, _feed(SIZE))
    return app


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = _build(tmp_path_factory.mktemp("oai-sets"))
    yield app
    get_services(app).close()


def _members(app: Flask) -> dict[str, list[str]]:
    """Provider key -> ids of its courses in seq order, from decoding every stored course."""
    members: dict[str, list[str]] = {}
    for stored in sorted(get_services(app).store.iter_courses(include_withdrawn=True), key=lambda s: s.seq):
        name = stored.course.provider.name
        display = next(
            (name[t] for t in ("en", *stored.course.languages) if name.get(t)), next(iter(name.values()), "")
        )
        key = provider_key(display)
        if key:
            members.setdefault(key, []).append(stored.id)
    return members


def _list(client: FlaskClient, query: str) -> tuple[list[str], list[list[str]]]:
    """Every identifier of a list request, following resumption tokens; and the ids per page."""
    ids: list[str] = []
    pages: list[list[str]] = []
    url = f"/oai?{query}"
    while True:
        body = client.get(url).get_data(as_text=True)
        page = re.findall(r"<identifier>oai:[^:]+:([^<]+)</identifier>", body)
        if not page:
            assert "noRecordsMatch" in body, body[:500]
            return ids, pages
        ids += page
        pages.append(page)
        token = re.search(r"<resumptionToken[^>]*>([^<]+)</resumptionToken>", body)
        if not token:
            return ids, pages
        url = f"/oai?verb=ListIdentifiers&resumptionToken={token.group(1)}"


class RowCounter:
    """Counts the course rows the OAI records module reads from the store."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = oai_records.stored_courses

        def counting(*args: Any, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            self.rows += len(found)
            return found

        monkeypatch.setattr(oai_records, "stored_courses", counting)


def test_a_small_provider_set_reads_one_page_not_the_catalogue(
    catalogue: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = _members(catalogue)
    sizes = Counter({key: len(ids) for key, ids in members.items()})
    small = next(key for key, n in sorted(sizes.items(), key=lambda kv: (kv[1], kv[0])) if n >= 2)
    big = sizes.most_common(1)[0][0]
    assert sizes[big] > 10 * PAGE and sum(sizes.values()) >= SIZE * 0.9
    counter = RowCounter(monkeypatch)
    client = catalogue.test_client()
    first = client.get(f"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:{small}")
    assert first.status_code == 200
    assert counter.rows <= PAGE + 1, f"read {counter.rows} course rows for one page of a small set"
    counter.rows = 0
    client.get(f"/oai?verb=ListRecords&metadataPrefix=oai_dc&set=provider:{big}")
    assert counter.rows <= PAGE + 1, f"read {counter.rows} course rows for one page of a big set"


def test_provider_sets_hold_exactly_their_members_in_seq_order(catalogue: Flask) -> None:
    members = _members(catalogue)
    client = catalogue.test_client()
    checked = 0
    for key, expected in (
        sorted(members.items(), key=lambda kv: -len(kv[1]))[:4] + sorted(members.items())[:4]
    ):
        ids, pages = _list(client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:{key}")
        assert ids == expected, key
        assert all(len(page) <= PAGE for page in pages)
        checked += 1
    assert checked == 8
    everything, _ = _list(client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider")
    assert sorted(everything) == sorted(i for ids in members.values() for i in ids)
    nothing = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:no-such-provider")
    assert "noRecordsMatch" in nothing.get_data(as_text=True)


def test_list_sets_groups_the_index_and_reads_no_record(catalogue: Flask) -> None:
    engine = get_services(catalogue).store._engine  # the statements ListSets sends
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        body = catalogue.test_client().get("/oai?verb=ListSets").get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    specs = re.findall(r"<setSpec>provider:([^<]+)</setSpec>", body)
    assert sorted(specs) == sorted(_members(catalogue)), "one set per provider key"
    names = dict(
        re.findall(r"<setSpec>provider:([^<]+)</setSpec>\s*<setName>Provider: ([^<]+)</setName>", body)
    )
    assert all(slug(re.sub(r"&amp;", "&", name)) == key for key, name in names.items())
    reads_records = [s for s in statements if re.search(r"\brecord\b", s) and "courses" in s]
    assert reads_records == [], reads_records


def test_the_set_agrees_with_the_search_facet(catalogue: Flask) -> None:
    client = catalogue.test_client()
    facet = client.get("/api/v1/search?facets=provider&page_size=1&include_past=true").get_json()["facets"][0]
    for value in facet["values"][:5]:
        ids, _ = _list(client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:{value['value']}")
        assert len(ids) == value["count"], value  # nothing withdrawn here: the counts are equal


def test_a_changed_provider_name_moves_the_course(tmp_path: Path) -> None:
    app = make_app(tmp_path / "i", OAI_PAGE_SIZE=50)
    get_services(app).store.migrate()
    feed = _feed(30, seed=3).decode()
    _harvest(app, feed.encode())
    before = _members(app)
    key, ids = next((k, v) for k, v in sorted(before.items()) if len(v) == 1)
    course = get_services(app).store.get_course(ids[0]).course
    old_name = course.provider.name.get("en") or next(iter(course.provider.name.values()))
    renamed = feed.replace(old_name, "Renamed Provider Academy")
    _harvest(app, renamed.encode())
    client = app.test_client()
    moved, _ = _list(
        client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:renamed-provider-academy"
    )
    assert ids[0] in moved
    left, _ = _list(client, f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:{key}")
    assert ids[0] not in left
    get_services(app).close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "postgresql":
        return {"DATABASE_URL": request.getfixturevalue("postgres_url")}
    return {}


def test_a_provider_name_of_any_length_has_a_working_set(
    tmp_path: Path, backend_config: dict[str, Any]
) -> None:
    app = make_app(tmp_path / "i", **backend_config)
    get_services(app).store.migrate()
    feed = _feed(5, seed=5).decode()
    first = next(iter(_members_of_feed(feed)))
    huge = "Institute of " + "Very Long Names " * 400  # 6,400 characters: beyond any index entry
    _harvest(app, feed.replace(first, huge).encode())
    key = slug(huge)
    assert key is not None and len(key) > MAX_INDEX_KEY and len(index_key(key)) == MAX_INDEX_KEY
    ids, _ = _list(app.test_client(), f"verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:{key}")
    assert ids and len(ids) == len(_members(app)[key])
    sets = app.test_client().get("/oai?verb=ListSets").get_data(as_text=True)
    assert f"<setSpec>provider:{key}</setSpec>" in sets
    get_services(app).close()


def _members_of_feed(feed: str) -> list[str]:
    import csv

    return list(dict.fromkeys(row["provider"] for row in csv.DictReader(io.StringIO(feed))))


def test_the_migration_fills_the_provider_columns_of_existing_courses(
    tmp_path: Path, backend_config: dict[str, Any]
) -> None:
    app = make_app(tmp_path / "i", **backend_config)
    store = get_services(app).store
    store.migrate()
    _harvest(app, _feed(40, seed=11))
    query = sa.select(courses.c.id, courses.c.provider_key, courses.c.provider_name).order_by(courses.c.id)
    with store.reading() as conn:
        written = conn.execute(query).all()
    assert all(key for _, key, _ in written)
    config = Config()
    config.set_main_option("script_location", "course_catalogue.catalogue:migrations")
    engine = open_engine(app.config["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")  # the columns are gone
            command.upgrade(config, "head")  # and computed again from the stored records
        with engine.connect() as conn:
            assert conn.execute(query).all() == written
    finally:
        engine.dispose()
    get_services(app).close()


def test_a_scheme_set_with_a_window_is_selected_by_the_database(
    catalogue: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import course_catalogue.catalogue.eligibility_store as eligibility_store
    import course_catalogue.catalogue.oai.schemes as oai_schemes
    from course_catalogue.catalogue.account_store import AccountStore
    from course_catalogue.catalogue.accounts import Role

    store = get_services(catalogue).store
    accounts = AccountStore(store)
    accounts.create_account("reg-oai", "Registry", Role.REGISTRY)
    token = {"Authorization": f"Bearer {accounts.issue_token('reg-oai', 't').plaintext}"}
    client = catalogue.test_client()
    rules = [{"id": "any-level", "field": "eqf_level", "op": "between", "value": [1, 8]}]
    created = client.post(
        "/api/v1/schemes", json={"id": "wide", "name": "Wide", "rules": rules}, headers=token
    )
    assert created.status_code == 202, created.get_json()  # evaluated in the request (SCHEME_JOBS=inline)
    everyone, _ = _list(client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=scheme:wide")
    assert len(everyone) > SIZE // 2
    rows = {"n": 0}
    for module in (oai_records, oai_schemes, eligibility_store):
        original = module.stored_courses

        def counting(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            found = _original(*args, **kwargs)
            rows["n"] += len(found)
            return found

        monkeypatch.setattr(module, "stored_courses", counting)
    late = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=scheme:wide&from=2999-01-01")
    assert "noRecordsMatch" in late.get_data(as_text=True)
    assert rows["n"] == 0, f"read {rows['n']} course rows to find that no entry is in the window"
    within, _ = _list(client, "verb=ListIdentifiers&metadataPrefix=oai_dc&set=scheme:wide&until=2999-01-01")
    assert within == everyone
