"""The web chat WebSocket: later messages are pushed, and a reconnect catches up."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.integration.api.chat import WebChat


def test_new_messages_are_pushed_and_reconnects_lose_nothing(rasa_down_client: TestClient) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("hi")

    with chat.live(after=0) as socket:
        caught_up = [socket.receive_json(), socket.receive_json()]
        assert [m["role"] for m in caught_up] == ["customer", "bot"]
        chat.say("still there?")
        pushed = [socket.receive_json(), socket.receive_json()]
        assert (pushed[0]["role"], pushed[0]["text"]) == ("customer", "still there?")
        assert pushed[1]["role"] == "bot"
        last_seen = pushed[1]["id"]

    # Away for a while: one more exchange happens with no socket open.
    chat.say("hello?")
    with chat.live(after=last_seen) as socket:
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
    chat = WebChat(rasa_down_client)
    chat.say("my phone line is dead")
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        chat.live(after=int("9" * 25)) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4400
