"""Build the ELM LOQ graph of one course: LearningOpportunity -> LearningAchievementSpecification.

Modelling (docs/formats.md §3): the bookable offer (dates, price, mode, schedule, provider, place,
default language) is the `elm:LearningOpportunity`; what is learned and awarded (ISCED-F,
outcomes, ECTS, EQF, entry requirements, assessment, awarding bodies) is its
`elm:LearningAchievementSpecification`. Every controlled-vocabulary IRI is typed
`skos:Concept` with its `skos:inScheme` (the shapes' `sh:class` needs it, docs/formats.md §6.2).

We export what the record has and nothing invented: a course without, say, an ISCED-F code
gives a graph the LOQ shapes reject, and the validation report names the missing property.
Node IRIs hang off `opportunity_iri(course, base)`: the opportunity itself, and `#las`,
`#provider`, `#outcome-1` ... for the nodes it owns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from pyoxigraph import Literal, NamedNode, Triple

from course_catalogue.catalogue import vocabularies as vocab
from course_catalogue.catalogue.model import Course, LangText, LearningOutcome, Location, Organisation

ELM = "http://data.europa.eu/snb/model/elm/"
DC = "http://purl.org/dc/terms/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
FOAF = "http://xmlns.com/foaf/0.1/"
ROV = "http://www.w3.org/ns/regorg#"
ADMS = "http://www.w3.org/ns/adms#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"

ECTS = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
SKILL_TYPE = "http://data.europa.eu/snb/skill-type/"
_SNB = re.compile(r"^(http://data\.europa\.eu/snb/[a-z-]+/)[^/]+$")
_AUTHORITY = re.compile(r"^(http://publications\.europa\.eu/resource/authority/[a-z-]+)/[^/]+$")
# xsd:duration: no weeks, fractions only on seconds (docs/formats.md §6.7)
_XSD_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_WEEKS = re.compile(r"^P(\d+)W$")

Node = NamedNode


def opportunity_iri(course: Course, base: str) -> str:
    """The IRI of the course's learning opportunity: `base` + course id."""
    return f"{base}{course.id}"


def concept_scheme(iri: str) -> str | None:
    """The concept scheme of an EU vocabulary IRI (SNB `.../25831c2`, or the authority table)."""
    if match := _SNB.match(iri):
        return match.group(1) + "25831c2"
    if match := _AUTHORITY.match(iri):
        return match.group(1)
    return None


def xsd_duration(value: str | None) -> str | None:
    """An ISO 8601 duration as xsd:duration ("P7W" -> "P49D"); None when it cannot be one."""
    if not value:
        return None
    value = value.strip().upper()
    if weeks := _WEEKS.match(value):
        return f"P{int(weeks.group(1)) * 7}D"
    return value if _XSD_DURATION.match(value) else None


def hours_duration(hours: Decimal) -> str:
    """Hours as xsd:duration: 40 -> "PT40H", 2.5 -> "PT2H30M"."""
    minutes = int((hours * 60).to_integral_value())
    whole, rest = divmod(minutes, 60)
    return "PT" + (f"{whole}H" if whole else "") + (f"{rest}M" if rest or not whole else "")


class _Graph:
    """Accumulates triples and the concepts they use (typed at the end)."""

    def __init__(self, course: Course, base: str) -> None:
        self.course = course
        self.root = opportunity_iri(course, base)
        self.triples: list[Triple] = []
        self.concepts: dict[str, str] = {}  # IRI -> English label ("" when unknown)
        self.counts: dict[str, int] = {}
        # "und" text takes the course's only language (docs/formats.md: title is rdf:langString)
        self.implied = course.languages[0] if len(course.languages) == 1 else "und"

    def node(self, fragment: str) -> NamedNode:
        return NamedNode(f"{self.root}#{fragment}")

    def fresh(self, kind: str) -> NamedNode:
        """A new numbered node ("#note-3"): named, not blank, so the output is the same every time."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.node(f"{kind}-{self.counts[kind]}")

    def add(self, subject: Node, prop: str, obj: NamedNode | Literal) -> None:
        self.triples.append(Triple(subject, NamedNode(prop), obj))

    def typed(self, subject: Node, cls: str) -> Node:
        self.add(subject, RDF + "type", NamedNode(cls))
        return subject

    def text(self, subject: Node, prop: str, value: LangText) -> None:
        for tag, text in value.items():
            lang = self.implied if tag == "und" else tag
            self.add(subject, prop, Literal(text, language=lang))

    def concept(self, subject: Node, prop: str, iri: str | None, label: str = "") -> None:
        if not iri:
            return
        self.add(subject, prop, NamedNode(iri))
        self.concepts.setdefault(iri, label)

    def note(self, subject: Node, prop: str, value: LangText | str | None) -> None:
        if not value:
            return
        note = self.typed(self.fresh("note"), ELM + "Note")
        self.text(note, ELM + "noteLiteral", {"und": value} if isinstance(value, str) else value)
        self.add(subject, prop, note)

    def web_resource(self, subject: Node, prop: str, url: str | None) -> None:
        if not url:
            return
        page = self.typed(self.fresh("page"), ELM + "WebResource")
        self.add(page, ELM + "contentUrl", Literal(url, datatype=NamedNode(XSD + "anyURI")))
        self.add(subject, prop, page)

    def country(self, subject: Node, code: str | None) -> None:
        term = vocab.countries().get(code or "")
        if term is not None:
            self.concept(subject, ELM + "countryCode", term.uri, term.label)


def course_triples(course: Course, base: str) -> list[Triple]:
    """Every triple of the course's ELM graph, CV concept typing included.

    `base` is the IRI prefix of our records (e.g. "https://catalogue.example.org/courses/");
    raises ValueError when it does not make valid IRIs.
    """
    graph = _Graph(course, base)
    las = _specification(graph)
    _opportunity(graph, las)
    return _grouped(graph.root, graph.triples) + list(_concept_triples(graph.concepts))


def _grouped(root: str, triples: list[Triple]) -> list[Triple]:
    """Triples grouped by subject (the opportunity first), so each node is written once."""
    groups: dict[str, list[Triple]] = {str(NamedNode(root)): []}
    for triple in triples:
        groups.setdefault(str(triple.subject), []).append(triple)
    return [triple for group in groups.values() for triple in group]


def _opportunity(g: _Graph, las: Node) -> None:
    c = g.course
    lo = g.typed(NamedNode(g.root), ELM + "LearningOpportunity")
    g.text(lo, DC + "title", c.title)
    g.text(lo, DC + "description", c.description)
    g.concept(lo, DC + "type", c.opportunity_type)
    g.web_resource(lo, FOAF + "homepage", c.url)
    if c.start_date or c.end_date:
        period = g.typed(g.node("period"), DC + "PeriodOfTime")
        for prop, day in (("startDate", c.start_date), ("endDate", c.end_date)):
            if day is not None:
                g.add(period, ELM + prop, _date_time(day))
        g.add(lo, DC + "temporal", period)
    if (duration := xsd_duration(c.duration)) is not None:
        g.add(lo, ELM + "duration", Literal(duration, datatype=NamedNode(XSD + "duration")))
    for code in c.modes:
        if (mode := vocab.MODES.get(code)) is not None:
            g.concept(lo, ELM + "mode", mode.uri, mode.label)
    if (schedule := vocab.SCHEDULES.get(c.schedule or "")) is not None:
        g.concept(lo, ELM + "learningSchedule", schedule.uri, schedule.label)
    _price(g, lo)
    g.add(lo, ELM + "providedBy", _organisation(g, c.provider, "provider"))
    for number, location in enumerate(c.locations, 1):
        if location.country:  # an elm:Address needs its country
            g.add(lo, ELM + "location", _location(g, location, f"location-{number}"))
    g.add(lo, ELM + "learningAchievementSpecification", las)
    if c.languages and (uri := vocab.language_uri(c.languages[0])):
        g.concept(lo, ELM + "defaultLanguage", uri, vocab.language_label(c.languages[0]))
    g.note(lo, ELM + "additionalNote", c.further_information)


def _specification(g: _Graph) -> Node:
    c = g.course
    las = g.typed(g.node("las"), ELM + "LearningAchievementSpecification")
    g.text(las, DC + "title", c.title)
    for code in c.isced_f:
        if (field := vocab.isced_fields().get(code)) is not None:
            g.concept(las, ELM + "ISCEDFCode", field.uri, field.label)
    for code in c.languages:
        g.concept(las, DC + "language", vocab.language_uri(code), vocab.language_label(code))
    for number, outcome in enumerate(c.learning_outcomes, 1):
        g.add(las, ELM + "learningOutcome", _outcome(g, outcome, number))
    if c.workload.ects is not None:
        credit = g.typed(g.node("ects"), ELM + "CreditPoint")
        g.concept(credit, ELM + "framework", ECTS, "European Credit Transfer System")
        g.add(credit, ELM + "point", Literal(format(c.workload.ects.normalize(), "f")))
        g.add(las, ELM + "creditPoint", credit)
    if c.workload.hours is not None and c.workload.hours > 0:
        volume = hours_duration(c.workload.hours)
        g.add(las, ELM + "volumeOfLearning", Literal(volume, datatype=NamedNode(XSD + "duration")))
    if (level := vocab.eqf_levels().get(c.eqf_level or 0)) is not None:
        g.concept(las, ELM + "educationLevel", level.uri, level.label)
    g.note(las, ELM + "entryRequirement", c.prerequisites)
    for note in (c.quality_assurance, c.stackability):
        g.note(las, ELM + "additionalNote", note)
    if c.assessment or c.assessment_types or c.grade or c.identity_verification:
        g.add(las, ELM + "provenBy", _assessment(g))
    if c.awarding_bodies:
        awarding = g.typed(g.node("awarding"), ELM + "AwardingOpportunity")
        for number, body in enumerate(c.awarding_bodies, 1):
            g.add(awarding, ELM + "awardingBody", _organisation(g, body, f"awarding-body-{number}"))
        g.add(awarding, ELM + "learningAchievementSpecification", las)
        g.add(las, ELM + "awardingOpportunity", awarding)
    return las


def _outcome(g: _Graph, outcome: LearningOutcome, number: int) -> Node:
    node = g.typed(g.node(f"outcome-{number}"), ELM + "LearningOutcome")
    g.text(node, DC + "title", outcome.text)
    if outcome.skill_type in {"knowledge", "skill"}:
        g.concept(node, DC + "type", SKILL_TYPE + outcome.skill_type, outcome.skill_type.capitalize())
    g.concept(node, ELM + "relatedESCOSkill", outcome.esco_uri)
    return node


def _assessment(g: _Graph) -> Node:
    c = g.course
    spec = g.typed(g.node("assessment"), ELM + "LearningAssessmentSpecification")
    g.text(spec, DC + "title", c.title)  # the assessment of this course: it has no name of its own
    g.text(spec, DC + "description", c.assessment)
    for iri in c.assessment_types:
        g.concept(spec, DC + "type", iri)
    g.note(spec, ELM + "additionalNote", c.grade)
    g.note(spec, ELM + "additionalNote", c.identity_verification)
    return spec


def _organisation(g: _Graph, org: Organisation, fragment: str) -> Node:
    node = g.typed(g.node(fragment), ELM + "Organisation")
    g.text(node, ROV + "legalName", org.name)
    if org.country:
        g.add(node, ELM + "location", _location(g, Location(country=org.country), f"{fragment}-location"))
    g.web_resource(node, FOAF + "homepage", org.homepage)
    if org.identifier:
        identifier = g.typed(g.fresh("identifier"), ELM + "Identifier")
        g.add(identifier, SKOS + "notation", Literal(org.identifier))
        g.add(node, ADMS + "identifier", identifier)
    return node


def _location(g: _Graph, location: Location, fragment: str) -> Node:
    node = g.typed(g.node(fragment), DC + "Location")
    address = g.typed(g.fresh("address"), ELM + "Address")
    g.country(address, location.country)
    parts = [location.address, location.postcode, location.city, location.region]
    g.note(address, ELM + "fullAddress", ", ".join(p for p in parts if p) or None)
    g.add(node, ELM + "address", address)
    if location.city:
        g.add(node, ELM + "geographicName", Literal(location.city, language=g.implied))
    return node


def _price(g: _Graph, lo: Node) -> None:
    price = g.course.price
    if price is None:
        return
    detail = g.typed(g.node("price"), ELM + "PriceDetail")
    currency = vocab.currencies().get(price.currency or "")
    if currency is not None:
        amount = g.typed(g.fresh("amount"), ELM + "Amount")
        g.concept(amount, ELM + "unit", currency.uri, currency.label)
        g.add(amount, RDF + "value", Literal(str(price.amount), datatype=NamedNode(XSD + "decimal")))
        g.add(detail, ELM + "amount", amount)
    elif price.is_free:
        g.add(detail, SKOS + "prefLabel", Literal("Free", language="en"))
    if price.note:
        g.add(detail, DC + "description", Literal(price.note, language=g.implied))
    g.add(lo, ELM + "priceDetail", detail)


def _date_time(day: date) -> Literal:
    return Literal(f"{day.isoformat()}T00:00:00", datatype=NamedNode(XSD + "dateTime"))


def _concept_triples(concepts: dict[str, str]) -> Iterable[Triple]:
    schemes: set[str] = set()
    for iri, label in concepts.items():
        node = NamedNode(iri)
        yield Triple(node, NamedNode(RDF + "type"), NamedNode(SKOS + "Concept"))
        # ESCO skills stay without a scheme: LOQ-mdr wants a scheme no ESCO skill has (docs/formats.md §6.5)
        if (scheme := concept_scheme(iri)) is not None:
            yield Triple(node, NamedNode(SKOS + "inScheme"), NamedNode(scheme))
            schemes.add(scheme)
        if label:
            yield Triple(node, NamedNode(SKOS + "prefLabel"), Literal(label, language="en"))
    for scheme in sorted(schemes):
        yield Triple(NamedNode(scheme), NamedNode(RDF + "type"), NamedNode(SKOS + "ConceptScheme"))
