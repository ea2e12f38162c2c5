"""The HTML pages: the search page and the course detail page. Plain links and forms, no JavaScript."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from catalogue.runs import Outcome
from search.errors import SearchError
from search.query import SORTS
from web.api import find_source, issue_summary, severities
from web.errors import describe
from web.facets import build_view, parse_query
from web.services import get_services

bp = Blueprint("ui", __name__)

SORT_LABELS = {
    "relevance": "Best match",
    "start_date": "Start date",
    "ects": "Workload (ECTS)",
    "price": "Price",
    "title": "Title (A–Z)",
}


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search page. A bad parameter or an unavailable index shows the page's error state."""
    page_size = current_app.config["PAGE_SIZE"]
    context = {"sorts": SORTS, "sort_labels": SORT_LABELS, "query_text": request.args.get("q", "")}
    try:
        query = parse_query(request.args, default_page_size=page_size, strict=False)
        result = get_services().backend.search(query)
    except SearchError as exc:
        error = describe(exc)
        return render_template("search.html", view=None, error=error, **context), error.status
    view = build_view(result, "ui.search", page_size)
    return render_template("search.html", view=view, error=None, **context)


@bp.get("/courses/<course_id>")
def course(course_id: str) -> ResponseReturnValue:
    """Every standard element of one course, labelled, with its provenance. Unknown id: 404 page."""
    stored = get_services().store.get_course(course_id)
    source = find_source(stored.course.provenance.source_id)
    return render_template("course.html", stored=stored, source=source)


MAX_ISSUES_SHOWN = 500


@bp.get("/sources")
def sources() -> ResponseReturnValue:
    """The source registry: each feed with its course count and last run."""
    store = get_services().store
    rows = [
        {
            "source": source,
            "courses": store.count_courses(source_id=source.id),
            "runs": store.list_runs(source.id, limit=5),
        }
        for source in store.list_sources()
    ]
    return render_template("sources.html", rows=rows, outcomes=list(Outcome))


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    """A harvest run report: counts, the feed-level error, and every issue a provider can act on."""
    wanted = severities(request.args)
    report = get_services().store.get_run(run_id)
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
