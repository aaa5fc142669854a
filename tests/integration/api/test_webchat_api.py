"""The web chat API's answers to bad input, and to the assistant being down.

Every bad request gets a specific 4xx JSON error and writes nothing; nothing gets a 500.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from redress.db.models import Conversation, ConversationEvent, Message
from redress.db.session import unit_of_work
from tests.integration.api.chat import WebChat


def _counts(database_url: str) -> tuple[int, int]:
    with unit_of_work(database_url) as session:
        return (
            session.scalar(select(func.count(Conversation.id))) or 0,
            session.scalar(select(func.count(Message.id))) or 0,
        )


def _post_raw(client: TestClient, body: bytes) -> tuple[int, dict]:
    response = client.post(
        "/api/messages", content=body, headers={"content-type": "application/json"}
    )
    return response.status_code, response.json()


BAD_BODIES = [
    (b'{"conversation_id": null, "text": ""}', 400, "empty_text"),
    (b'{"conversation_id": null, "text": "   \\n\\t "}', 400, "empty_text"),
    (b'{"conversation_id": null, "text": "\\u200b\\u200d \\ufeff\\u2060"}', 400, "empty_text"),
    (json.dumps({"conversation_id": None, "text": "x" * 4001}).encode(), 400, "text_too_long"),
    (b'{"conversation_id": null, "text": "unfinished', 400, "invalid_json"),
    (b"not json at all", 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b'["a", "list"]', 400, "invalid_body"),
    (b'{"conversation_id": null}', 400, "invalid_text"),
    (b'{"conversation_id": null, "text": 42}', 400, "invalid_text"),
    (b'{"conversation_id": null, "text": ["hi"]}', 400, "invalid_text"),
    (b'{"conversation_id": 7, "text": "hi"}', 400, "invalid_conversation_id"),
    (b'{"conversation_id": null, "text": "\xff\xfe broken bytes"}', 400, "invalid_utf8"),
    (b'{"conversation_id": null, "text": "lone \\ud800 surrogate"}', 400, "invalid_text"),
    (b'{"conversation_id": null, "text": "nul \\u0000 byte"}', 400, "invalid_text"),
    (b'{"conversation_id": "no-such-conversation", "text": "hi"}', 404, "unknown_conversation"),
    (b'{"conversation_id": "' + b"x" * 300 + b'", "text": "hi"}', 404, "unknown_conversation"),
    (b'{"conversation_id": "ab\\u0000cd", "text": "hi"}', 404, "unknown_conversation"),
    (b'{"conversation_id": "../../etc", "text": "hi"}', 404, "unknown_conversation"),
    # Nested far too deeply to read, and a number of 5,000 digits: refused, not a crash.
    (
        b'{"conversation_id": null, "text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        400,
        "invalid_json",
    ),
    (b'{"conversation_id": null, "text": "hi", "n": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_BODIES)
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    rasa_down_client: TestClient, body: bytes, status: int, code: str
) -> None:
    got_status, payload = _post_raw(rasa_down_client, body)
    assert got_status == status
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert "Traceback" not in json.dumps(payload)
    assert _counts(rasa_down_client.database_url) == (0, 0)  # type: ignore[attr-defined]


def test_too_long_message_says_the_limit_and_the_length(rasa_down_client: TestClient) -> None:
    status, payload = _post_raw(
        rasa_down_client, json.dumps({"conversation_id": None, "text": "a" * 4500}).encode()
    )
    assert status == 400
    assert "4000" in payload["error"]["message"]
    assert "4500" in payload["error"]["message"]


def test_a_huge_body_is_refused_before_it_is_read(rasa_down_client: TestClient) -> None:
    status, payload = _post_raw(rasa_down_client, b'{"text": "' + b"a" * 200_000 + b'"}')
    assert status == 413
    assert payload["error"]["code"] == "body_too_large"


def test_when_the_assistant_is_down_the_customer_hears_the_truth_and_the_message_is_kept(
    rasa_down_client: TestClient,
) -> None:
    text = "my internet is down <script>alert('x')</script> & it's been 3 days"
    response = rasa_down_client.post("/api/messages", json={"conversation_id": None, "text": text})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "10"
    body = response.json()
    assert body["error"]["code"] == "assistant_unavailable"
    assert body["retry_after"] == 10
    # What is true: it is kept, and it will be answered here when the assistant is back.
    said = body["replies"][0]["text"]
    assert "kept your message" in said and "answer it here" in said
    assert "nothing is lost" not in said

    database_url = rasa_down_client.database_url  # type: ignore[attr-defined]
    with unit_of_work(database_url) as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.role, m.text) for m in messages] == [
            ("customer", text),  # stored exactly as typed, shown as text
            ("bot", body["replies"][0]["text"]),
        ]
        kinds = session.scalars(select(ConversationEvent.kind)).all()
        assert kinds == ["assistant_unavailable"]

    # The conversation goes on: the same id, with its token, is accepted next time.
    again = rasa_down_client.post(
        "/api/messages",
        json={
            "conversation_id": body["conversation_id"],
            "conversation_token": body["conversation_token"],
            "text": "hello?",
        },
    )
    assert again.status_code == 503
    assert again.json()["conversation_id"] == body["conversation_id"]


def test_conversation_ids_are_long_and_random(rasa_down_client: TestClient) -> None:
    ids = {
        rasa_down_client.post("/api/messages", json={"conversation_id": None, "text": "hi"}).json()[
            "conversation_id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3
    assert all(len(i) >= 32 for i in ids)


def test_unknown_paths_and_methods_are_json_errors(rasa_down_client: TestClient) -> None:
    missing = rasa_down_client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = rasa_down_client.get("/api/messages")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_the_chat_page_is_served_with_a_content_security_policy(
    rasa_down_client: TestClient,
) -> None:
    page = rasa_down_client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


def test_too_many_messages_get_a_friendly_slow_down(rasa_down_client: TestClient) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("hi")
    statuses = [chat.say(f"hello {n}").status_code for n in range(14)]
    assert statuses.count(503) == 12  # 12 a minute once the conversation has its id
    assert statuses[-1] == 429
    refused = chat.say("are you there")
    body = refused.json()
    assert refused.status_code == 429
    assert body["error"]["code"] == "slow_down"
    assert "slower" in body["replies"][0]["text"] or "wait" in body["replies"][0]["text"]
    assert int(refused.headers["retry-after"]) >= 1
    with unit_of_work(rasa_down_client.database_url) as session:  # type: ignore[attr-defined]
        texts = session.scalars(select(Message.text).where(Message.role == "customer")).all()
    assert "are you there" not in texts  # refused, so not recorded as answered


def test_messages_refused_for_a_wrong_token_do_not_use_up_the_conversations_limit(
    rasa_down_client: TestClient,
) -> None:
    chat = WebChat(rasa_down_client)
    chat.say("hi")
    for n in range(14):
        refused = rasa_down_client.post(
            "/api/messages",
            json={
                "conversation_id": chat.conversation_id,
                "conversation_token": "guess",
                "text": f"{n}",
            },
        )
        assert refused.status_code == 403
    assert chat.say("still me").status_code == 503  # let in; the assistant is down here


def test_an_operator_message_reaches_the_conversation(rasa_down_client: TestClient) -> None:
    from tests.integration.conftest import ADMIN_TOKEN

    chat = WebChat(rasa_down_client)
    start = chat.say("hi")
    url = f"/api/conversations/{chat.conversation_id}/messages"
    assert rasa_down_client.post(url, json={"text": "Hello"}).status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with chat.live(after=start.json()["replies"][-1]["id"]) as socket:
        sent = rasa_down_client.post(
            url, json={"text": "Hi, I'm Jo.", "author": "Jo"}, headers=headers
        )
        assert sent.status_code == 201
        pushed = socket.receive_json()
    assert pushed == sent.json()
    assert (pushed["role"], pushed["author"], pushed["text"]) == ("agent", "Jo", "Hi, I'm Jo.")
    assert rasa_down_client.post(url, json={"text": ""}, headers=headers).status_code == 400
    missing = rasa_down_client.post(
        "/api/conversations/nope/messages", json={"text": "x"}, headers=headers
    )
    assert missing.status_code == 404


def test_other_sites_cannot_open_the_live_socket(rasa_down_client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    chat = WebChat(rasa_down_client)
    chat.say("hi")
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        chat.live(headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4403
    with chat.live(headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["text"] == "hi"


def test_replies_carry_ids_so_clients_can_drop_duplicates(rasa_down_client: TestClient) -> None:
    body = rasa_down_client.post(
        "/api/messages", json={"conversation_id": None, "text": "hi"}
    ).json()
    assert isinstance(body["message_id"], int)
    assert all(reply["id"] > body["message_id"] for reply in body["replies"])
