"""A conversation id alone lets nobody in: only the client that started a web chat, holding
the conversation_token its first reply gave, can post into it or watch it live."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from redress.conversations import records as conversations
from redress.db.models import Conversation, Message
from redress.db.session import unit_of_work
from tests.integration.api.chat import WebChat


def _messages(database_url: str) -> int:
    with unit_of_work(database_url) as session:
        return session.scalar(select(func.count(Message.id))) or 0


def _post(client: TestClient, body: dict[str, object]) -> tuple[int, dict]:
    response = client.post("/api/messages", json=body)
    return response.status_code, response.json()


def test_a_new_conversation_gets_a_secret_token_and_only_its_hash_is_kept(
    rasa_down_client: TestClient,
) -> None:
    chat = WebChat(rasa_down_client)
    first = chat.say("my broadband is down")
    assert first.status_code == 503  # no assistant behind it; the conversation starts anyway
    token = first.json()["conversation_token"]
    assert isinstance(token, str) and len(token) >= 43  # 256 random bits

    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    with unit_of_work(database_url) as session:
        row = session.get(Conversation, chat.conversation_id)
        assert row is not None
        assert row.client_token_hash == hashlib.sha256(token.encode()).hexdigest()

    # Given once: later replies do not repeat it, and the record does not show it.
    again = chat.say("hello?")
    assert again.status_code == 503
    assert "conversation_token" not in again.json()
    from tests.integration.conftest import ADMIN_TOKEN

    record = rasa_down_client.get(
        f"/api/conversations/{chat.conversation_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert record.status_code == 200
    assert token not in record.text


def test_each_conversation_has_its_own_token(rasa_down_client: TestClient) -> None:
    chats = [WebChat(rasa_down_client) for _ in range(3)]
    for chat in chats:
        chat.say("hi")
    assert len({chat.token for chat in chats}) == 3
    # One conversation's token does not open another.
    status, body = _post(
        rasa_down_client,
        {
            "conversation_id": chats[0].conversation_id,
            "conversation_token": chats[1].token,
            "text": "hi",
        },
    )
    assert (status, body["error"]["code"]) == (403, "invalid_conversation_token")


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (None, "conversation_token is required"),
        ("not-the-token", "does not match"),
        ("", "does not match"),
    ],
)
def test_a_follow_up_without_the_right_token_is_refused_and_not_recorded(
    rasa_down_client: TestClient, token: str | None, says: str
) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("my bill is wrong")
    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    before = _messages(database_url)

    body: dict[str, object] = {"conversation_id": chat.conversation_id, "text": "BL-100001"}
    if token is not None:
        body["conversation_token"] = token
    status, answer = _post(rasa_down_client, body)

    assert status == 403
    assert answer["error"]["code"] == "invalid_conversation_token"
    assert says in answer["error"]["message"]
    assert "conversation_id null" in answer["error"]["message"]  # what to do instead
    assert "replies" not in answer and "conversation_token" not in answer
    assert _messages(database_url) == before


def test_a_token_that_is_not_a_string_is_bad_input(rasa_down_client: TestClient) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("hi")
    status, answer = _post(
        rasa_down_client,
        {"conversation_id": chat.conversation_id, "conversation_token": 7, "text": "hi"},
    )
    assert (status, answer["error"]["code"]) == (400, "invalid_conversation_token")


def test_the_right_token_continues_the_conversation(rasa_down_client: TestClient) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("my phone line is dead")
    answer = chat.say("since monday")
    assert answer.status_code == 503  # recorded; the assistant is down in this test
    assert answer.json()["conversation_id"] == chat.conversation_id
    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    with unit_of_work(database_url) as session:
        said = session.scalars(
            select(Message.text).where(
                Message.conversation_id == chat.conversation_id, Message.role == "customer"
            )
        ).all()
    assert said == ["my phone line is dead", "since monday"]


def test_an_unknown_id_is_a_plain_404_with_or_without_a_token(
    rasa_down_client: TestClient,
) -> None:
    answers = [
        _post(rasa_down_client, {"conversation_id": "no-such-conversation", "text": "hi"}),
        _post(
            rasa_down_client,
            {"conversation_id": "no-such-conversation", "conversation_token": "x", "text": "hi"},
        ),
    ]
    for status, body in answers:
        assert status == 404
        assert body == {
            "error": {
                "code": "unknown_conversation",
                "message": "There is no conversation with that id.",
            }
        }


def _telegram_conversation(database_url: str) -> str:
    with unit_of_work(database_url) as session:
        conversation = conversations.conversation_on_channel(session, "telegram", "424242")
        conversations.record_message(session, conversation, "customer", "my bill is wrong")
        conversations.record_message(session, conversation, "bot", "Logged as RD-ABC123.")
        return conversation.id


def test_a_telegram_conversation_cannot_be_posted_into_from_the_web(
    rasa_down_client: TestClient,
) -> None:
    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    conversation_id = _telegram_conversation(database_url)
    before = _messages(database_url)
    for token in (None, "a-guessed-token", ""):
        status, body = _post(
            rasa_down_client,
            {"conversation_id": conversation_id, "conversation_token": token, "text": "status?"},
        )
        assert status == 403
        assert body["error"]["code"] == "invalid_conversation_token"
        # The same answer as any web chat's wrong token: nothing says where it lives.
        assert "telegram" not in json.dumps(body).lower()
        assert "RD-ABC123" not in json.dumps(body)
    assert _messages(database_url) == before


def _closed_before_anything_is_sent(client: TestClient, url: str) -> int:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(url) as socket:
        socket.receive_json()  # the first thing received is the close: nothing was sent
    return closed.value.code


def test_the_live_socket_needs_the_token(rasa_down_client: TestClient) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("my broadband is down")
    live = f"/api/conversations/{chat.conversation_id}/live?after=0"

    assert _closed_before_anything_is_sent(rasa_down_client, live) == 4401
    assert _closed_before_anything_is_sent(rasa_down_client, f"{live}&token=") == 4401
    assert _closed_before_anything_is_sent(rasa_down_client, f"{live}&token=guess") == 4401
    other = WebChat(rasa_down_client)
    other.say("hi")
    assert _closed_before_anything_is_sent(rasa_down_client, f"{live}&token={other.token}") == 4401

    with chat.live(after=0) as socket:
        assert socket.receive_json()["text"] == "my broadband is down"


def test_the_live_socket_of_a_telegram_conversation_cannot_be_opened(
    rasa_down_client: TestClient,
) -> None:
    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    conversation_id = _telegram_conversation(database_url)
    live = f"/api/conversations/{conversation_id}/live"
    assert _closed_before_anything_is_sent(rasa_down_client, live) == 4401
    assert _closed_before_anything_is_sent(rasa_down_client, f"{live}?token=guess") == 4401
