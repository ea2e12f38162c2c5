"""The registry dashboard (HTML): eligibility schemes, their evaluation and manual decisions.

A logged-in account sees every scheme (schemes are public information) with how many courses each
funds; a registry defines schemes and changes the ones it owns, an admin all of them. Rules are
edited as their JSON data form (what the API takes, see `catalogue.eligibility`), the accredited
providers one per line. Every operation goes through `services.schemes.SchemeService`; a new
definition starts its evaluation job as the API does (`web.api_schemes.dispatch_job`). Plain
forms with a CSRF token, no JavaScript.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Forbidden

from course_catalogue.catalogue.accounts import Account
from course_catalogue.catalogue.eligibility import Scheme, rules_to_data
from course_catalogue.catalogue.eligibility_jobs import JobStatus
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.permissions import can_change_scheme, can_create_scheme
from course_catalogue.services.actors import Actor
from course_catalogue.services.errors import InvalidInput
from course_catalogue.services.runtime import get_services
from course_catalogue.services.schemes import SchemeFields, SchemeService
from course_catalogue.web.api_schemes import dispatch_job
from course_catalogue.web.auth import protect_form, session_account

bp = Blueprint("dashboard_schemes", __name__, url_prefix="/dashboard/schemes")

DECISIONS_SHOWN = 50

JOB_STATUS_LABELS: dict[str, Any] = {
    JobStatus.QUEUED: _l("waiting to start"),
    JobStatus.RUNNING: _l("running"),
    JobStatus.SUCCEEDED: _l("done"),
    JobStatus.FAILED: _l("failed"),
    JobStatus.SUPERSEDED: _l("replaced by a later change"),
}
"""An evaluation job's status in words."""


@bp.before_request
def _csrf() -> None:
    protect_form()


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # pages of one logged-in account, CSRF tokens
    return response


def _service() -> SchemeService:
    return get_services().schemes


def _account() -> Account:
    account = session_account()
    if account is None:
        raise Forbidden(description="Log in with your API token first.")
    return account


def _login_redirect() -> ResponseReturnValue | None:
    if session_account() is None:
        return redirect(url_for("dashboard.login", next=request.path))
    return None


def _row(service: SchemeService, scheme: Scheme, account: Account) -> dict[str, Any]:
    eligible, not_eligible = service.counts(scheme.id)
    job = service.latest_job(scheme.id)
    return {
        "scheme": scheme,
        "eligible": eligible,
        "not_eligible": not_eligible,
        "job": job,
        "job_status": JOB_STATUS_LABELS[job.status] if job else None,
        "can_change": can_change_scheme(account, scheme.owner),
    }


def _form_fields(*, with_id: bool) -> SchemeFields:
    """The scheme form as the service's input: rules parsed from their JSON text (InvalidInput
    on the `rules` field when it is not JSON), accredited providers one per line."""
    form = request.form
    given: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "accredited": [line.strip() for line in form.get("accredited", "").splitlines() if line.strip()],
    }
    if with_id:
        given["id"] = form.get("id", "").strip()
    text = form.get("rules", "").strip()
    try:
        given["rules"] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"rules are not JSON: {exc}", field="rules") from None
    return SchemeFields(**given)


def _form_error(exc: InvalidInput | Conflict) -> tuple[str, str | None]:
    """(the form's message in the reader's language, the service's own English detail or None)."""
    if isinstance(exc, Conflict):
        return _("A scheme %(id)s already exists.", id=request.form.get("id", "").strip()), None
    if exc.field == "rules":
        return _("The rules are not valid. Write them as a JSON list of rules."), str(exc)
    if exc.field == "id":
        return _("The id must be 1-64 lower-case letters, digits, '.', '_' or '-'."), None
    return _("The scheme was not saved."), str(exc)


def _definition_form(scheme: Scheme) -> dict[str, str]:
    """A scheme's definition as the form shows it for a change."""
    return {
        "name": scheme.name,
        "description": scheme.description,
        "rules": json.dumps(rules_to_data(scheme.rules), indent=2, ensure_ascii=False),
        "accredited": "\n".join(scheme.accredited),
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    if (redirected := _login_redirect()) is not None:
        return redirected
    account = _account()
    service = _service()
    rows = [_row(service, scheme, account) for scheme in service.schemes()]
    return render_template(
        "dashboard/schemes.html", account=account, rows=rows, can_create=can_create_scheme(account)
    )


@bp.route("/new", methods=["GET", "POST"])
def new_scheme() -> ResponseReturnValue:
    """Define a scheme owned by the logged-in registry; its first evaluation starts at once."""
    if (redirected := _login_redirect()) is not None:
        return redirected
    account = _account()
    if not can_create_scheme(account):
        raise Forbidden(description="Only registry and admin accounts define eligibility schemes.")
    error, detail, status = None, None, 200
    form: Any = request.form
    if request.method == "GET":
        form = {"rules": "[]"}
    else:
        try:
            submitted = _service().create(Actor(account), _form_fields(with_id=True))
            dispatch_job(submitted.job)
            flash(_("Scheme saved. Its courses are being evaluated."))
            return redirect(url_for(".scheme", scheme_id=submitted.scheme.id), code=303)
        except (InvalidInput, Conflict) as exc:
            (error, detail), status = _form_error(exc), 400
    return render_template(
        "dashboard/new_scheme.html", error=error, detail=detail, form=form, account=account
    ), status


def _scheme_page(scheme_id: str, status: int = 200, form: Any = None, **extra: Any) -> ResponseReturnValue:
    account = _account()
    service = _service()
    scheme = service.scheme(scheme_id)
    row = _row(service, scheme, account)
    context = {
        "account": account,
        "row": row,
        "rules_json": json.dumps(rules_to_data(scheme.rules), indent=2, ensure_ascii=False),
        "decisions": service.decisions(scheme_id, DECISIONS_SHOWN),
        "form": form if form is not None else _definition_form(scheme),
        "error": None,
        "detail": None,
        "decision_error": None,
        **extra,
    }
    return render_template("dashboard/scheme.html", **context), status


@bp.get("/<scheme_id>")
def scheme(scheme_id: str) -> ResponseReturnValue:
    if (redirected := _login_redirect()) is not None:
        return redirected
    return _scheme_page(scheme_id)


@bp.post("/<scheme_id>")
def change(scheme_id: str) -> ResponseReturnValue:
    """Change the definition: a new name or description applies at once, new rules or accredited
    providers start an evaluation job (readers see the current evaluation until it is done)."""
    account = _account()
    try:
        changed = _service().change(Actor(account), scheme_id, _form_fields(with_id=False))
    except InvalidInput as exc:
        error, detail = _form_error(exc)
        return _scheme_page(scheme_id, 400, form=request.form, error=error, detail=detail)
    if changed.job is None:
        flash(_("Scheme saved."))
    else:
        dispatch_job(changed.job)
        flash(_("Scheme saved. Its courses are being evaluated."))
    return redirect(url_for(".scheme", scheme_id=scheme_id), code=303)


@bp.post("/<scheme_id>/decisions")
def decide(scheme_id: str) -> ResponseReturnValue:
    """A manual decision on one course (eligible or not, with a note), or its removal."""
    account = _account()
    course_id = request.form.get("course_id", "").strip()
    choice = request.form.get("eligible", "")
    eligible = {"yes": True, "no": False, "rules": None}.get(choice, "")
    if eligible == "" or not course_id:
        message = _("Give a course id and choose a decision.")
        return _scheme_page(scheme_id, 400, decision_error=message)
    try:
        found = _service().decide(
            Actor(account), scheme_id, course_id, eligible, request.form.get("note", "")
        )
    except NotFound:
        message = _("There is no course %(id)s.", id=course_id)
        return _scheme_page(scheme_id, 404, decision_error=message)
    except InvalidInput as exc:
        return _scheme_page(scheme_id, 400, decision_error=str(exc))
    if eligible is None:
        flash(_("The decision on %(id)s was removed: the rules decide again.", id=course_id))
    elif found is None:
        flash(_("Decision recorded. It applies when the scheme's evaluation is done."))
    else:
        flash(_("Decision recorded for %(id)s.", id=course_id))
    return redirect(url_for(".scheme", scheme_id=scheme_id), code=303)
