"""A turn that takes longer than usual: the customer hears so at once, in one true sentence,
and then gets the answer; the record holds both in the order shown. The real gateway on a
real database; Rasa's webhook is faked and made slow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.settings import Settings, SettingsError
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
    settings = replace(gateway_settings(database_url, rasa.url), slow_turn_notice_seconds=0.5)
    with TestClient(create_app(settings, business)) as client:
        yield WebChat(client)


def _said(chat: WebChat) -> list[tuple[str, str]]:
    record: dict[str, Any] = chat.client.get(
        f"/api/conversations/{chat.conversation_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    return [(m["role"], m["text"]) for m in record["messages"]]


def test_a_slow_answer_is_preceded_by_a_notice_shown_at_once(
    chat: WebChat, rasa: FakeRasa, business: Business
) -> None:
    first = chat.say("hello")
    notice = business.brand.taking_longer
    rasa.delay = 2.0
    with chat.live(after=first.json()["replies"][-1]["id"]) as socket:
        answer = chat.say("my internet is down")
        pushed = [socket.receive_json() for _ in range(3)]
    assert [(m["role"], m["text"]) for m in pushed] == [
        ("customer", "my internet is down"),
        ("bot", notice),
        ("bot", "answer to: my internet is down"),
    ]
    assert answer.status_code == 200
    assert [r["text"] for r in answer.json()["replies"]] == [
        notice,
        "answer to: my internet is down",
    ]
    assert _said(chat)[-2:] == [("bot", notice), ("bot", "answer to: my internet is down")]


def test_a_quick_answer_has_no_notice(chat: WebChat, business: Business) -> None:
    chat.say("hello")
    answer = chat.say("my internet is down")
    assert [r["text"] for r in answer.json()["replies"]] == ["answer to: my internet is down"]
    assert business.brand.taking_longer not in [text for _, text in _said(chat)]


def test_a_slow_turn_that_then_fails_says_both_things_that_were_true(
    chat: WebChat, rasa: FakeRasa, business: Business
) -> None:
    chat.say("hello")
    rasa.delay, rasa.failures = 1.5, 1
    answer = chat.say("my internet is down")
    assert answer.status_code == 503
    assert [r["text"] for r in answer.json()["replies"]] == [
        business.brand.taking_longer,
        business.brand.assistant_unavailable,
    ]


def test_the_notice_must_come_before_the_gateway_gives_up_on_rasa() -> None:
    env = {"RASA_TIMEOUT_SECONDS": "10", "REDRESS_SLOW_TURN_NOTICE_SECONDS": "10"}
    with pytest.raises(SettingsError, match="REDRESS_SLOW_TURN_NOTICE_SECONDS"):
        Settings.from_env(env)
    assert (
        Settings.from_env({**env, "REDRESS_SLOW_TURN_NOTICE_SECONDS": "0"}).slow_turn_notice_seconds
        == 0
    )
    assert Settings.from_env({"RASA_TIMEOUT_SECONDS": "4"}).slow_turn_notice_seconds == 2
