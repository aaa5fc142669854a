"""Erasure and export refuse what names nobody, or names them badly, with a clear 4xx (or a
command-line error) and change nothing: no row, no audit, no request marked done."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import create_app
from redress.__main__ import main
from redress.business import Business
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Customer, DataRequest, Message, PrivacyAudit
from redress.db.session import unit_of_work
from tests.integration.api.test_bad_input_battery import BAD_BODIES
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
ERASE = "/api/privacy/erasures"
EXPORT = "/api/privacy/export"


@pytest.fixture
def client(database_url: str, business: Business, tmp_path: Path) -> Iterator[TestClient]:
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        tracker_url=f"sqlite:///{tmp_path / 'no-tracker.db'}",
    )
    with TestClient(create_app(settings, business), raise_server_exceptions=False) as client:
        yield client


def _prepare(database_url: str) -> str:
    """A conversation, and two requests: BL-100002's erasure and BL-100001's access."""
    now = utcnow()
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        conversations.record_message(session, conversation, "customer", "my bill is wrong")
        ids = {
            c.account_number: c.id
            for c in session.scalars(
                select(Customer).where(Customer.account_number.in_(["BL-100001", "BL-100002"]))
            )
        }
        session.add_all(
            [
                DataRequest(
                    reference="DR-ERASE2",
                    kind="erasure",
                    customer_id=ids["BL-100002"],
                    due_at=now + timedelta(days=30),
                ),
                DataRequest(
                    reference="DR-ACCES1",
                    kind="access",
                    customer_id=ids["BL-100001"],
                    due_at=now + timedelta(days=30),
                ),
            ]
        )
        return conversation.id


def _state(database_url: str) -> dict[str, Any]:
    with unit_of_work(database_url) as session:
        return {
            "customers": [
                (c.account_number, c.name, c.email, c.postcode)
                for c in session.scalars(select(Customer).order_by(Customer.id))
            ],
            "messages": session.scalar(select(func.count()).select_from(Message)),
            "audits": session.scalar(select(func.count()).select_from(PrivacyAudit)),
            "requests": sorted(
                (r.reference, r.status) for r in session.scalars(select(DataRequest))
            ),
        }


REFUSED_ERASURES: list[tuple[dict[str, Any], int, str]] = [
    ({}, 400, "no_selector"),
    ({"account_number": "BL-100001", "conversation_id": "abc"}, 400, "one_selector"),
    ({"account_number": "BL-999999"}, 404, "unknown_account"),
    ({"account_number": "not an account"}, 400, "invalid_account_number"),
    ({"account_number": "BL-" + "1" * 60}, 400, "invalid_account_number"),
    ({"conversation_id": "NoSuchConversation0"}, 404, "unknown_conversation"),
    ({"conversation_id": "../../etc/passwd"}, 400, "invalid_conversation_id"),
    (
        {"account_number": "BL-100002", "request_reference": "DR-%%"},
        400,
        "invalid_request_reference",
    ),
    ({"account_number": "BL-100002", "request_reference": "DR-ZZZZZZ"}, 404, "unknown_request"),
    ({"account_number": "BL-100001", "request_reference": "DR-ERASE2"}, 400, "request_mismatch"),
    ({"account_number": "BL-100001", "request_reference": "DR-ACCES1"}, 400, "request_kind"),
    ({"account_number": 100001}, 400, "invalid_account_number"),
    ({"account_number": "BL-100001", "by": ""}, 400, "invalid_by"),
    ({"account_number": "BL-100001", "by": "x" * 121}, 400, "invalid_by"),
    ({"account_number": "BL-100001", "everything": True}, 400, "unknown_field"),
]


def test_the_api_refuses_bad_erasures_and_changes_nothing(
    client: TestClient, database_url: str
) -> None:
    _prepare(database_url)
    before = _state(database_url)
    for body, status, code in REFUSED_ERASURES:
        answer = client.post(ERASE, json=body, headers=ADMIN)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
        assert answer.json()["error"]["message"]
    for raw in BAD_BODIES:
        answer = client.post(
            ERASE, content=raw, headers={**ADMIN, "content-type": "application/json"}
        )
        assert 400 <= answer.status_code < 500, (raw[:40], answer.status_code)
        assert "error" in answer.json()
    assert client.post(ERASE, json={"account_number": "BL-100001"}).status_code == 401
    assert client.get(EXPORT, params={"account_number": "BL-100001"}).status_code == 401
    assert _state(database_url) == before


def test_the_api_refuses_bad_exports(client: TestClient, database_url: str) -> None:
    conversation_id = _prepare(database_url)
    before = _state(database_url)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 400, "no_selector"),
        ({"account_number": "BL-100001", "conversation_id": conversation_id}, 400, "one_selector"),
        ({"account_number": "BL-999999"}, 404, "unknown_account"),
        ({"conversation_id": "NoSuchConversation0"}, 404, "unknown_conversation"),
        (
            {"account_number": "BL-100001", "request_reference": "nonsense"},
            400,
            "invalid_request_reference",
        ),
        ({"account_number": "BL-100001", "colour": "red"}, 400, "unknown_field"),
    ]
    for params, status, code in cases:
        answer = client.get(EXPORT, params=params, headers=ADMIN)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), params
    assert _state(database_url) == before


def test_the_command_line_refuses_with_the_reason(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conversation_id = _prepare(database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RASA_TRACKER_URL", f"sqlite:///{tmp_path / 'no-tracker.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SLACK_ENABLED", "false")
    before = _state(database_url)
    cases = [
        (["privacy", "erase"], "Give an account number or a conversation id."),
        (
            ["privacy", "erase", "--account", "BL-100001", "--conversation", conversation_id],
            "not both",
        ),
        (["privacy", "erase", "--account", "BL-999999"], "no customer with that account"),
        (["privacy", "erase", "--account", "BL-100002", "--request", "DR-!"], "DR-7KQ2MZ"),
        (
            ["privacy", "erase", "--account", "BL-100002", "--request", "DR-ZZZZZZ"],
            "There is no data request DR-ZZZZZZ",
        ),
        (["privacy", "export", "--account", "BL-999999"], "no customer with that account"),
    ]
    for argv, reason in cases:
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="redress"):
            assert main(argv) == 2, argv
        assert any(reason in r.getMessage() for r in caplog.records), (argv, caplog.text)
    assert _state(database_url) == before
