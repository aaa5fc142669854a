"""Two gateways sharing one database and Redis (``REDIS_URL``), as behind a load balancer:
a web chat open on one sees what the other recorded, the rate limit is one limit, and two
messages of one conversation sent to both at once are answered one after the other. Real
Redis on 127.0.0.1:6379 (database 13, emptied around each test), real SQLite and
PostgreSQL, and a fake Rasa that takes its time and notes how many turns of one
conversation it is asked at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from bot.app import create_app
from bot.shared_state import LocalTurns
from redress.business import Business
from tests.fakes.rasa import FakeRasa
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings

REDIS_URL = "redis://127.0.0.1:6379/13"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@contextmanager
def gateways(
    database_url: str, business: Business, *, redis_url: str | None = REDIS_URL, **changes: Any
) -> Iterator[tuple[TestClient, TestClient, FakeRasa]]:
    rasa = FakeRasa(prefix="answer to: ", delay=0.3)
    settings = replace(gateway_settings(database_url, rasa.url), redis_url=redis_url, **changes)
    try:
        with ExitStack() as stack:
            first = stack.enter_context(TestClient(create_app(settings, business)))
            second = stack.enter_context(TestClient(create_app(settings, business)))
            yield first, second, rasa
    finally:
        rasa.close()


# Each conversation's conversation_token, kept from the reply that started it (as the widget
# keeps it) and sent with every later message and on the live WebSocket.
TOKENS: dict[str, str] = {}


def say(client: TestClient, conversation_id: str | None, text: str) -> Any:
    response = client.post(
        "/api/messages",
        json={
            "conversation_id": conversation_id,
            "conversation_token": TOKENS.get(conversation_id or ""),
            "text": text,
        },
    )
    body = response.json()
    if "conversation_token" in body:
        TOKENS[body["conversation_id"]] = body["conversation_token"]
    return response


def record(client: TestClient, conversation_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/conversations/{conversation_id}", headers=AUTH)
    assert answer.status_code == 200
    return answer.json()


def test_a_web_chat_open_on_one_gateway_sees_what_the_other_recorded(
    database_url: str, business: Business, shared_redis: redis.Redis
) -> None:
    with gateways(database_url, business) as (first, second, _):
        started = say(first, None, "my broadband is down")
        assert started.status_code == 200
        conversation_id = started.json()["conversation_id"]
        last = record(first, conversation_id)["messages"][-1]["id"]
        with first.websocket_connect(
            f"/api/conversations/{conversation_id}/live?after={last}"
            f"&token={TOKENS[conversation_id]}"
        ) as live:
            assert say(second, conversation_id, "still down, any news?").status_code == 200
            pushed = [live.receive_json(), live.receive_json()]
        assert [(m["role"], m["text"]) for m in pushed] == [
            ("customer", "still down, any news?"),
            ("bot", "answer to: still down, any news?"),
        ]


def test_the_rate_limit_is_one_limit_across_gateways(
    database_url: str, business: Business, shared_redis: redis.Redis
) -> None:
    with gateways(database_url, business, messages_per_minute_per_conversation=4) as (
        first,
        second,
        rasa,
    ):
        rasa.delay = 0
        conversation_id = say(first, None, "hello").json()["conversation_id"]
        # The first message started the conversation and was not counted against it.
        answers = [
            say(client, conversation_id, f"message {n}").status_code
            for n, client in enumerate([first, second, first, second, first])
        ]
        assert answers == [200, 200, 200, 200, 429]
        assert say(second, conversation_id, "and again").status_code == 429


def test_messages_sent_to_both_gateways_at_once_take_turns(
    database_url: str, business: Business, shared_redis: redis.Redis
) -> None:
    with gateways(database_url, business) as (first, second, rasa):
        conversation_id = say(first, None, "my bill is wrong").json()["conversation_id"]
        texts = [f"detail {n}" for n in range(6)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(
                pool.map(
                    lambda pair: say(pair[0], conversation_id, pair[1]),
                    zip([first, second] * 3, texts, strict=True),
                )
            )
        assert [a.status_code for a in answers] == [200] * 6
        assert rasa.most_at_once == 1  # the assistant was never asked two turns at once
        # Each message is followed by its own answer in the record: nothing interleaved,
        # lost or doubled.
        messages = [(m["role"], m["text"]) for m in record(first, conversation_id)["messages"]]
        sent = [text for role, text in messages[2:] if role == "customer"]
        assert sorted(sent) == texts
        for index, (role, text) in enumerate(messages[2:]):
            if role == "customer":
                assert messages[2:][index + 1] == ("bot", f"answer to: {text}")


def test_without_redis_each_gateway_only_orders_its_own_messages(
    sqlite_url: str, business: Business
) -> None:
    # The control for the test above: two gateways that share nothing do ask the
    # assistant two turns of one conversation at once.
    with gateways(sqlite_url, business, redis_url=None) as (first, second, rasa):
        conversation_id = say(first, None, "my bill is wrong").json()["conversation_id"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda client: say(client, conversation_id, "more"), [first, second]))
        assert rasa.most_at_once == 2


def test_with_redis_down_the_gateway_still_answers(
    sqlite_url: str, business: Business, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    down = f"redis://127.0.0.1:{closed_port()}/0"
    with gateways(sqlite_url, business, redis_url=down) as (first, second, rasa):
        rasa.delay = 0
        started = say(first, None, "no internet")
        assert started.status_code == 200
        conversation_id = started.json()["conversation_id"]
        answer = say(second, conversation_id, "since this morning")
        assert answer.status_code == 200
        assert answer.json()["replies"][0]["text"] == "answer to: since this morning"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Redis unreachable" in logged or "rate limit not checked" in logged


def test_idle_conversations_keep_no_turn_lock() -> None:
    turns = LocalTurns()

    async def two_turns() -> None:
        async with turns.hold("a"):
            assert len(turns) == 1
        async with turns.hold("b"):
            pass

    asyncio.run(two_turns())
    assert len(turns) == 0
