"""Issue 22, class 16: an SSRF refusal never tells the caller which internal address a host name
resolves to (nor what kind of address it is): not in the API answer, not in the public run
report, not in a webhook subscription error. The operator's log has it."""

from __future__ import annotations

import logging

import pytest

from course_catalogue.catalogue.errors import FetchError
from course_catalogue.harvesters.http import AddressGuard
from tests.web.conftest import _no_catalogue_env, app, app_factory, client
from tests.web.publishing import SOURCE, World, world

__all__ = ["_no_catalogue_env", "app", "app_factory", "client", "world"]

INTERNAL = {
    "intranet.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "192.168.77.5"],
    "mapped.example": ["::ffff:127.0.0.9"],
}


def _lookup(host: str, port: int) -> list[str]:
    return INTERNAL[host]


@pytest.mark.parametrize("host", sorted(INTERNAL))
def test_a_refusal_names_no_address_and_logs_it(host: str, caplog: pytest.LogCaptureFixture) -> None:
    guard = AddressGuard(resolver=_lookup)
    with (
        caplog.at_level(logging.WARNING, logger="course_catalogue.harvesters.http"),
        pytest.raises(FetchError) as refused,
    ):
        guard.resolve(host, 80)
    message = str(refused.value)
    internal = [a for a in INTERNAL[host] if not a.startswith("93.")]
    for address in internal:
        assert address not in message and address.split(":")[-1] not in message, message
        assert address in caplog.text, "the operator can still see where it pointed"
    for kind in ("a private", "loopback", "link-local", "reserved"):
        assert kind not in message, message
    assert host in message and "not public" in message


def test_a_literal_address_is_refused_with_its_kind() -> None:
    with pytest.raises(FetchError, match="is a private address"):
        AddressGuard().resolve("10.0.0.7", 80)


def test_the_api_and_the_public_run_report_do_not_disclose_where_a_name_points(world: World) -> None:
    # "localhost" resolves through the real resolver (127.0.0.1 and/or ::1)
    change = world.client.patch(
        f"/api/v1/sources/{SOURCE}", json={"url": "http://localhost:9/feed.csv"}, headers=world.auth("zed")
    )
    assert change.status_code == 200, change.get_json()
    response = world.client.post(f"/api/v1/sources/{SOURCE}/harvest", headers=world.auth("zed"))
    assert response.status_code in {422, 502}, response.get_json()
    body = response.get_data(as_text=True)
    run_id = response.get_json()["error"]["details"]["run"]["run_id"]
    public = world.client.get(f"/api/v1/runs/{run_id}").get_data(as_text=True)
    page = world.client.get(f"/runs/{run_id}").get_data(as_text=True)
    for text in (body, public, page):
        assert "refusing to fetch from" in text and "localhost" in text
        for leak in ("127.0.0.1", "::1", "loopback"):
            assert leak not in text, (leak, text[:400])


def test_a_webhook_url_refusal_does_not_disclose_the_address(world: World) -> None:
    response = world.client.post(
        "/api/v1/webhooks", json={"url": "http://localhost:9/hook"}, headers=world.auth("reg")
    )
    assert response.status_code == 400, response.get_json()
    message = response.get_json()["error"]["message"]
    assert "localhost" in message
    for leak in ("127.0.0.1", "::1", "loopback"):
        assert leak not in message, message
