"""A message the assistant could not answer is kept and answered when it is back, in order,
once, and the answer is pushed to the customer: the 503's promise is kept. The real gateway
(with its jobs running) on a real database; Rasa's webhook is faked and can be made to fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.conversations import pending
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
