"""The changes feed (GET /api/v1/changes): every course change, or one scheme's eligible set, in commit order.

Without `scheme`: each changed course once, at the position of its latest change: an `upsert` with
the full record (as `course` in GET /api/v1/courses/<id>) or a `tombstone` for a withdrawn course.
With `scheme=<id>`: an `upsert` when a course became eligible or changed while eligible, a
`tombstone` when it stopped being eligible or was withdrawn. Either way a consumer that replays
from the start (no `since`) and applies every page ends with exactly the current set.

The cursor is opaque to clients; today it is the decimal `seq` of the last entry returned (the
store's commit-ordered sequence). Pass `next_cursor` back as `since`. Public, like every read:
which courses a scheme funds is public information (a registry's transparency). Responses are
`no-cache` (revalidated with their ETag), so a poller never reads a stale page.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from course_catalogue.catalogue.changes import CourseStatus, StoredCourse
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.eligibility_store import EligibilityEntry, EligibilityStore
from course_catalogue.search.errors import QueryError
from course_catalogue.services.runtime import get_services
from course_catalogue.web.params import whole_number

bp = Blueprint("api_changes", __name__, url_prefix="/api/v1")

_CURSOR = re.compile(r"[0-9]{1,18}")
PARAMETERS = frozenset({"since", "limit", "scheme"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def parse_cursor(raw: str | None) -> int:
    """The seq a cursor stands for; absent or empty means the start. QueryError when malformed."""
    if raw is None or raw == "":
        return 0
    if not _CURSOR.fullmatch(raw):
        raise QueryError("since must be a cursor from an earlier response (next_cursor)")
    return int(raw)


def _limit() -> int:
    return whole_number(request.args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def course_entry(stored: StoredCourse, seq: int) -> dict[str, Any]:
    """One entry of the course feed: upsert with the record, or a tombstone."""
    if stored.status is CourseStatus.ACTIVE:
        return {"cursor": str(seq), "op": "upsert", "id": stored.id, "course": course_to_dict(stored.course)}
    return {
        "cursor": str(seq),
        "op": "tombstone",
        "id": stored.id,
        "status": stored.status.value,
        "withdrawn_at": stored.withdrawn_at.isoformat() if stored.withdrawn_at else None,
    }


def scheme_entry(entry: EligibilityEntry) -> dict[str, Any]:
    """One entry of a scheme's feed; `eligibility` says since when and why."""
    data = course_entry(entry.stored, entry.seq)
    if not entry.upsert and data["op"] == "upsert":  # active but no longer eligible
        data = {
            "cursor": str(entry.seq),
            "op": "tombstone",
            "id": entry.course_id,
            "status": entry.stored.status.value,
            "withdrawn_at": None,
        }
    data["eligibility"] = {
        "eligible": entry.upsert,
        "since": entry.since.isoformat(),
        "reasons": [r.to_dict() for r in entry.reasons],
    }
    return data


@bp.get("/changes")
def changes() -> ResponseReturnValue:
    """A page of the feed after `since`, with `next_cursor`, `has_more` and a `next` link."""
    unknown = sorted(set(request.args) - PARAMETERS)
    if unknown:  # e.g. `cursor=` for `since=`: ignoring it would silently restart the feed
        raise QueryError(
            f"unknown parameter {unknown[0][:40]!r}; the changes feed takes since (the next_cursor "
            "of the previous page), limit and scheme"
        )
    since = parse_cursor(request.args.get("since"))
    limit = _limit()
    scheme_id = request.args.get("scheme") or None
    store = get_services().store
    if scheme_id is None:
        found = store.changes_since(since, limit=limit + 1)
        entries = [course_entry(stored, stored.seq) for stored in found[:limit]]
    else:
        eligibility = EligibilityStore(store)
        eligibility.get_scheme(scheme_id)  # 404 for an unknown scheme
        found_entries = eligibility.eligibility_changes_since(scheme_id, since, limit=limit + 1)
        found = [e.stored for e in found_entries]
        entries = [scheme_entry(e) for e in found_entries[:limit]]
    has_more = len(found) > limit
    cursor = entries[-1]["cursor"] if entries else str(since)
    args: dict[str, Any] = {"since": cursor, "limit": limit, **({"scheme": scheme_id} if scheme_id else {})}
    response = jsonify(
        {
            "scheme": scheme_id,
            "since": str(since),
            "next_cursor": cursor,
            "has_more": has_more,
            "changes": entries,
            "links": {"next": url_for("api_changes.changes", **args)},
        }
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
