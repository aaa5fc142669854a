"""A message the assistant could not answer is kept and answered when it is back, in order,
once, and the answer is pushed to the customer: the 503's promise is kept. The real gateway
(with its jobs running) on a real database; Rasa's webhook is faked and can be made to fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.clock import utcnow
from redress.conversations import pending
from redress.conversations import records as conversations
from redress.db.models import Conversation
from redress.db.session import unit_of_work
from tests.fakes.rasa import FakeRasa
from tests.integration.api.chat import WebChat
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings

DOWN = 10**6  # failures: down until set back to 0


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa(prefix="answer to: ")
    yield fake
    fake.close()


@pytest.fixture
def chat(database_url: str, business: Business, rasa: FakeRasa) -> Iterator[WebChat]:
    settings = replace(gateway_settings(database_url, rasa.url), outbox_poll_seconds=0.2)
    with TestClient(create_app(settings, business)) as client:
        yield WebChat(client)


def _record(chat: WebChat) -> dict[str, Any]:
    answer = chat.client.get(
        f"/api/conversations/{chat.conversation_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    return dict(answer.json())


def _wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_kept_messages_are_answered_in_order_once_the_assistant_is_back(
    chat: WebChat, rasa: FakeRasa, business: Business, database_url: str
) -> None:
    chat.say("hello")
    rasa.failures = DOWN
    first = chat.say("my internet is down")
    second = chat.say("and the phone too")
    assert first.status_code == second.status_code == 503
    assert first.json()["replies"][0]["text"] == business.brand.assistant_unavailable
    with unit_of_work(database_url) as session:
        assert pending.count(session) == 2

    with chat.live(after=second.json()["replies"][-1]["id"]) as socket:
        rasa.failures = 0  # back
        pushed = [socket.receive_json()["text"] for _ in range(2)]
    assert pushed == ["answer to: my internet is down", "answer to: and the phone too"]
    # Each was answered once, in the order sent; nothing is left kept.
    said = rasa.answered(str(chat.conversation_id))
    assert said == ["hello", "my internet is down", "and the phone too"]
    with unit_of_work(database_url) as session:
        assert pending.count(session) == 0
    texts = [(m["role"], m["text"]) for m in _record(chat)["messages"]]
    assert texts[-2:] == [
        ("bot", "answer to: my internet is down"),
        ("bot", "answer to: and the phone too"),
    ]


def test_a_new_message_waits_for_the_kept_ones_before_it(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    chat.say("hello")
    rasa.failures = DOWN
    chat.say("first while down")
    rasa.failures = 0
    answered = chat.say("after it came back")
    assert answered.status_code == 200
    assert rasa.answered(str(chat.conversation_id)) == [
        "hello",
        "first while down",
        "after it came back",
    ]
    assert answered.json()["replies"][-1]["text"] == "answer to: after it came back"


def test_the_kept_message_sent_again_is_answered_once(chat: WebChat, rasa: FakeRasa) -> None:
    chat.say("hello")
    rasa.failures = DOWN
    chat.say("is anyone there", client_message_id="k-1")
    still = chat.say("is anyone there", client_message_id="k-1")
    assert still.status_code == 503  # still down: the same answer, nothing recorded again
    rasa.failures = 0
    again = chat.say("is anyone there", client_message_id="k-1")
    assert again.status_code == 200
    assert [r["text"] for r in again.json()["replies"]] == ["answer to: is anyone there"]
    assert rasa.answered(str(chat.conversation_id)).count("is anyone there") == 1
    customer = [m["text"] for m in _record(chat)["messages"] if m["role"] == "customer"]
    assert customer == ["hello", "is anyone there"]


def test_a_message_left_mid_turn_by_a_stopped_gateway_is_answered_by_the_queue(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    hello = chat.say("hello")
    # What a gateway that stopped between recording a message and recording its answer
    # leaves behind: the message, still in the inbound queue, its time to answer passed.
    with unit_of_work(database_url) as session:
        conversation = conversations.get_conversation(session, str(chat.conversation_id))
        assert conversation is not None
        message = conversations.record_message(
            session, conversation, "customer", "are you there", client_message_id="m-1"
        )
        pending.take_in(
            session, conversation.id, message.id, "are you there", "web", utcnow()
        )  # fmt: skip
    with chat.live(after=hello.json()["replies"][-1]["id"]) as socket:
        pushed = [socket.receive_json() for _ in range(2)]
    assert [(m["role"], m["text"]) for m in pushed] == [
        ("customer", "are you there"),
        ("bot", "answer to: are you there"),
    ]
    # The customer's client, sending it again after the lost connection, gets that answer.
    again = chat.say("are you there", client_message_id="m-1")
    assert again.status_code == 200
    assert [r["text"] for r in again.json()["replies"]] == ["answer to: are you there"]
    assert rasa.answered(str(chat.conversation_id)) == ["hello", "are you there"]
    with unit_of_work(database_url) as session:
        assert pending.count(session) == 0


def test_a_message_being_answered_is_not_taken_by_the_queue(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    chat.say("hello")
    rasa.delay = 1.5  # the queue looks every 0.2 s meanwhile
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(chat.say, "a slow one")
        _wait_for(lambda: len(rasa.received) == 2)
        # In the queue while it is being answered, so a gateway stopping now loses nothing.
        with unit_of_work(database_url) as session:
            assert pending.count(session) == 1
        assert answer.result().status_code == 200
    time.sleep(0.5)
    sent = [body["message"] for body in rasa.received]
    assert sent == ["hello", "a slow one"]
    with unit_of_work(database_url) as session:
        assert pending.count(session) == 0


def test_the_assistant_is_told_which_recorded_message_it_answers(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    """So Rasa can recognise a message it already answered when it is sent again."""
    chat.say("hello")
    record = _record(chat)
    customer = [m for m in record["messages"] if m["role"] == "customer"]
    assert rasa.received[-1]["metadata"]["message_id"] == customer[-1]["id"]


def _start(chat: WebChat, text: str, client_message_id: str) -> dict[str, Any]:
    """Posts a conversation's first message, as a client that has no conversation yet."""
    body = {"conversation_id": None, "text": text, "client_message_id": client_message_id}
    response = chat.client.post("/api/messages", json=body)
    assert response.status_code in (200, 503), response.text
    return dict(response.json())


def test_a_first_message_sent_again_after_a_lost_answer_is_the_same_conversation(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    client_id = "w3f9c2a1b7e6d5c4b3a291807"
    first = _start(chat, "my broadband died last night", client_id)  # its answer is lost
    again = _start(chat, "my broadband died last night", client_id)
    assert again["conversation_id"] == first["conversation_id"]
    assert [r["text"] for r in again["replies"]] == ["answer to: my broadband died last night"]
    assert rasa.answered(first["conversation_id"]) == ["my broadband died last night"]
    # The client carries on with the token it was given this time.
    chat.conversation_id, chat.token = again["conversation_id"], again["conversation_token"]
    assert chat.say("still down").status_code == 200
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_a_first_message_is_not_found_again_by_a_short_id_or_other_words(
    chat: WebChat,
) -> None:
    first = _start(chat, "my bill is wrong", "short-id")
    assert (
        _start(chat, "my bill is wrong", "short-id")["conversation_id"]
        != (first["conversation_id"])
    )
    long_id = "w0123456789abcdef01234567"
    started = _start(chat, "my bill is wrong", long_id)
    assert (
        _start(chat, "my bill is still wrong", long_id)["conversation_id"]
        != (started["conversation_id"])
    )
