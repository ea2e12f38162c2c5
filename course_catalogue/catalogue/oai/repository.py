"""The OAI-PMH 2.0 repository: answers the six verbs with the protocol's XML documents.

`OaiRepository.respond(arguments)` takes the request's arguments (each name with all its values)
and returns the complete response document as UTF-8 bytes; protocol errors are answered in the
document (`<error code="...">`), as the specification requires, never as exceptions. The HTTP
layer (web/oaipmh.py) only collects arguments and sends the bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from course_catalogue.catalogue.oai.metadata import FORMATS, xml_text
from course_catalogue.catalogue.oai.protocol import (
    GRANULARITY,
    OAI_NS,
    OAI_SCHEMA,
    XSI_NS,
    OaiError,
    OaiRequest,
    format_datestamp,
    parse_request,
    window,
)
from course_catalogue.catalogue.oai.records import PROVIDER, SCHEME, OaiItem, RecordSource
from course_catalogue.catalogue.oai.tokens import ListState, TokenCodec

OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BARE_REQUEST = frozenset({"badVerb", "badArgument"})  # the request element then has no attributes


@dataclass(frozen=True)
class RepositoryInfo:
    """What Identify says, and how identifiers and ELM node IRIs are made."""

    name: str
    repository_identifier: str  # identifiers are oai:<repository_identifier>:<course id>
    base_url: str  # the OAI-PMH endpoint
    admin_emails: tuple[str, ...]
    record_base: str  # IRI prefix of our course records (the course pages)
    page_size: int = 100

    def identifier(self, course_id: str) -> str:
        return f"oai:{self.repository_identifier}:{course_id}"

    def course_id(self, identifier: str) -> str | None:
        prefix = f"oai:{self.repository_identifier}:"
        return identifier[len(prefix) :] if identifier.startswith(prefix) else None


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _oai(name), attributes)
    if text is not None:
        element.text = xml_text(text)
    return element


class OaiRepository:
    """One repository over a RecordSource; cheap to build per request."""

    def __init__(
        self,
        info: RepositoryInfo,
        records: RecordSource,
        tokens: TokenCodec,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.info = info
        self.records = records
        self.tokens = tokens
        self.clock = clock

    def respond(self, arguments: Mapping[str, Sequence[str]]) -> bytes:
        """The response document to a request with these arguments."""
        now = self.clock()
        root = etree.Element(_oai("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
        _sub(root, "responseDate", format_datestamp(now))
        request_element = _sub(root, "request", self.info.base_url)
        try:
            request = parse_request(arguments)
            for name, value in {"verb": request.verb, **request.arguments}.items():
                request_element.set(name, xml_text(value))
            root.append(self._verb(request, now))
        except OaiError as error:
            if error.code in _BARE_REQUEST:
                request_element.attrib.clear()
            _sub(root, "error", error.message, code=error.code)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _verb(self, request: OaiRequest, now: datetime) -> etree._Element:
        if request.verb == "Identify":
            return self._identify()
        if request.verb == "ListMetadataFormats":
            return self._list_metadata_formats(request)
        if request.verb == "ListSets":
            return self._list_sets(request)
        if request.verb == "GetRecord":
            return self._get_record(request)
        return self._list(request, now)

    # --- verbs --------------------------------------------------------------------------------------

    def _identify(self) -> etree._Element:
        info = self.info
        element = etree.Element(_oai("Identify"))
        _sub(element, "repositoryName", info.name)
        _sub(element, "baseURL", info.base_url)
        _sub(element, "protocolVersion", "2.0")
        for email in info.admin_emails:
            _sub(element, "adminEmail", email)
        _sub(element, "earliestDatestamp", format_datestamp(self.records.earliest() or EPOCH))
        _sub(element, "deletedRecord", "persistent")
        _sub(element, "granularity", GRANULARITY)
        description = _sub(element, "description")
        ns = OAI_IDENTIFIER_NS
        oai_id = etree.SubElement(description, f"{{{ns}}}oai-identifier", nsmap={None: ns, "xsi": XSI_NS})
        oai_id.set(f"{{{XSI_NS}}}schemaLocation", f"{ns} {ns}.xsd")
        for name, text in (
            ("scheme", "oai"),
            ("repositoryIdentifier", info.repository_identifier),
            ("delimiter", ":"),
            ("sampleIdentifier", info.identifier("0123456789abcdef0123")),
        ):
            etree.SubElement(oai_id, f"{{{ns}}}{name}").text = text
        return element

    def _list_metadata_formats(self, request: OaiRequest) -> etree._Element:
        identifier = request.get("identifier")
        if identifier is not None:
            self._item(identifier)  # idDoesNotExist; every item has every format
        element = etree.Element(_oai("ListMetadataFormats"))
        for fmt in FORMATS.values():
            entry = _sub(element, "metadataFormat")
            _sub(entry, "metadataPrefix", fmt.prefix)
            _sub(entry, "schema", fmt.schema)
            _sub(entry, "metadataNamespace", fmt.namespace)
        return element

    def _list_sets(self, request: OaiRequest) -> etree._Element:
        if request.token is not None:  # we list every set at once and never hand out a token
            raise OaiError("badResumptionToken", "The resumption token is invalid.")
        element = etree.Element(_oai("ListSets"))
        for found in self.records.sets():
            entry = _sub(element, "set")
            _sub(entry, "setSpec", found.spec)
            _sub(entry, "setName", found.name)
        return element

    def _get_record(self, request: OaiRequest) -> etree._Element:
        item = self._item(request.arguments["identifier"])
        prefix = _format(request.arguments["metadataPrefix"])
        element = etree.Element(_oai("GetRecord"))
        element.append(self._record(item, prefix))
        return element

    def _list(self, request: OaiRequest, now: datetime) -> etree._Element:
        state = self._state(request, now)
        items, more = self.records.page(
            state.set_spec, window(state.since, state.until), state.after, self.info.page_size
        )
        if not items:
            raise OaiError("noRecordsMatch", "No records match the request.")
        records = request.verb == "ListRecords"
        element = etree.Element(_oai(request.verb))
        for item in items:
            element.append(self._record(item, state.prefix) if records else self._header(item))
        if more or request.token is not None:
            self._resumption(element, state, items, more, now)
        return element

    # --- parts ---------------------------------------------------------------------------------

    def _state(self, request: OaiRequest, now: datetime) -> ListState:
        if request.token is not None:
            return self.tokens.decode(request.token, request.verb, now)
        prefix = _format(request.arguments["metadataPrefix"])
        set_spec = request.get("set")
        if set_spec is not None and set_spec.split(":", 1)[0] not in {PROVIDER, SCHEME}:
            raise OaiError("noRecordsMatch", f"There is no set {set_spec[:60]!r}; ListSets lists them.")
        since, until = request.get("from"), request.get("until")
        size = self.records.count(window(since, until)) if set_spec is None else None
        return ListState(request.verb, prefix, set_spec, since, until, complete_size=size)

    def _resumption(
        self, element: etree._Element, state: ListState, items: list[OaiItem], more: bool, now: datetime
    ) -> None:
        attributes = {"cursor": str(state.cursor)}
        if state.complete_size is not None:
            attributes["completeListSize"] = str(max(state.complete_size, state.cursor + len(items)))
        if not more:  # the last page of a resumed list: an empty token closes it
            _sub(element, "resumptionToken", **attributes)
            return
        token, expiry = self.tokens.encode(state.advanced(items[-1].seq, len(items)), now)
        _sub(element, "resumptionToken", token, expirationDate=format_datestamp(expiry), **attributes)

    def _item(self, identifier: str) -> OaiItem:
        course_id = self.info.course_id(identifier)
        item = self.records.get(course_id) if course_id else None
        if item is None:
            raise OaiError("idDoesNotExist", f"{identifier[:120]!r} is not an identifier of this repository.")
        return item

    def _header(self, item: OaiItem) -> etree._Element:
        header = etree.Element(_oai("header"))
        if item.deleted:
            header.set("status", "deleted")
        _sub(header, "identifier", self.info.identifier(item.id))
        _sub(header, "datestamp", format_datestamp(item.datestamp))
        for spec in item.sets:
            _sub(header, "setSpec", spec)
        return header

    def _record(self, item: OaiItem, prefix: str) -> etree._Element:
        record = etree.Element(_oai("record"))
        record.append(self._header(item))
        if not item.deleted:
            metadata = _sub(record, "metadata")
            metadata.append(FORMATS[prefix].build(item.course, self.info.record_base))
        return record


def _format(prefix: str) -> str:
    if prefix not in FORMATS:
        raise OaiError(
            "cannotDisseminateFormat",
            f"{prefix[:60]!r} is not a metadata format here: use {', '.join(FORMATS)}.",
        )
    return prefix
