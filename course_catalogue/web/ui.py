"""The HTML pages: search, course detail, provider, sources and run reports.

Plain links and forms work without JavaScript; `static/suggest.js` only adds autocomplete.
Every string is translatable (Flask-Babel, see web.i18n).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from course_catalogue.catalogue.errors import NotFound
from course_catalogue.catalogue.permissions import can_read_run
from course_catalogue.catalogue.runs import Outcome
from course_catalogue.search.assist import assisted_search
from course_catalogue.search.documents import course_facts, skill_fields
from course_catalogue.search.errors import SearchError
from course_catalogue.search.query import SORTS, SearchResult
from course_catalogue.services.runtime import get_services
from course_catalogue.skills.requests import covered
from course_catalogue.web import provenance
from course_catalogue.web.api import find_source, issue_summary, readable_run, severities
from course_catalogue.web.api_discovery import suggestion_url
from course_catalogue.web.auth import session_account
from course_catalogue.web.errors import describe
from course_catalogue.web.facets import build_view, parse_query, query_params, verbatim
from course_catalogue.web.places import place_label, with_place

bp = Blueprint("ui", __name__)

SORT_LABELS = {
    "relevance": _l("Best match"),
    "start_date": _l("Start date"),
    "ects": _l("Workload (ECTS)"),
    "price": _l("Price"),
    "title": _l("Title (A–Z)"),
    "distance": _l("Distance"),
}


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search page. A bad parameter or an unavailable index shows the page's error state."""
    page_size = current_app.config["PAGE_SIZE"]
    context: dict[str, Any] = {
        "sorts": SORTS,
        "sort_labels": SORT_LABELS,
        "query_text": request.args.get("q", ""),
    }
    context["place_text"] = request.args.get("place", "")[:100]
    try:
        query = parse_query(with_place(request.args), default_page_size=page_size, strict=False)
        assisted = assisted_search(get_services().backend, query, correct=not verbatim(request.args))
    except SearchError as exc:
        error = describe(exc)
        return render_template("search.html", view=None, error=error, **context), error.status
    result = assisted.result
    view = build_view(result, "ui.search", page_size)
    context["place_text"] = place_label(result.query) or ""
    context["map"] = map_settings()
    context["assisted"] = assisted
    if assisted.typed is not None:
        context["query_text"] = result.query.text
        typed = replace(query, text=assisted.typed)
        context["typed_url"] = url_for("ui.search", **query_params(typed, page_size, page=1), verbatim="true")
    help_links = _empty_help(result) if result.total == 0 else {}
    near_off = replace(
        result.query, near=None, within_km=None, sort="relevance" if query.sort == "distance" else query.sort
    )
    context["near_off_url"] = url_for("ui.search", **query_params(near_off, page_size, page=1))
    return render_template("search.html", view=view, error=None, **context, **help_links)


def map_settings() -> dict[str, str]:
    """What map.js needs: the tile URL template and its attribution (empty: no tiles)."""
    return {
        "tiles": current_app.config["MAP_TILES_URL"],
        "attribution": current_app.config["MAP_TILES_ATTRIBUTION"],
    }


def _empty_help(result: SearchResult) -> dict[str, Any]:
    """For a search without hits: similar titles (cheap: the suggester on each word's first
    letters, which survives most typos) and the same search including past courses."""
    query = result.query
    similar: dict[str, dict[str, str]] = {}
    for stem in dict.fromkeys(word[:4] for word in query.text.split()[:4] if len(word) >= 3):
        try:
            found = get_services().backend.suggest(stem, 3)
        except SearchError:
            break
        for s in found:
            if len(similar) < 3:
                similar.setdefault(s.value, {"text": s.text, "url": suggestion_url(s)})
    past_url = None
    if not query.include_past:
        params = query_params(query, current_app.config["PAGE_SIZE"], page=1)
        past_url = url_for("ui.search", **params, include_past="true")
    return {"similar": list(similar.values()), "past_url": past_url}


@bp.get("/courses/<course_id>")
def course(course_id: str) -> ResponseReturnValue:
    """Every standard element of one course, labelled, with its provenance. Unknown id: 404 page."""
    stored = get_services().store.get_course(course_id)
    source = find_source(stored.course.provenance.source_id)
    return render_template(
        "course.html",
        stored=stored,
        source=source,
        originals=provenance.differences(stored.course),
        map=map_settings(),
        skills=skill_fields(course_facts(stored))["skill_links"],
    )


_CLASSIFICATION_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,15} [A-Z]?[0-9][0-9A-Za-z.]*")


@bp.app_template_filter("skills_covered")
def skills_covered(links: Any, requested: Any) -> list[Any]:
    """The links of a result card to the skills the search asked for (`skills.requests.covered`)."""
    return list(covered(links if isinstance(links, list) else None, tuple(requested or ())))


@bp.app_template_test("classification_code")
def classification_code(keyword: object) -> bool:
    """A keyword that is a code of a classification ("FORMACODE 31054", "NSF 326", "ROME M1805"):
    shown among the provider's values, not as a word."""
    return isinstance(keyword, str) and bool(_CLASSIFICATION_CODE.fullmatch(keyword))


@bp.get("/providers/<provider_key>")
def provider(provider_key: str) -> ResponseReturnValue:
    """A provider's courses (the provider facet) and the latest harvest reports of its feeds."""
    page_size = current_app.config["PAGE_SIZE"]
    args = request.args.copy()
    args.setlist("provider", [provider_key])
    query = parse_query(args, default_page_size=page_size, strict=False)
    result = get_services().backend.search(query)
    if result.total == 0 and query.page == 1:
        raise NotFound(f"no provider {provider_key!r} has courses in the catalogue")
    view = build_view(result, "ui.search", page_size)
    name = next(
        (str(h.fields.get("provider")) for h in result.hits if h.fields.get("provider")), provider_key
    )
    feeds = provenance.provider_feeds(get_services().store, [h.id for h in result.hits])
    return render_template("provider.html", view=view, name=name, provider_key=provider_key, feeds=feeds)


MAX_ISSUES_SHOWN = 500


@bp.get("/sources")
def sources() -> ResponseReturnValue:
    """The source registry: each feed with its course count and last run."""
    store = get_services().store
    viewer = session_account()
    rows = [
        {
            "source": source,
            "courses": store.count_courses(source_id=source.id),
            "runs": store.list_runs(
                source.id, limit=5, include_dry_runs=can_read_run(viewer, source, dry_run=True)
            ),
        }
        for source in store.list_sources()
    ]
    return render_template("sources.html", rows=rows, outcomes=list(Outcome))


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    """A harvest run report: counts, the feed-level error, and every issue a provider can act on."""
    wanted = severities(request.args)
    report = readable_run(run_id, session_account())  # a dry run: its owner's dashboard session
    issues = [i for i in report.issues if not wanted or i.severity in wanted]
    return render_template(
        "run.html",
        report=report,
        source=find_source(report.source_id),
        summary=issue_summary(report),
        issues=issues[:MAX_ISSUES_SHOWN],
        issues_total=len(issues),
        wanted=[s.value for s in wanted],
        outcomes=list(Outcome),
    )
