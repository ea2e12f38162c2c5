"""Shared setup for the publishing tests: accounts of every role, an owned source, edX CSV slices.

`world` is a fresh migrated app (the `app` fixture) holding an admin, two providers ("zed" owns
source "zed-feed", mapped with the real edX mapping and published from the first 12 edX rows),
and two registry accounts, each with a token.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.catalogue.account_store import AccountStore
from course_catalogue.catalogue.accounts import Role
from course_catalogue.catalogue.sources import Source
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.services.runtime import get_services
from tests.web.conftest import EDX_CSV

_ROWS: list[list[str]] = list(csv.reader(io.StringIO(EDX_CSV.read_text(encoding="utf-8"))))
HEADER, ROWS = _ROWS[0], _ROWS[1:]
SUMMARY = HEADER.index("summary")
INSTITUTION = HEADER.index("institution")
ZED_ORGANISATIONS = {"Uni Zed", "Example College"}
"""What zed's test feeds name besides edX's institutions (registered provider, an XCRI feed)."""
URL = HEADER.index("course_url")


def edx_csv(rows: list[list[str]]) -> bytes:
    """A CSV feed of the given edX rows, with the real header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def first_rows(n: int, start: int = 0) -> list[list[str]]:
    return [list(row) for row in ROWS[start : start + n]]


@dataclass
class World:
    app: Flask
    client: FlaskClient
    store: CatalogueStore
    tokens: dict[str, str]  # account id -> plaintext token
    token_ids: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


ACCOUNTS = {
    "ops": Role.ADMIN,
    "zed": Role.PROVIDER,
    "other": Role.PROVIDER,
    "reg": Role.REGISTRY,
    "reg2": Role.REGISTRY,  # a second registry: schemes and webhooks of "reg" are not its own
}
SOURCE = "zed-feed"
INITIAL = first_rows(12)


@pytest.fixture
def world(app: Flask) -> World:
    store = get_services(app).store
    accounts = AccountStore(store)
    tokens, token_ids = {}, {}
    for account_id, role in ACCOUNTS.items():
        accounts.create_account(account_id, account_id.title(), role)
        issued = accounts.issue_token(account_id, "test")
        tokens[account_id], token_ids[account_id] = issued.plaintext, issued.token.id
    # zed publishes edX rows of many institutions and test feeds of "Uni Zed" and "Example College":
    # an admin entitled it to all of them (what that restricts: tests/web/test_provider_identity.py)
    for name in sorted({row[INSTITUTION] for row in ROWS} | ZED_ORGANISATIONS):
        accounts.grant_organisation("zed", name, granted_by="ops")
    store.save_source(Source(SOURCE, "csv", name="Zed's courses", mapping="edx-csv", owner="zed"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['zed']}", "Content-Type": "text/csv"}
    response = client.post(
        f"/api/v1/sources/{SOURCE}/feed?dry_run=false", data=edx_csv(INITIAL), headers=headers
    )
    assert response.status_code == 200, response.get_json()
    return World(app, client, store, tokens, token_ids)
