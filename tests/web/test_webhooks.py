"""Signed webhooks: subscription (SSRF-checked), delivery to a local receiver, retries, giving up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.catalogue.webhook_store import WebhookStore
from course_catalogue.catalogue.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, DeliveryStatus, verify
from course_catalogue.services.webhook_delivery import WebhookSettings, deliver_due
from tests.registries import publish
from tests.web.publishing import World, world

__all__ = ["world"]


class Receiver:
    """A webhook receiver on 127.0.0.1 answering the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


ALLOW = WebhookSettings(allow_private=True, timeout=5.0, max_attempts=3, public_url="https://cat.example")


def _subscribe(store: CatalogueStore, url: str) -> tuple[str, str]:
    subscription, secret = WebhookStore(store).subscribe("reg", url)
    return subscription.id, secret


def test_a_delivery_is_signed_and_verifiable(world: World, receiver: Receiver) -> None:
    _, secret = _subscribe(world.store, receiver.url)
    publish(world.store, {"a": {}})
    outcomes = deliver_due(world.store, ALLOW)
    assert [status for _, status in outcomes] == [DeliveryStatus.DELIVERED]
    headers, body = receiver.received[0]
    assert verify(secret, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body, now=time.time())
    assert not verify(
        "whsec_wrong", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body, now=time.time()
    )
    assert not verify(
        secret, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body, now=time.time() + 3600
    )
    assert b'"changes_url":"https://cat.example/api/v1/changes?since=' in body
    assert deliver_due(world.store, ALLOW) == []  # nothing new, nothing sent


def test_a_failed_delivery_is_retried_with_backoff_then_succeeds(world: World, receiver: Receiver) -> None:
    subscription_id, _ = _subscribe(world.store, receiver.url)
    receiver.statuses = [500]
    publish(world.store, {"a": {}})
    clock = datetime.now(UTC)
    first = deliver_due(world.store, ALLOW, now=lambda: clock)
    assert [s for _, s in first] == [DeliveryStatus.PENDING]
    (delivery,) = WebhookStore(world.store).deliveries(subscription_id)
    assert delivery.id == first[0][0]
    assert delivery.attempts == 1 and "HTTP 500" in (delivery.last_error or "")
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at >= clock + timedelta(seconds=30)
    assert deliver_due(world.store, ALLOW, now=lambda: clock + timedelta(seconds=5)) == []  # not yet due
    later = deliver_due(world.store, ALLOW, now=lambda: clock + timedelta(minutes=1))
    assert [s for _, s in later] == [DeliveryStatus.DELIVERED] and len(receiver.received) == 2


def test_a_delivery_is_given_up_after_max_attempts(world: World, receiver: Receiver) -> None:
    _subscribe(world.store, receiver.url)
    receiver.statuses = [503] * 10
    publish(world.store, {"a": {}})
    clock = datetime.now(UTC)
    statuses = []
    for hour in range(4):
        at = clock + timedelta(hours=hour)
        statuses += [s for _, s in deliver_due(world.store, ALLOW, now=lambda at=at: at)]  # type: ignore[misc]
    assert statuses == [DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    (failed,) = WebhookStore(world.store).deliveries(WebhookStore(world.store).list_subscriptions()[0].id)
    assert failed.status is DeliveryStatus.FAILED and failed.attempts == 3 and failed.last_error


def test_private_urls_are_refused_unless_allowed(world: World, receiver: Receiver) -> None:
    refused = world.client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=world.auth("reg"))
    assert refused.status_code == 400 and "loopback" in refused.get_json()["error"]["message"]
    _subscribe(world.store, receiver.url)  # stored anyway (e.g. before the setting changed)
    publish(world.store, {"a": {}})
    outcomes = deliver_due(world.store, WebhookSettings(allow_private=False, max_attempts=1))
    assert [s for _, s in outcomes] == [DeliveryStatus.FAILED] and receiver.received == []


def test_the_api_shows_the_secret_once(world: World) -> None:
    made = world.client.post(
        "/api/v1/webhooks", json={"url": "https://93.184.216.34/h"}, headers=world.auth("reg")
    )
    assert made.status_code == 201 and made.get_json()["secret"].startswith("whsec_")
    sub_id = made.get_json()["id"]
    listed = world.client.get("/api/v1/webhooks", headers=world.auth("reg")).get_json()["webhooks"]
    assert [w["id"] for w in listed] == [sub_id] and "secret" not in listed[0]
    assert world.client.get(f"/api/v1/webhooks/{sub_id}", headers=world.auth("reg2")).status_code == 403
    assert world.client.get("/api/v1/webhooks", headers=world.auth("reg2")).get_json()["webhooks"] == []
    assert world.client.delete(f"/api/v1/webhooks/{sub_id}", headers=world.auth("reg")).status_code == 200
    assert world.client.get(f"/api/v1/webhooks/{sub_id}", headers=world.auth("reg")).status_code == 404
