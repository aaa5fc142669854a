"""Customers' personal-data requests in the console: an administrator sees the open ones,
downloads a customer's data and erases it (confirmed, audited under their name), through the
same functions as the privacy API; anyone else is turned away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from redress import audit
from redress.business import Business
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Customer, DataRequest, Message
from redress.db.session import unit_of_work
from tests.integration.conftest import closed_port, gateway_settings
from tests.integration.console.signing_in import add_operator, console_client, post_form, sign_in


@pytest.fixture
def client(database_url: str, business: Business, tmp_path: Path) -> Iterator[TestClient]:
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        tracker_url=f"sqlite:///{tmp_path / 'no-tracker.db'}",
    )
    add_operator(database_url, "ada", "admin", name="Ada Admin")
    add_operator(database_url, "sam", "agent", name="Sam Agent")
    with console_client(database_url, business, settings) as found:
        found.database_url = database_url  # type: ignore[attr-defined]
        yield found


def _customer_with_a_request(database_url: str) -> str:
    with unit_of_work(database_url) as session:
        customer = session.scalar(select(Customer).where(Customer.account_number == "BL-100002"))
        assert customer is not None
        conversation = conversations.start_conversation(session, "web")
        conversation.customer_id = customer.id
        conversations.record_message(session, conversation, "customer", "please delete my data")
        session.add(
            DataRequest(
                reference="DR-ERASE2",
                kind="erasure",
                customer_id=customer.id,
                conversation_id=conversation.id,
                due_at=utcnow() + timedelta(days=30),
            )
        )
        return conversation.id


def test_an_admin_downloads_then_erases_a_customers_data(client: TestClient) -> None:
    database_url = client.database_url  # type: ignore[attr-defined]
    conversation_id = _customer_with_a_request(database_url)
    sign_in(client, "ada")
    page = client.get("/console/privacy")
    assert page.status_code == 200
    assert "DR-ERASE2" in page.text and "Open requests (1)" in page.text

    download = client.get("/console/privacy/export", params={"account_number": "BL-100002"})
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    document = json.loads(download.text)
    assert "please delete my data" in download.text
    assert document

    unconfirmed = post_form(
        client,
        "/console/privacy/erase",
        {"account_number": "BL-100002", "request_reference": "DR-ERASE2", "confirm": ""},
        page.text,
    )
    assert unconfirmed.status_code == 400
    assert "Type ERASE" in unconfirmed.text
    with unit_of_work(database_url) as session:
        assert session.scalar(select(Message).where(Message.conversation_id == conversation_id))

    erased = post_form(
        client,
        "/console/privacy/erase",
        {"account_number": "BL-100002", "request_reference": "DR-ERASE2", "confirm": "ERASE"},
        page.text,
    )
    assert erased.status_code == 200
    assert "Erased BL-100002" in erased.text
    with unit_of_work(database_url) as session:
        assert (
            session.scalar(select(Message).where(Message.conversation_id == conversation_id))
            is None
        )
        request = session.scalar(select(DataRequest).where(DataRequest.reference == "DR-ERASE2"))
        assert request is not None and request.status == "done"
        entries = audit.entries(session, limit=20)
    assert any(e.actor == "Ada Admin (console)" and e.via == audit.CONSOLE for e in entries)


def test_a_bad_request_says_what_is_wrong_and_an_agent_is_turned_away(
    client: TestClient,
) -> None:
    sign_in(client, "ada")
    page = client.get("/console/privacy")
    unknown = post_form(
        client,
        "/console/privacy/erase",
        {"account_number": "BL-999999", "confirm": "ERASE"},
        page.text,
    )
    assert unknown.status_code == 404
    both = client.get(
        "/console/privacy/export", params={"account_number": "BL-100001", "conversation_id": "abc"}
    )
    assert both.status_code == 400
    assert "not both" in both.text

    client.cookies.clear()
    sign_in(client, "sam")
    refused = client.get("/console/privacy")
    assert refused.status_code == 403
    assert "needs the admin role" in refused.text
    assert "/console/privacy" not in client.get("/console/desk").text
