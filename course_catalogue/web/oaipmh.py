"""The OAI-PMH 2.0 endpoint at /oai (GET and POST): registries harvest the catalogue incrementally.

The protocol lives in `catalogue.oai`; this module only collects the request's arguments (query
string for GET, form body for POST), wires the repository to the app's settings and store, and
sends the XML. Protocol errors are part of the XML document, with HTTP 200, as OAI-PMH requires.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue

from course_catalogue.catalogue.oai import OaiRepository, RecordSource, RepositoryInfo, TokenCodec
from course_catalogue.catalogue.oai.schemes import EligibilitySchemes
from course_catalogue.services.runtime import get_services
from course_catalogue.web import elm_views

bp = Blueprint("oaipmh", __name__)

MEDIA_TYPE = "text/xml"


def repository() -> OaiRepository:
    """The repository of the current app, configured from its settings."""
    config = current_app.config
    identifier = config["OAI_REPOSITORY_IDENTIFIER"]
    info = RepositoryInfo(
        name=config["OAI_REPOSITORY_NAME"],
        repository_identifier=identifier,
        base_url=url_for("oaipmh.endpoint", _external=True),
        admin_emails=tuple(config["OAI_ADMIN_EMAIL"]) or (f"webmaster@{identifier}",),
        record_base=elm_views.base_iri(),
        page_size=config["OAI_PAGE_SIZE"],
    )
    store = get_services().store
    records = RecordSource(store, EligibilitySchemes(store))
    tokens = TokenCodec(config["SECRET_KEY"], timedelta(hours=config["OAI_TOKEN_HOURS"]))
    return OaiRepository(info, records, tokens)


@bp.route("/oai", methods=["GET", "POST"])
def endpoint() -> ResponseReturnValue:
    """Any OAI-PMH request; POST takes application/x-www-form-urlencoded arguments."""
    source = request.form if request.method == "POST" else request.args
    arguments = {name: source.getlist(name) for name in source}
    return Response(repository().respond(arguments), mimetype=MEDIA_TYPE)
