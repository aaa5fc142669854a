"""Buttons answer the question they came with, once; a message sent again with the same
client_message_id is the same message. The real gateway on a real database, with Rasa's
REST webhook faked (the assistant is not under test here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from tests.fakes.rasa import FakeRasa
from tests.integration.api.chat import WebChat
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa(prefix="answer to: ")
    yield fake
    fake.close()


@pytest.fixture
def chat(database_url: str, business: Business, rasa: FakeRasa) -> Iterator[WebChat]:
    with TestClient(create_app(gateway_settings(database_url, rasa.url), business)) as client:
        yield WebChat(client)


def _buttons(response: Any) -> dict[str, str]:
    return {b["title"]: b["payload"] for r in response.json()["replies"] for b in r["buttons"]}


def _messages(chat: WebChat) -> list[dict[str, Any]]:
    record = chat.client.get(
        f"/api/conversations/{chat.conversation_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    return list(record.json()["messages"])


def test_a_button_works_once_and_a_second_press_changes_nothing(
    chat: WebChat, rasa: FakeRasa
) -> None:
    yes = _buttons(chat.say("ask shall I add the credit"))["Yes"]
    first = chat.say(yes)
    assert first.status_code == 200
    assert first.json()["replies"][0]["text"] == "answer to: /affirm"

    again = chat.say(yes)
    said = [r["text"] for r in again.json()["replies"]]
    assert said[0] == "That choice has expired, so I haven't acted on it."
    # Only the first press reached the assistant.
    assert rasa.messages(str(chat.conversation_id)).count("/affirm") == 1


def test_a_button_from_an_earlier_question_expires_and_the_open_one_is_put_again(
    chat: WebChat, rasa: FakeRasa
) -> None:
    old_yes = _buttons(chat.say("ask first question"))["Yes"]
    chat.say("ask second question")
    stale = chat.say(old_yes)
    replies = stale.json()["replies"]
    assert replies[0]["text"].startswith("That choice has expired")
    assert replies[1]["text"] == "answer to: ask second question"
    fresh = {b["title"]: b["payload"] for b in replies[1]["buttons"]}
    assert set(fresh) == {"Yes", "No"} and fresh["Yes"] != old_yes
    assert "/affirm" not in rasa.messages(str(chat.conversation_id))
    # The question put again is the live one: its Yes works.
    assert chat.say(fresh["Yes"]).json()["replies"][0]["text"] == "answer to: /affirm"


def test_two_presses_at_once_are_one_answer(chat: WebChat, rasa: FakeRasa) -> None:
    yes = _buttons(chat.say("ask shall I"))["Yes"]
    answers: list[str] = []

    def press() -> None:
        answers.append(chat.say(yes).json()["replies"][0]["text"])

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted(
        ["answer to: /affirm", "That choice has expired, so I haven't acted on it."]
    )
    assert rasa.messages(str(chat.conversation_id)).count("/affirm") == 1


def test_a_repeated_client_message_id_is_the_same_message(chat: WebChat, rasa: FakeRasa) -> None:
    chat.say("hello")
    first = chat.say("my bill is wrong", client_message_id="m-1")
    again = chat.say("my bill is wrong", client_message_id="m-1")
    assert again.status_code == 200
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["replies"] == first.json()["replies"]
    assert rasa.messages(str(chat.conversation_id)).count("my bill is wrong") == 1
    texts = [m["text"] for m in _messages(chat) if m["role"] == "customer"]
    assert texts == ["hello", "my bill is wrong"]


def test_a_message_the_assistant_could_not_answer_is_tried_again_not_recorded_again(
    chat: WebChat, rasa: FakeRasa
) -> None:
    chat.say("hello")
    rasa.failures = 1
    failed = chat.say("my bill is wrong", client_message_id="m-2")
    assert failed.status_code == 503
    retried = chat.say("my bill is wrong", client_message_id="m-2")
    assert retried.status_code == 200
    assert retried.json()["replies"][-1]["text"] == "answer to: my bill is wrong"
    assert retried.json()["message_id"] == failed.json()["message_id"]
    customer = [m["text"] for m in _messages(chat) if m["role"] == "customer"]
    assert customer == ["hello", "my bill is wrong"]


def test_a_client_message_id_must_be_short_and_plain(chat: WebChat) -> None:
    chat.say("hello")
    refused = chat.say("again", client_message_id="not ok!")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_client_message_id"
