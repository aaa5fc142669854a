"""Card details and passwords a customer types are never kept: masked before the message is
recorded, before the assistant gets it, before anyone sees it live; the customer is told so
in one sentence, and the rest of the message is answered as usual. The real gateway on a
real database; Rasa's webhook is faked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.db.models import Message, PendingTurn
from redress.db.session import unit_of_work
from tests.fakes.rasa import FakeRasa
from tests.integration.api.chat import WebChat
from tests.integration.conftest import gateway_settings

CARD = "4111 1111 1111 1111"


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa(prefix="answer to: ")
    yield fake
    fake.close()


@pytest.fixture
def chat(database_url: str, business: Business, rasa: FakeRasa) -> Iterator[WebChat]:
    with TestClient(create_app(gateway_settings(database_url, rasa.url), business)) as client:
        yield WebChat(client)


def _stored_texts(database_url: str) -> list[str]:
    with unit_of_work(database_url) as session:
        texts = list(session.scalars(select(Message.text)))
        texts += list(session.scalars(select(PendingTurn.sent)))
        return texts


def test_a_card_number_is_masked_everywhere_and_the_customer_is_told(
    chat: WebChat, rasa: FakeRasa, database_url: str
) -> None:
    first = chat.say("hello")
    typed = f"you charged me twice, my card is {CARD} exp 12/27 cvv 123"
    with chat.live(after=first.json()["replies"][-1]["id"]) as socket:
        answer = chat.say(typed)
        pushed: list[dict[str, Any]] = [socket.receive_json() for _ in range(3)]
    assert answer.status_code == 200
    shown = "you charged me twice, my card is •••• •••• •••• 1111 exp ••/•• cvv •••"
    replies = [r["text"] for r in answer.json()["replies"]]
    assert replies[0].startswith("For your safety I've hidden the card details you sent")
    assert replies[1] == f"answer to: {shown}"
    assert [m["text"] for m in pushed] == [shown, replies[0], replies[1]]
    assert rasa.received[-1]["message"] == shown
    stored = " ".join(_stored_texts(database_url))
    for secret in (CARD, "4111111111111111", "12/27", "cvv 123"):
        assert secret not in stored
    assert shown in stored


def test_a_password_is_masked_and_named(chat: WebChat, rasa: FakeRasa) -> None:
    answer = chat.say("I can't log in, my password is Tr0ub4dor&3 and it says wrong")
    replies = [r["text"] for r in answer.json()["replies"]]
    assert replies[0].startswith("For your safety I've hidden the password you sent")
    assert "Tr0ub4dor" not in rasa.received[-1]["message"]
    assert "Tr0ub4dor" not in " ".join(replies)


def test_an_ordinary_message_gets_no_such_sentence(chat: WebChat) -> None:
    answer = chat.say("my account is BL-100001 and I was charged £49.50 twice")
    assert [r["text"] for r in answer.json()["replies"]] == [
        "answer to: my account is BL-100001 and I was charged £49.50 twice"
    ]
