"""OAI-PMH 2.0 repository of the catalogue (no Flask): requests, records, tokens, XML responses.

`OaiRepository(info, RecordSource(store, schemes), TokenCodec(secret, lifetime))`
answers any request with `respond(arguments)`; web/oaipmh.py serves it at /oai.
"""

from course_catalogue.catalogue.oai.metadata import FORMATS, MetadataFormat
from course_catalogue.catalogue.oai.protocol import OaiError, parse_request
from course_catalogue.catalogue.oai.records import OaiItem, OaiSet, RecordSource, SchemeDirectory, SchemeEntry
from course_catalogue.catalogue.oai.repository import OaiRepository, RepositoryInfo
from course_catalogue.catalogue.oai.tokens import ListState, TokenCodec

__all__ = [
    "FORMATS",
    "ListState",
    "MetadataFormat",
    "OaiError",
    "OaiItem",
    "OaiRepository",
    "OaiSet",
    "RecordSource",
    "RepositoryInfo",
    "SchemeDirectory",
    "SchemeEntry",
    "TokenCodec",
    "parse_request",
]
