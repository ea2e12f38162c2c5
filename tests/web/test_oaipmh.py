"""OAI-PMH 2.0 at /oai: every verb, every error that can arise, paging with resumption tokens
across catalogue changes, from/until, sets (providers and eligibility schemes), persistent
deletions, and oai_dc / ELM RDF/XML metadata.

noSetHierarchy and noMetadataFormats cannot arise here: the repository has sets, and every item
is disseminated in both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyoxigraph
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from course_catalogue.catalogue.eligibility import ManualDecision, Scheme, parse_rules
from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.model import first_text
from course_catalogue.catalogue.oai import ListState, TokenCodec
from course_catalogue.catalogue.runs import RunStatus
from course_catalogue.catalogue.schema import courses
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.vocabularies import isced_label
from course_catalogue.search.documents import provider_key
from course_catalogue.services.pipeline import run_harvest
from course_catalogue.services.runtime import get_services
from tests.web.conftest import EDX_CSV

NS = {
    "o": "http://www.openarchives.org/OAI/2.0/",
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "id": "http://www.openarchives.org/OAI/2.0/oai-identifier",
}
REPO = "catalogue.example.org"
DATESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


def oai(client: FlaskClient, query: str = "", **args: str) -> etree._Element:
    """The parsed response to a GET (always HTTP 200, text/xml)."""
    return _parsed(client.get("/oai?" + query, query_string=args or None))


def oai_post(client: FlaskClient, **args: str) -> etree._Element:
    """The parsed response to a POST with a form body."""
    return _parsed(client.post("/oai", data=args))


def _parsed(response: Any) -> etree._Element:
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    return etree.fromstring(response.data)


def error(root: etree._Element) -> str | None:
    codes = root.xpath("o:error/@code", namespaces=NS)
    return codes[0] if codes else None


def ids(root: etree._Element) -> list[str]:
    return [i.rsplit(":", 1)[1] for i in root.xpath("//o:header/o:identifier/text()", namespaces=NS)]


def token(root: etree._Element) -> str | None:
    found = root.xpath("//o:resumptionToken/text()", namespaces=NS)
    return found[0] if found else None


def harvest_all(client: FlaskClient, verb: str, **args: str) -> list[etree._Element]:
    pages = [oai(client, verb=verb, **args)]
    while (next_token := token(pages[-1])) is not None:
        pages.append(oai(client, verb=verb, resumptionToken=next_token))
    return pages


# --- a small catalogue we can change -------------------------------------------------------------


def edx_rows(count: int) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(EDX_CSV.read_text(encoding="utf-8")))
    rows = [row for _, row in zip(range(count), reader, strict=False)]
    return list(reader.fieldnames or []), rows


def to_csv(fields: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class Mini:
    app: Flask
    client: FlaskClient
    fields: list[str]
    rows: list[dict[str, str]]

    def harvest(self, rows: list[dict[str, str]]) -> None:
        services = get_services(self.app)
        source = Source(id="mini", format="csv", name="edX sample", mapping="edx-csv")
        services.store.save_source(source)
        report = run_harvest(
            services.store,
            source,
            data=to_csv(self.fields, rows),
            sinks=services.sinks,
            settings=services.harvest_settings,
        )
        assert report.status is RunStatus.SUCCEEDED, report.error

    def all_ids(self, **flags: Any) -> set[str]:
        return {s.id for s in get_services(self.app).store.iter_courses(include_withdrawn=True, **flags)}

    def set_updated_at(self, course_id: str, moment: datetime) -> None:
        with get_services(self.app).store.writing() as conn:
            conn.execute(courses.update().where(courses.c.id == course_id).values(updated_at=moment))


@pytest.fixture
def mini(app_factory: Callable[..., Flask]) -> Iterator[Mini]:
    app = app_factory(OAI_PAGE_SIZE=3, SECRET_KEY="test-secret")
    get_services(app).store.migrate()
    fields, rows = edx_rows(8)
    made = Mini(app, app.test_client(), fields, rows)
    made.harvest(rows)
    yield made


# --- Identify, ListMetadataFormats, ListSets --------------------------------------------------------


def test_identify(edx_client: FlaskClient) -> None:
    root = oai(edx_client, verb="Identify")
    assert error(root) is None
    identify = root.find("o:Identify", NS)
    assert identify is not None
    text = {child.tag.split("}")[1]: child.text for child in identify}
    assert text["repositoryName"] == "Course catalogue"
    assert text["baseURL"] == "http://localhost/oai"
    assert text["protocolVersion"] == "2.0"
    assert text["deletedRecord"] == "persistent"
    assert text["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    assert text["adminEmail"] == f"webmaster@{REPO}"
    assert etree.XPath(
        "re:test(string(o:earliestDatestamp), $p)",
        namespaces={**NS, "re": "http://exslt.org/regular-expressions"},
    )(identify, p=DATESTAMP)
    assert root.xpath("string(//id:repositoryIdentifier)", namespaces=NS) == REPO
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}
    assert root.findtext("o:responseDate", namespaces=NS).endswith("Z")


def test_post_answers_like_get(edx_client: FlaskClient) -> None:
    got = oai(edx_client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    posted = oai_post(edx_client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert ids(posted) == ids(got) and len(ids(got)) == 100
    assert error(oai_post(edx_client)) == "badVerb"


def test_list_metadata_formats(edx_client: FlaskClient) -> None:
    root = oai(edx_client, verb="ListMetadataFormats")
    assert root.xpath("//o:metadataPrefix/text()", namespaces=NS) == ["oai_dc", "elm"]
    assert root.xpath(
        "//o:metadataFormat[o:metadataPrefix='elm']/o:metadataNamespace/text()", namespaces=NS
    ) == [NS["rdf"]]
    some = ids(oai(edx_client, verb="ListIdentifiers", metadataPrefix="oai_dc"))[0]
    one = oai(edx_client, verb="ListMetadataFormats", identifier=f"oai:{REPO}:{some}")
    assert len(one.xpath("//o:metadataFormat", namespaces=NS)) == 2


def test_list_sets_has_providers_and_schemes(mini: Mini) -> None:
    store = get_services(mini.app).store
    EligibilityStore(store).create_scheme(
        Scheme(
            "skills-account",
            "Skills account",
            None,
            parse_rules([{"id": "en", "field": "languages", "op": "eq", "value": "en"}]),
        )
    )
    specs = oai(mini.client, verb="ListSets").xpath("//o:setSpec/text()", namespaces=NS)
    providers = {
        provider_key(first_text(s.course.provider.name, ("en", *s.course.languages)))
        for s in store.iter_courses()
    }
    assert {"provider", "scheme", "scheme:skills-account"} <= set(specs)
    assert {f"provider:{key}" for key in providers} <= set(specs)


# --- errors -----------------------------------------------------------------------------------------

ERRORS = [
    ("", "badVerb"),
    ("verb=Explain", "badVerb"),
    ("verb=Identify&verb=Identify", "badVerb"),
    ("verb=Identify&extra=1", "badArgument"),
    ("verb=ListRecords", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=elm", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=yesterday", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2021-01-01T00:00:00Z", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2021-02-30", "badArgument"),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2022-01-01&until=2021-01-01", "badArgument"),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&resumptionToken=abc", "badArgument"),
    ("verb=GetRecord&metadataPrefix=oai_dc", "badArgument"),
    ("verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
    (f"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:{REPO}:nope", "idDoesNotExist"),
    ("verb=ListMetadataFormats&identifier=oai:elsewhere.org:nope", "idDoesNotExist"),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&from=2999-01-01", "noRecordsMatch"),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&until=1999-01-01", "noRecordsMatch"),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&set=nosuch", "noRecordsMatch"),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&set=provider:nobody-at-all", "noRecordsMatch"),
    ("verb=ListSets&resumptionToken=abc", "badResumptionToken"),
    ("verb=ListRecords&resumptionToken=abc", "badResumptionToken"),
]


@pytest.mark.parametrize(("query", "code"), ERRORS)
def test_protocol_errors(edx_client: FlaskClient, query: str, code: str) -> None:
    root = oai(edx_client, query)
    assert error(root) == code
    assert root.findtext("o:error", namespaces=NS).strip()
    assert root.find("o:request", NS).text == "http://localhost/oai"
    attributes = root.find("o:request", NS).attrib
    if code in {"badVerb", "badArgument"}:
        assert attributes == {}, "no request attributes after badVerb/badArgument"
    else:
        assert attributes["verb"]
    assert len(root) == 3  # responseDate, request, error: no verb element


def test_get_record_of_a_known_id_with_an_unknown_format(edx_client: FlaskClient) -> None:
    some = ids(oai(edx_client, verb="ListIdentifiers", metadataPrefix="oai_dc"))[0]
    root = oai(edx_client, verb="GetRecord", identifier=f"oai:{REPO}:{some}", metadataPrefix="marc21")
    assert error(root) == "cannotDisseminateFormat"
    assert error(
        oai(edx_client, verb="GetRecord", identifier=f"oai:other.org:{some}", metadataPrefix="elm")
    ) == ("idDoesNotExist")


# --- resumption tokens --------------------------------------------------------------------------------


def test_paging_delivers_every_record_once(edx_client: FlaskClient, edx_app: Flask) -> None:
    pages = harvest_all(edx_client, "ListIdentifiers", metadataPrefix="oai_dc")
    delivered = [i for page in pages for i in ids(page)]
    stored = {s.id for s in get_services(edx_app).store.iter_courses(include_withdrawn=True)}
    assert len(delivered) == len(set(delivered)) == len(stored)
    assert set(delivered) == stored
    first = pages[0].find(".//o:resumptionToken", NS)
    assert first.get("cursor") == "0" and first.get("completeListSize") == str(len(stored))
    expires = datetime.strptime(first.get("expirationDate"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    responded = datetime.strptime(pages[0].findtext("o:responseDate", namespaces=NS), "%Y-%m-%dT%H:%M:%SZ")
    assert expires - responded.replace(tzinfo=UTC) >= timedelta(hours=1)
    last = pages[-1].find(".//o:resumptionToken", NS)
    assert last is not None and not last.text and last.get("cursor") == str(100 * (len(pages) - 1))


def test_forged_expired_and_misdirected_tokens(edx_client: FlaskClient, edx_app: Flask) -> None:
    real = token(oai(edx_client, verb="ListIdentifiers", metadataPrefix="oai_dc"))
    assert real is not None
    forged = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    assert error(oai(edx_client, verb="ListIdentifiers", resumptionToken=forged)) == "badResumptionToken"
    assert error(oai(edx_client, verb="ListRecords", resumptionToken=real)) == "badResumptionToken"
    state = ListState("ListIdentifiers", "oai_dc", None, None, None, after=5, cursor=3)
    codec = TokenCodec(edx_app.config["SECRET_KEY"], timedelta(hours=24))
    old, _ = codec.encode(state, datetime.now(UTC) - timedelta(hours=25))
    assert error(oai(edx_client, verb="ListIdentifiers", resumptionToken=old)) == "badResumptionToken"
    fresh, _ = codec.encode(state, datetime.now(UTC) - timedelta(hours=23))
    assert error(oai(edx_client, verb="ListIdentifiers", resumptionToken=fresh)) is None
    other, _ = TokenCodec("another-secret", timedelta(hours=24)).encode(state, datetime.now(UTC))
    assert error(oai(edx_client, verb="ListIdentifiers", resumptionToken=other)) == "badResumptionToken"


def test_paging_survives_catalogue_changes(mini: Mini) -> None:
    first = oai(mini.client, verb="ListRecords", metadataPrefix="oai_dc")
    seen_first = ids(first)
    assert len(seen_first) == 3 and token(first)
    # between two pages: a delivered course changes, an undelivered one disappears, one is added
    _fields, rows = edx_rows(9)
    changed = [dict(row) for row in rows]
    delivered_row = next(
        i for i, row in enumerate(changed) if any(row["course_url"] in u for u in _urls(first))
    )
    changed[delivered_row]["title"] += " (2nd edition)"
    removed = changed.pop(7)
    mini.harvest(changed)
    pages = [first, *harvest_all_from(mini.client, "ListRecords", token(first))]
    delivered = [i for page in pages for i in ids(page)]
    assert set(delivered) == mini.all_ids(), "nothing is missed"
    store = get_services(mini.app).store
    updated = next(s for s in store.iter_courses() if s.course.title["en"].endswith("(2nd edition)"))
    assert delivered.count(updated.id) == 2, "a record changed behind the cursor comes again"
    gone = next(
        s for s in store.iter_courses(include_withdrawn=True) if s.course.url == removed["course_url"]
    )
    later = [p for p in pages[1:] if gone.id in ids(p)]
    assert later and later[0].xpath(
        f"//o:header[o:identifier='oai:{REPO}:{gone.id}']/@status", namespaces=NS
    ) == ["deleted"]


def _urls(root: etree._Element) -> list[str]:
    return [str(u) for u in root.xpath("//dc:identifier/text()", namespaces=NS)]


def harvest_all_from(client: FlaskClient, verb: str, start: str | None) -> list[etree._Element]:
    pages: list[etree._Element] = []
    while start is not None:
        pages.append(oai(client, verb=verb, resumptionToken=start))
        assert error(pages[-1]) is None
        start = token(pages[-1])
    return pages


# --- deletions, from/until --------------------------------------------------------------------------------


def test_withdrawn_courses_stay_as_deleted_records(mini: Mini) -> None:
    mini.harvest(mini.rows[:7])  # the 8th leaves the feed: withdrawn
    store = get_services(mini.app).store
    gone = next(s for s in store.iter_courses(include_withdrawn=True) if s.status.value == "withdrawn")
    identifier = f"oai:{REPO}:{gone.id}"
    for _ in range(2):  # and it stays so after later harvests
        record = oai(mini.client, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")
        header = record.find(".//o:header", NS)
        assert header.get("status") == "deleted"
        assert record.find(".//o:metadata", NS) is None
        assert header.findtext("o:datestamp", namespaces=NS) == gone.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        listed = [
            p for p in harvest_all(mini.client, "ListRecords", metadataPrefix="elm") if gone.id in ids(p)
        ]
        assert (
            listed[0].xpath(f"//o:record[o:header/o:identifier='{identifier}']/o:metadata", namespaces=NS)
            == []
        )
        mini.harvest(mini.rows[:7])


def test_from_and_until_select_on_the_datestamp(mini: Mini) -> None:
    course_ids = sorted(mini.all_ids())
    base = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    for n, course_id in enumerate(course_ids):  # one course per day, at noon plus n seconds
        mini.set_updated_at(course_id, base + timedelta(days=n, seconds=n, microseconds=500))

    def listed(**window: str) -> set[str]:
        pages = harvest_all(mini.client, "ListIdentifiers", metadataPrefix="oai_dc", **window)
        return {i for page in pages for i in ids(page)}

    assert listed(**{"from": "2024-05-03"}) == set(course_ids[2:])
    assert listed(until="2024-05-02") == set(course_ids[:2])
    assert listed(**{"from": "2024-05-02", "until": "2024-05-02"}) == {course_ids[1]}
    exact = (base + timedelta(days=3, seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert listed(**{"from": exact, "until": exact}) == {course_ids[3]}
    earliest = oai(mini.client, verb="Identify").findtext(".//o:earliestDatestamp", namespaces=NS)
    assert earliest == "2024-05-01T12:00:00Z"


# --- sets -------------------------------------------------------------------------------------------------


def test_provider_sets(edx_client: FlaskClient, edx_app: Flask) -> None:
    store = get_services(edx_app).store
    harvard = {
        s.id
        for s in store.iter_courses(include_withdrawn=True)
        if s.course.provider.name.get("en") == "Harvard University"
    }
    pages = harvest_all(
        edx_client, "ListIdentifiers", metadataPrefix="oai_dc", set="provider:harvard-university"
    )
    found = [i for page in pages for i in ids(page)]
    assert harvard and set(found) == harvard and len(found) == len(harvard)
    specs = {s for page in pages for s in page.xpath("//o:setSpec/text()", namespaces=NS)}
    assert specs == {"provider:harvard-university"}
    assert pages[0].find(".//o:resumptionToken", NS) is None or len(pages) > 1


def test_scheme_sets_follow_eligibility(mini: Mini) -> None:
    eligibility = EligibilityStore(get_services(mini.app).store)
    rules = parse_rules([{"id": "en", "field": "languages", "op": "eq", "value": "en"}])
    eligibility.create_scheme(Scheme("skills-account", "Skills account", None, rules))
    eligible = set(eligibility.eligible_course_ids("skills-account"))
    assert eligible

    def in_scheme() -> dict[str, str | None]:
        pages = harvest_all(
            mini.client, "ListIdentifiers", metadataPrefix="oai_dc", set="scheme:skills-account"
        )
        return {
            h.findtext("o:identifier", namespaces=NS).rsplit(":", 1)[1]: h.get("status")
            for page in pages
            for h in page.xpath("//o:header", namespaces=NS)
        }

    assert in_scheme() == dict.fromkeys(eligible)
    one = sorted(eligible)[0]
    header = oai(mini.client, verb="GetRecord", identifier=f"oai:{REPO}:{one}", metadataPrefix="oai_dc")
    assert "scheme:skills-account" in header.xpath("//o:setSpec/text()", namespaces=NS)
    eligibility.set_decision(
        ManualDecision("skills-account", one, False, "not funded", None, datetime.now(UTC))
    )
    assert in_scheme()[one] == "deleted", "leaving the scheme is a deletion in its set"
    header = oai(mini.client, verb="GetRecord", identifier=f"oai:{REPO}:{one}", metadataPrefix="oai_dc")
    assert header.find(".//o:header", NS).get("status") is None, "the course itself is not deleted"
    assert error(oai(mini.client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="scheme:unknown")) == (
        "noRecordsMatch"
    )


# --- metadata -----------------------------------------------------------------------------------------------


def _course_with_isced(edx_app: Flask) -> Any:
    store = get_services(edx_app).store
    return next(s.course for s in store.iter_courses() if s.course.isced_f and s.course.url)


def test_oai_dc_metadata(edx_client: FlaskClient, edx_app: Flask) -> None:
    course = _course_with_isced(edx_app)
    root = oai(edx_client, verb="GetRecord", identifier=f"oai:{REPO}:{course.id}", metadataPrefix="oai_dc")
    dc = root.find(".//o:metadata/oai_dc:dc", NS)
    assert dc is not None

    def values(name: str) -> list[str]:
        return [str(v) for v in dc.xpath(f"dc:{name}/text()", namespaces=NS)]

    assert values("title") == [course.title["en"]]
    assert dc.find("dc:title", NS).get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert values("publisher") == [course.provider.name["en"]]
    assert values("language") == list(course.languages)

    assert isced_label(course.isced_f[0]) in values("subject")
    assert course.url in values("identifier")
    assert values("type")[0] == "Learning opportunity"


def test_elm_metadata_is_rdf_xml_of_the_course(edx_client: FlaskClient, edx_app: Flask) -> None:
    course = _course_with_isced(edx_app)
    root = oai(edx_client, verb="GetRecord", identifier=f"oai:{REPO}:{course.id}", metadataPrefix="elm")
    rdf = root.find(".//o:metadata/rdf:RDF", NS)
    assert rdf is not None
    triples = list(pyoxigraph.parse(etree.tostring(rdf), format=pyoxigraph.RdfFormat.RDF_XML))
    subject = pyoxigraph.NamedNode(f"http://localhost/courses/{course.id}")
    titles = [
        t.object
        for t in triples
        if t.subject == subject and t.predicate.value == "http://purl.org/dc/terms/title"
    ]
    assert pyoxigraph.Literal(course.title["en"], language="en") in titles
    types = {t.object.value for t in triples if t.subject == subject and t.predicate.value.endswith("#type")}
    assert types == {"http://data.europa.eu/snb/model/elm/LearningOpportunity"}


def test_list_records_in_both_formats_are_well_formed(mini: Mini) -> None:
    for prefix, element in (("oai_dc", "oai_dc:dc"), ("elm", "rdf:RDF")):
        pages = harvest_all(mini.client, "ListRecords", metadataPrefix=prefix)
        records = [r for page in pages for r in page.xpath("//o:record", namespaces=NS)]
        assert len(records) == 8
        assert all(r.find(f"o:metadata/{element}", NS) is not None for r in records)
        assert all(len(r.find("o:metadata", NS)) == 1 for r in records)
