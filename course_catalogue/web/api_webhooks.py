"""Webhook subscriptions over the API: registries subscribe a URL to the changes feed (all or one scheme).

Every route needs a bearer token of a registry or admin account. The signing secret is in the
response to POST only; it is stored (HMAC signing needs it) but never shown again. The URL must
be http(s) and resolve to public addresses (the harvester's SSRF guard) unless
ALLOW_PRIVATE_URLS is set. Deliveries are sent by the periodic `deliver_webhooks` task.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from course_catalogue.catalogue.eligibility_store import EligibilityStore
from course_catalogue.catalogue.errors import FetchError
from course_catalogue.catalogue.permissions import can_manage_webhook, can_subscribe_webhooks, is_admin
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.catalogue.webhooks import Delivery, Subscription
from course_catalogue.services.runtime import get_services
from course_catalogue.services.webhook_delivery import check_url
from course_catalogue.web.auth import current_account, permit, token_required
from course_catalogue.web.bodies import json_object

bp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1")


def hooks() -> WebhookStore:
    return WebhookStore(get_services().store)


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "from_cursor": str(delivery.from_seq),
        "to_cursor": str(delivery.to_seq),
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "account": subscription.account_id,
        "url": subscription.url,
        "scheme": subscription.scheme_id,
        "active": subscription.active,
        "cursor": str(subscription.cursor),
        "created_at": subscription.created_at.isoformat(),
        "links": {"self": url_for("api_webhooks.webhook", subscription_id=subscription.id)},
    }


def _no_store(data: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _owned(subscription_id: str) -> Subscription:
    subscription = hooks().get(subscription_id)
    permit(can_manage_webhook(current_account(), subscription.account_id), "This subscription is not yours.")
    return subscription


@bp.post("/webhooks")
@token_required
def subscribe() -> ResponseReturnValue:
    """Subscribe {"url": ..., "scheme": <id> | null}; the answer carries the secret, once."""
    account = current_account()
    permit(can_subscribe_webhooks(account), "Only registry and admin accounts subscribe webhooks.")
    data = json_object()
    if set(data) - {"url", "scheme"} or not isinstance(data.get("url"), str):
        raise BadRequest(
            description='The body is {"url": "https://...", "scheme": "<scheme id>" (optional)}.'
        )
    scheme_id = data.get("scheme")
    if scheme_id is not None:
        if not isinstance(scheme_id, str):
            raise BadRequest(description="scheme must be a scheme id.")
        EligibilityStore(get_services().store).get_scheme(scheme_id)  # 404 for an unknown scheme
    try:
        url = check_url(data["url"], allow_private=current_app.config["ALLOW_PRIVATE_URLS"])
    except FetchError as exc:
        raise BadRequest(description=f"The webhook URL is refused: {exc}") from None
    subscription, secret = hooks().subscribe(account.id, url, scheme_id)
    body = {**subscription_json(subscription), "secret": secret}
    response = _no_store(body, 201)
    return response


@bp.get("/webhooks")
@token_required
def webhooks() -> ResponseReturnValue:
    """The caller's subscriptions (an admin sees all); secrets are never shown."""
    account = current_account()
    found = hooks().list_subscriptions(None if is_admin(account) else account.id)
    return _no_store({"webhooks": [subscription_json(s) for s in found]})


@bp.get("/webhooks/<subscription_id>")
@token_required
def webhook(subscription_id: str) -> ResponseReturnValue:
    """One subscription with its latest deliveries (status, attempts, last error)."""
    subscription = _owned(subscription_id)
    deliveries = hooks().deliveries(subscription.id, limit=50)
    return _no_store(
        {**subscription_json(subscription), "deliveries": [delivery_json(d) for d in deliveries]}
    )


@bp.delete("/webhooks/<subscription_id>")
@token_required
def unsubscribe(subscription_id: str) -> ResponseReturnValue:
    """Remove the subscription and its pending deliveries."""
    _owned(subscription_id)
    hooks().delete(subscription_id)
    return _no_store({"id": subscription_id, "deleted": True})
