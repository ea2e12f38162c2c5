"""The provider dashboard (HTML): sources, last runs, issues by field, quality, upload with preview.

Login is by pasting an API token (see `web.auth`: the session keeps only the token's id). Every
POST carries a CSRF token. Uploads follow the API's rules: a dry run first, whose preview page
has the button that confirms exactly the staged bytes. Plain forms, no JavaScript.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import Forbidden

from course_catalogue.catalogue.accounts import Account
from course_catalogue.catalogue.errors import Conflict, NotFound, QuotaExceeded
from course_catalogue.catalogue.permissions import can_change_source, can_register_source, visible_sources
from course_catalogue.catalogue.quality import Quality, quality
from course_catalogue.catalogue.runs import Outcome, RunReport, RunStatus, Severity
from course_catalogue.catalogue.sources import FORMATS, PARAMETERS, Source, is_retired
from course_catalogue.catalogue.staged_feeds import StagedFeedStore
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.mappings.transforms.levels import framework_keys
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.runtime import get_services
from course_catalogue.services.sources import MIN_SCHEDULE_MINUTES, SourceFields
from course_catalogue.web.auth import log_in, log_out, protect_form, session_account
from course_catalogue.web.dashboard_views import mapping_choices, published_message
from course_catalogue.web.uploads import MEDIA_TYPES, read_feed

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

RUNS_SHOWN = 5


@bp.before_request
def _csrf() -> None:
    protect_form()


@bp.after_request
def _private(response: Response) -> Response:
    # pages of one logged-in account (and CSRF tokens): never kept by any cache
    response.headers["Cache-Control"] = "no-store"
    return response


def _account() -> Account:
    """The logged-in account, else 403. GET views call `_login_redirect` first (a redirect to
    the login page); a POST without a session gets the 403 (re-posting the form would be lost)."""
    account = session_account()
    if account is None:
        raise Forbidden(description="Log in with your API token first.")
    return account


def _login_redirect() -> ResponseReturnValue | None:
    if session_account() is None:
        return redirect(url_for("dashboard.login", next=request.path))
    return None


_NOT_IN_PATHS = re.compile(r"[\x00-\x20\x7f\\]")
"""Controls, blanks and backslashes: browsers drop tabs and newlines from URLs and read "\\" as
"/", so "/\t/evil.example" or "/\\evil.example" would leave the site."""
_PATH_SAFE = "/%-._~!$&'()*+,;=:@"


def local_path(target: str) -> str | None:
    """`target` as a path on this site (dot segments resolved, the rest percent-encoded, no
    fragment), or None when it is anything else: an absolute or scheme-relative URL, a path
    that a browser would read as one, or text with controls, blanks or backslashes. What a
    login redirects to, so that a crafted `next` can never send a user to another origin."""
    if not target or _NOT_IN_PATHS.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    path = posixpath.normpath(parts.path)
    if parts.path.endswith("/") and path != "/":
        path += "/"
    if path.startswith("//"):
        return None
    query = quote(parts.query, safe=_PATH_SAFE + "?")
    return quote(path, safe=_PATH_SAFE) + (f"?{query}" if query else "")


def issues_by_field(report: RunReport) -> list[dict[str, Any]]:
    """One row per field: exact counts per severity (the run's totals), most errors first."""
    counts: Counter[tuple[str, Severity]] = Counter()
    for (severity, _code, field), n in report.totals().items():
        counts[field or "(record)", severity] += n
    fields = sorted(
        {f for f, _ in counts}, key=lambda f: (-counts[f, Severity.ERROR], -counts[f, Severity.WARNING], f)
    )
    return [{"field": f, **{s.value: counts[f, s] for s in Severity}} for f in fields]


def _last_real_run(store: CatalogueStore, source_id: str) -> RunReport | None:
    """The newest run that was not a dry run, with its issues."""
    for report in store.list_runs(source_id, limit=20):
        if not report.dry_run and report.run_id is not None:
            return store.get_run(report.run_id)
    return None


def _source_row(store: CatalogueStore, source: Source, account: Account) -> dict[str, Any]:
    last = _last_real_run(store, source.id)
    return {
        "source": source,
        "retired": is_retired(source),
        "can_change": can_change_source(account, source),
        "runs": store.list_runs(source.id, limit=RUNS_SHOWN),
        "last": last,
        "issues": issues_by_field(last) if last else [],
        "quality": _quality(store, source.id),
    }


def _quality(store: CatalogueStore, source_id: str) -> Quality:
    return quality(store.iter_courses(source_id=source_id))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    if request.method == "POST":
        if log_in(request.form.get("token", "")) is not None:
            return redirect(local_path(request.args.get("next", "")) or url_for("dashboard.index"))
        error = "That token is not valid, or it has been revoked."
    status = 401 if error else 200
    return render_template("dashboard/login.html", error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    log_out()
    return redirect(url_for("dashboard.login"))


@bp.get("/")
def index() -> ResponseReturnValue:
    if (redirected := _login_redirect()) is not None:
        return redirected
    account = _account()
    store = get_services().store
    rows = [_source_row(store, s, account) for s in visible_sources(account, store.list_sources())]
    return render_template(
        "dashboard/index.html",
        account=account,
        rows=rows,
        outcomes=list(Outcome),
        can_register=can_register_source(account),
    )


def _source_page(source_id: str, status: int | None = None, **extra: Any) -> ResponseReturnValue:
    account = _account()
    store = get_services().store
    source = store.get_source(source_id)
    if not visible_sources(account, [source]):
        raise NotFound(f"no source {source_id!r} among your sources")
    context = {
        "account": account,
        "row": _source_row(store, source, account),
        "staged": StagedFeedStore(store).list_for_source(source.id)
        if can_change_source(account, source)
        else [],
        "accepted": sorted(MEDIA_TYPES.get(source.format, ())),
        "outcomes": list(Outcome),
        "upload_error": None,
        **extra,
    }
    if status is None:
        status = 400 if extra.get("upload_error") else 200
    return render_template("dashboard/source.html", **context), status


@bp.get("/sources/<source_id>")
def source(source_id: str) -> ResponseReturnValue:
    if (redirected := _login_redirect()) is not None:
        return redirected
    return _source_page(source_id)


@bp.post("/sources/<source_id>/upload")
def upload(source_id: str) -> ResponseReturnValue:
    """Dry-run an uploaded feed and show the preview with a confirm button."""
    actor = Actor(_account())
    harvests = get_services().harvests
    found = harvests.changeable(actor, source_id)
    feed = read_feed(found)
    try:
        published = harvests.push(
            actor, source_id, feed.content, feed.media_type, dry_run=True, filename=feed.filename
        )
    except Conflict as exc:
        return _source_page(source_id, upload_error=str(exc))
    except QuotaExceeded as exc:
        return _source_page(source_id, status=409, upload_error=str(exc))
    report = published.report
    status = 422 if report.status is RunStatus.FAILED else 200
    return render_template(
        "dashboard/preview.html",
        source=found,
        report=report,
        diff=published.diff,
        staged=published.staged,
        issues=issues_by_field(report),
        filename=feed.filename,
    ), status


@bp.post("/sources/<source_id>/staged/<staged_id>/confirm")
def confirm(source_id: str, staged_id: str) -> ResponseReturnValue:
    """Publish the staged bytes; then show the run's report page."""
    try:
        confirmed = get_services().harvests.confirm(Actor(_account()), source_id, staged_id)
    except (Conflict, NotFound) as exc:
        return _source_page(source_id, upload_error=str(exc))
    report = confirmed.published.report
    flash(published_message(report))  # the run page confirms what was published
    return redirect(url_for("ui.run", run_id=report.run_id), code=303)


def _form_fields(account: Account) -> SourceFields:
    """The registration form as the service's input, owned by the logged-in account: blank
    fields are not given; the schedule is a number when written as one (else refused as text)."""
    form = request.form
    text = {key: form.get(key, "").strip() for key in ("id", "format", "name", "url", "mapping")}
    schedule: Any = form.get("schedule_minutes", "").strip()
    if schedule.isdigit():
        schedule = int(schedule)
    given: dict[str, Any] = {key: value for key, value in text.items() if value}
    given["format"] = form.get("format", "")
    if schedule != "":
        given["schedule_minutes"] = schedule
    given["parameters"] = {
        name: form.get(name, "").strip() for name in PARAMETERS if form.get(name, "").strip()
    }
    given["owner"] = account.id
    return SourceFields(**given)


def _form_error(exc: InvalidInput | Conflict) -> str:
    """The registration form's message for a refusal of the service, in the reader's language
    (the service's own message for what the form has no translation of)."""
    if isinstance(exc, Conflict):
        return _("A source %(id)s already exists.", id=request.form.get("id", "").strip())
    mapping = request.form.get("mapping", "").strip()
    if exc.field == "mapping" and ("/" in mapping or "\\" in mapping or mapping.endswith(".toml")):
        return _("The mapping must be the name of a mapping spec.")
    if exc.field == "mapping":
        names = ", ".join(name for name, _format in mapping_choices())
        return _(
            "There is no usable mapping spec named %(name)s. Valid names: %(names)s.",
            name=mapping,
            names=names,
        )
    if exc.field == "url":
        return _("The feed URL must be an http(s) URL.")
    if exc.field == "schedule_minutes":
        return _(
            "The schedule must be a whole number of minutes, at least %(minimum)d.",
            minimum=MIN_SCHEDULE_MINUTES,
        )
    return str(exc)


@bp.route("/sources/new", methods=["GET", "POST"])
def new_source() -> ResponseReturnValue:
    """Register a feed (URL, format, mapping, schedule, and the parameters its feed leaves
    implicit) owned by the logged-in account."""
    if (redirected := _login_redirect()) is not None:
        return redirected
    account = _account()
    if not can_register_source(account):
        raise Forbidden(description="Only provider and admin accounts register sources.")
    error, status = None, 200
    if request.method == "POST":
        try:
            created = get_services().sources.register(Actor(account), _form_fields(account))
            return redirect(url_for("dashboard.source", source_id=created.id), code=303)
        except (InvalidInput, Conflict) as exc:
            error, status = _form_error(exc), 400
        except QuotaExceeded as exc:
            error, status = str(exc), 409
    return render_template(
        "dashboard/new_source.html",
        formats=FORMATS,
        frameworks=sorted(set(framework_keys().values())),
        error=error,
        form=request.form,
    ), status
