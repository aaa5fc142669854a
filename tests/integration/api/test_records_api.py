"""GET /api/conversations/{id}: the whole record, only with the admin token."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings


def _start(client: TestClient) -> str:
    response = client.post("/api/messages", json={"conversation_id": None, "text": "no wifi"})
    return response.json()["conversation_id"]


def test_the_record_needs_the_admin_token(rasa_down_client: TestClient) -> None:
    conversation_id = _start(rasa_down_client)
    url = f"/api/conversations/{conversation_id}"
    assert rasa_down_client.get(url).status_code == 401
    wrong = rasa_down_client.get(url, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorised"
    basic = rasa_down_client.get(url, headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert basic.status_code == 401


def test_the_record_holds_every_message_with_role_and_time(rasa_down_client: TestClient) -> None:
    conversation_id = _start(rasa_down_client)
    response = rasa_down_client.get(
        f"/api/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200
    record = response.json()
    assert record["conversation"]["id"] == conversation_id
    assert record["conversation"]["channel"] == "web"
    assert record["conversation"]["status"] == "open"
    assert [m["role"] for m in record["messages"]] == ["customer", "bot"]
    assert record["messages"][0]["text"] == "no wifi"
    assert all(m["created_at"].endswith("+00:00") for m in record["messages"])
    for key in ("complaints", "incident_updates", "offers", "grants", "handoffs"):
        assert record[key] == []


def test_unknown_conversations_are_404_with_the_token(rasa_down_client: TestClient) -> None:
    response = rasa_down_client.get(
        "/api/conversations/nope", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_conversation"


def test_without_a_configured_token_the_records_api_is_off(sqlite_url: str, business) -> None:
    settings = replace(
        gateway_settings(sqlite_url, f"http://127.0.0.1:{closed_port()}"), admin_token=None
    )
    with TestClient(create_app(settings, business)) as client:
        response = client.get("/api/conversations/x", headers={"Authorization": "Bearer "})
        assert response.status_code == 401
        assert "REDRESS_ADMIN_TOKEN" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["bad%00id", "a" * 65, "%E2%98%83"])
def test_ids_that_cannot_name_a_conversation_are_404_not_a_crash(
    rasa_down_client: TestClient, name: str
) -> None:
    response = rasa_down_client.get(
        f"/api/conversations/{name}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 404
    # A NUL in the path is refused before any route: "not_found" rather than the route's own.
    assert response.json()["error"]["code"] in {"unknown_conversation", "not_found"}
