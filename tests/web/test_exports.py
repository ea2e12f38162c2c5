"""Bulk exports: a filtered search as one ELM graph (JSON-LD / Turtle) that the LOQ SHACL shapes
accept, and snapshots of the catalogue as JSON Lines and CSV, with ETags known before streaming."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pyoxigraph
import pytest
import rdflib
import rdflib.compare
from flask import Flask
from flask.testing import FlaskClient
from pyshacl import validate

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.codec import course_from_dict
from course_catalogue.catalogue.elm import shapes_turtle
from course_catalogue.catalogue.exports import CSV_COLUMNS, csv_safe, elm_turtle
from course_catalogue.catalogue.model import first_text
from course_catalogue.services.runtime import get_services
from tests.catalogue.test_elm_export import free_online_course, full_course
from tests.web.test_oaipmh import Mini, edx_rows

ELM = "http://data.europa.eu/snb/model/elm/"
ELM_LO = ELM + "LearningOpportunity"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
BASE = "http://localhost/courses/"


def search_ids(client: FlaskClient, query: str) -> list[str]:
    found: list[str] = []
    page = 1
    while True:
        data = client.get(f"/api/v1/search?{query}&page_size=100&page={page}").get_json()
        found += [hit["id"] for hit in data["hits"]]
        if page >= data["pages"]:
            return found
        page += 1


def graph_of(data: bytes, fmt: str) -> rdflib.Graph:
    """An rdflib graph of Turtle or JSON-LD (pyoxigraph reads the JSON-LD: rdflib's parser warns)."""
    if fmt == "turtle":
        return rdflib.Graph().parse(data=data, format="turtle")
    triples = pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.JSON_LD)
    ntriples = pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES)
    assert ntriples is not None
    return rdflib.Graph().parse(data=ntriples, format="nt")


def opportunities(graph: rdflib.Graph) -> set[str]:
    return {str(s).removeprefix(BASE) for s in graph.subjects(rdflib.RDF.type, rdflib.URIRef(ELM_LO))}


def conformance(graph: rdflib.Graph, *, strict: bool = False) -> tuple[bool, str]:
    shapes = rdflib.Graph().parse(data=shapes_turtle(strict=strict), format="turtle")
    conforms, _, text = validate(graph, shacl_graph=shapes)
    return bool(conforms), str(text)


# --- ELM export of a search -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["q=python", "provider=harvard-university", "q=data&language=en&sort=title"]
)
def test_export_holds_exactly_the_search_result(edx_client: FlaskClient, query: str) -> None:
    wanted = search_ids(edx_client, query)
    assert wanted
    response = edx_client.get(f"/api/v1/export?format=jsonld&{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert response.headers["X-Export-Total"] == str(len(wanted))
    assert response.headers["X-Export-Truncated"] == "false"
    assert 'filename="catalogue-export.jsonld"' in response.headers["Content-Disposition"]
    document = json.loads(response.data)
    assert set(document) == {"@context", "@graph"}
    graph = graph_of(response.data, "jsonld")
    assert opportunities(graph) == set(wanted)
    turtle = edx_client.get(f"/api/v1/export?format=turtle&{query}")
    assert turtle.mimetype == "text/turtle"
    assert opportunities(rdflib.Graph().parse(data=turtle.data, format="turtle")) == set(wanted)
    assert rdflib.compare.isomorphic(graph, rdflib.Graph().parse(data=turtle.data, format="turtle"))


def violations(graph: rdflib.Graph, *, strict: bool = False) -> set[tuple[str, str]]:
    """(focus node fragment, property) of every SHACL violation."""
    shapes = rdflib.Graph().parse(data=shapes_turtle(strict=strict), format="turtle")
    _, results, _ = validate(graph, shacl_graph=shapes)
    return {
        (str(results.value(r, SH.focusNode)).split("#")[-1], str(results.value(r, SH.resultPath)))
        for r in results.subjects(rdflib.RDF.type, SH.ValidationResult)
    }


def test_edx_export_gaps_are_named_by_the_shapes(edx_client: FlaskClient) -> None:
    """The edX feed states no provider country and no learning outcomes, and we invent neither:
    the report names exactly those gaps (an organisation's elm:location; with the specification
    shape switched on, also elm:learningOutcome) and nothing else."""
    graph = graph_of(edx_client.get("/api/v1/export?format=turtle&q=python").data, "turtle")
    assert len(opportunities(graph)) > 5
    published = violations(graph)
    assert {prop for _, prop in published} == {ELM + "location"}
    assert {node.split("-")[0] for node, _ in published} <= {"provider", "awarding"}
    strict = violations(graph, strict=True)
    assert {prop for _, prop in strict} == {ELM + "location", ELM + "learningOutcome"}


def test_complete_courses_in_one_graph_conform(edx_app: Flask) -> None:
    """Hand-built complete courses conform strictly; edX courses conform to the published shapes
    once their organisations have the country the feed lacks."""
    graph = graph_of(b"".join(elm_turtle([full_course(), free_online_course()], BASE)), "turtle")
    assert opportunities(graph) == {"c-full", "c-mooc"}
    for strict in (False, True):
        conforms, report = conformance(graph, strict=strict)
        assert conforms, report
    completed = [
        replace(
            s.course,
            provider=replace(s.course.provider, country="USA"),
            awarding_bodies=tuple(replace(body, country="USA") for body in s.course.awarding_bodies),
        )
        for s in list(get_services(edx_app).store.iter_courses())[:25]
    ]
    mixed = graph_of(b"".join(elm_turtle([full_course(), *completed], BASE)), "turtle")
    assert len(opportunities(mixed)) == 26
    conforms, report = conformance(mixed)
    assert conforms, report


def test_export_is_capped(app_factory: Callable[..., Flask]) -> None:
    mini = _mini(app_factory, EXPORT_MAX_RECORDS=3)
    response = mini.client.get("/api/v1/export?format=turtle")
    assert response.headers["X-Export-Total"] == "8"
    assert response.headers["X-Export-Count"] == "3"
    assert response.headers["X-Export-Truncated"] == "true"
    assert len(opportunities(rdflib.Graph().parse(data=response.data, format="turtle"))) == 3


@pytest.mark.parametrize("query", ["format=xml", "page=2", "page_size=5", "nonsense=1", "eqf=x&ects=lots"])
def test_bad_export_requests(edx_client: FlaskClient, query: str) -> None:
    response = edx_client.get(f"/api/v1/export?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_query"


def test_unchanged_export_is_not_modified(app_factory: Callable[..., Flask]) -> None:
    mini = _mini(app_factory)
    first = mini.client.get("/api/v1/export?format=jsonld&language=en")
    etag = first.headers["ETag"]
    again = mini.client.get("/api/v1/export?format=jsonld&language=en", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = mini.client.get("/api/v1/export?format=turtle&language=en", headers={"If-None-Match": etag})
    assert other.status_code == 200
    mini.harvest(mini.rows[:7])
    after = mini.client.get("/api/v1/export?format=jsonld&language=en", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag


# --- snapshots ---------------------------------------------------------------------------------------


def _mini(app_factory: Callable[..., Flask], **config: object) -> Mini:
    app = app_factory(**config)
    get_services(app).store.migrate()
    fields, rows = edx_rows(8)
    mini = Mini(app, app.test_client(), fields, rows)
    mini.harvest(rows)
    return mini


def test_jsonl_snapshot_round_trips(edx_client: FlaskClient, edx_app: Flask) -> None:
    response = edx_client.get("/api/v1/snapshot.jsonl")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    seq = response.headers["X-Catalogue-Seq"]
    assert f'filename="catalogue-snapshot-{seq}.jsonl"' in response.headers["Content-Disposition"]
    lines = response.data.decode().splitlines()
    stored = {s.id: s for s in get_services(edx_app).store.iter_courses()}
    assert len(lines) == len(stored)
    for line in lines:
        data = json.loads(line)
        assert set(data) == {"course", "status", "updated_at", "seq"}
        course = course_from_dict(data["course"])
        assert course == stored[course.id].course
        assert data["status"] == "active"
        assert datetime.fromisoformat(data["updated_at"]) == stored[course.id].updated_at


def test_csv_snapshot_columns_and_values(edx_client: FlaskClient, edx_app: Flask) -> None:
    response = edx_client.get("/api/v1/snapshot.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"id,title,"), "UTF-8 without a byte-order mark"
    assert b"\r\n" in response.data
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    stored = {s.id: s for s in get_services(edx_app).store.iter_courses()}
    assert len(rows) == len(stored)
    row = next(r for r in rows if stored[r["id"]].course.isced_f)
    course = stored[row["id"]].course
    assert row["title"] == course.title["en"]
    assert row["provider"] == course.provider.name["en"]
    assert row["languages"] == ";".join(course.languages)
    assert row["isced_f"] == ";".join(course.isced_f)
    assert row["status"] == "active"
    assert row["url"] == course.url


def test_csv_cells_cannot_become_formulas_and_are_quoted(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    get_services(app).store.migrate()
    fields, rows = edx_rows(4)
    rows[0]["title"] = '=HYPERLINK("http://evil.example","click")'
    rows[1]["title"] = "+1 Course, with a comma"
    rows[2]["title"] = 'Line one\nline "two"'
    rows[3]["institution"] = "@SUM(A1:A9)"
    mini = Mini(app, app.test_client(), fields, rows)
    mini.harvest(rows)
    body = mini.client.get("/api/v1/snapshot.csv").data.decode()
    cells = {r["title"]: r for r in csv.DictReader(io.StringIO(body, newline=""))}
    assert '\'=HYPERLINK("http://evil.example","click")' in cells
    assert "'+1 Course, with a comma" in cells
    assert 'Line one\nline "two"' in cells
    assert any(r["provider"] == "'@SUM(A1:A9)" for r in cells.values())
    assert '"\'=HYPERLINK(""http://evil.example"",""click"")"' in body, "RFC 4180 quote doubling"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_csv_safe(value: str, safe: str) -> None:
    assert csv_safe(value) == safe


# Issue 22, class 18: what spreadsheets still run although the first character is not "=" etc.
HIDDEN_FORMULAS = [
    "\x00=1+2",  # NUL
    "\ufeff=1+2",  # byte-order mark
    '\u200b=HYPERLINK("http://evil.example")',  # zero-width space
    "\u200c+1",  # zero-width non-joiner
    "\u200d-1",  # zero-width joiner
    "\u2060@SUM(A1)",  # word joiner
    "\u00ad=1",  # soft hyphen
    "\u200e=1",  # left-to-right mark
    "\u202e=1",  # right-to-left override
    "\x0b=1",  # vertical tab
    " =1+2",  # a blank first
    "\u00a0=1+2",  # no-break space
    "\u3000=1+2",  # ideographic space
    "＝1+2",  # fullwidth equals
    "＋1",  # fullwidth plus
    "－1",  # fullwidth hyphen-minus
    "＠SUM(A1)",  # fullwidth commercial at
    "﹦1",  # small equals sign
    "﹢1",  # small plus sign
    "﹣1",  # small hyphen-minus
    "﹫SUM(A1)",  # small commercial at
    "\u2212 1",  # minus sign
    "\ufeff\u200b\x00＝1",  # several of them
]


@pytest.mark.parametrize("value", HIDDEN_FORMULAS)
def test_csv_safe_sees_through_invisible_and_compatibility_characters(value: str) -> None:
    assert csv_safe(value) == "'" + value, "guarded, and the original text kept after the guard"


@pytest.mark.parametrize(
    "value", ["Plain", "\u200bPlain", "\ufeffCours", "１２ ECTS", "e=mc²", "Ａ+B", "50%"]
)
def test_csv_safe_leaves_text_that_is_no_formula(value: str) -> None:
    assert csv_safe(value) == value


def test_hidden_formulas_are_guarded_in_the_snapshot(app_factory: Callable[..., Flask]) -> None:
    app = app_factory()
    get_services(app).store.migrate()
    fields, rows = edx_rows(4)
    rows[0]["title"] = '\u200b=HYPERLINK("http://evil.example","x")'
    rows[1]["title"] = "＝1+2 Course"
    rows[2]["title"] = "\ufeff@SUM(A1:A9)"
    mini = Mini(app, app.test_client(), fields, rows)
    mini.harvest(rows)
    body = mini.client.get("/api/v1/snapshot.csv").data.decode()
    titles = {r["title"] for r in csv.DictReader(io.StringIO(body, newline=""))}
    stored = {first_text(s.course.title, s.course.languages) for s in get_services(app).store.iter_courses()}
    for title in (rows[0]["title"], rows[1]["title"], rows[2]["title"]):
        kept = next((t for t in stored if t.endswith(title.lstrip("\u200b\ufeff"))), None)
        assert kept is not None, (title, stored)
        assert "'" + kept in titles, (kept, titles)


def test_snapshots_answer_304_until_the_catalogue_changes(app_factory: Callable[..., Flask]) -> None:
    mini = _mini(app_factory)
    for path in ("/api/v1/snapshot.jsonl", "/api/v1/snapshot.csv"):
        first = mini.client.get(path)
        etag = first.headers["ETag"]
        again = mini.client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["X-Catalogue-Seq"] == first.headers["X-Catalogue-Seq"]
    jsonl_etag = mini.client.get("/api/v1/snapshot.jsonl").headers["ETag"]
    mini.harvest(mini.rows[:7])  # a withdrawal changes the catalogue
    changed = mini.client.get("/api/v1/snapshot.jsonl", headers={"If-None-Match": jsonl_etag})
    assert changed.status_code == 200
    assert len(changed.data.decode().splitlines()) == 7, "withdrawn courses are not in a snapshot"


def test_snapshots_take_no_parameters(edx_client: FlaskClient) -> None:
    assert edx_client.get("/api/v1/snapshot.csv?q=x").status_code == 400


def test_withdrawn_courses_are_not_exported(app_factory: Callable[..., Flask]) -> None:
    mini = _mini(app_factory)
    mini.harvest(mini.rows[:7])
    store = get_services(mini.app).store
    gone = next(
        s.id for s in store.iter_courses(include_withdrawn=True) if s.status is CourseStatus.WITHDRAWN
    )
    exported = opportunities(graph_of(mini.client.get("/api/v1/export?format=turtle").data, "turtle"))
    assert len(exported) == 7 and gone not in exported
