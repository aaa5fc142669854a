"""The web chat WebSocket: later messages are pushed, and a reconnect catches up."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect


def test_new_messages_are_pushed_and_reconnects_lose_nothing(rasa_down_client: TestClient) -> None:
    first = rasa_down_client.post("/api/messages", json={"conversation_id": None, "text": "hi"})
    conversation_id = first.json()["conversation_id"]
    live = f"/api/conversations/{conversation_id}/live"

    with rasa_down_client.websocket_connect(f"{live}?after=0") as socket:
        caught_up = [socket.receive_json(), socket.receive_json()]
        assert [m["role"] for m in caught_up] == ["customer", "bot"]
        rasa_down_client.post(
            "/api/messages", json={"conversation_id": conversation_id, "text": "still there?"}
        )
        pushed = [socket.receive_json(), socket.receive_json()]
        assert (pushed[0]["role"], pushed[0]["text"]) == ("customer", "still there?")
        assert pushed[1]["role"] == "bot"
        last_seen = pushed[1]["id"]

    # Away for a while: one more exchange happens with no socket open.
    rasa_down_client.post(
        "/api/messages", json={"conversation_id": conversation_id, "text": "hello?"}
    )
    with rasa_down_client.websocket_connect(f"{live}?after={last_seen}") as socket:
        missed = [socket.receive_json(), socket.receive_json()]
        assert missed[0]["text"] == "hello?"
        assert all(m["id"] > last_seen for m in missed)


def test_unknown_conversations_cannot_be_watched(rasa_down_client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rasa_down_client.websocket_connect("/api/conversations/nope/live") as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4404


def test_a_conversation_id_that_cannot_exist_is_refused_before_the_database(
    rasa_down_client: TestClient,
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rasa_down_client.websocket_connect("/api/conversations/bad%00id/live") as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4404


def test_an_after_too_large_for_any_message_id_is_refused(rasa_down_client: TestClient) -> None:
    response = rasa_down_client.post(
        "/api/messages", json={"conversation_id": None, "text": "my phone line is dead"}
    )
    conversation_id = response.json()["conversation_id"]
    live = f"/api/conversations/{conversation_id}/live?after={'9' * 25}"
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rasa_down_client.websocket_connect(live) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4400
