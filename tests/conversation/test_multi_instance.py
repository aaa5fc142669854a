"""Two Rasa servers and two gateways on one PostgreSQL database and one Redis, as
docker-compose.yml runs them: the real processes (scripts/run-rasa gives each Rasa server
the Redis lock store from REDIS_URL), the trained model, messages for one conversation sent
to both at once. Nothing is lost, doubled or interleaved, in Rasa's trackers or in our
records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redress.business import Business
from scripts.stack import Stack
from tests.conftest import postgres_database

pytestmark = [pytest.mark.conversation, pytest.mark.postgres]

REDIS_URL = "redis://127.0.0.1:6379/12"
MESSAGES = [
    "hi there",
    "thanks",
    "hello?",
    "cheers for that",
    "good morning",
    "what can you do",
    "ok",
    "are you a real person",
]
ROUNDS = 5


@pytest.fixture(scope="module")
def two_of_each(tmp_path_factory: pytest.TempPathFactory, business: Business) -> Iterator[Stack]:
    with postgres_database("redress_two") as database_url:
        yield from _two_of_each(tmp_path_factory.mktemp("two"), business, database_url)


def _two_of_each(workdir: Path, business: Business, database_url: str) -> Iterator[Stack]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    stack = Stack(workdir, business, database_url=database_url, extra_env={"REDIS_URL": REDIS_URL})
    try:
        stack.start("actions")
        stack.start("rasa")
        stack.start("rasa-2", "rasa")
        stack.wait_until_ready(("actions", "rasa", "rasa-2"))
        stack.start("gateway")
        stack.start("gateway-2", "gateway", {"RASA_URL": stack.url("rasa-2")})
        stack.wait_until_ready(("gateway", "gateway-2"))
        yield stack
    finally:
        stack.close()
        client.flushdb()
        client.close()


def all_at_once(
    urls: list[str], body: Callable[[str], dict[str, Any]], headers: dict[str, str] | None = None
) -> list[int]:
    """Sends every one of MESSAGES at the same moment, alternating between ``urls``;
    returns the status codes."""

    def send(pair: tuple[str, str]) -> int:
        url, text = pair
        return httpx.post(url, json=body(text), headers=headers, timeout=120).status_code

    pairs = zip(urls * (len(MESSAGES) // len(urls)), MESSAGES, strict=True)
    with ThreadPoolExecutor(max_workers=len(MESSAGES)) as pool:
        return list(pool.map(send, pairs))


def turns_in_order(events: list[dict[str, Any]]) -> list[str]:
    """The user texts of a tracker, checking that each turn finished (the assistant went
    back to listening) before the next began."""
    texts: list[str] = []
    listening = True
    for event in events:
        if event.get("event") == "user":
            assert listening, f"{event.get('text')!r} began before the previous turn ended"
            texts.append(str(event.get("text")))
            listening = False
        elif event.get("event") == "action" and event.get("name") == "action_listen":
            listening = True
    return texts


def test_two_rasa_servers_share_one_conversation_through_the_lock_store(
    two_of_each: Stack,
) -> None:
    stack = two_of_each
    servers = [f"{stack.url(name)}/webhooks/gateway/webhook" for name in ("rasa", "rasa-2")]
    # Several conversations one after the other: Rasa's own Redis lock store lost a turn in
    # some of them, not in every one.
    for round_ in range(ROUNDS):
        sender = f"lock-store-check-{round_}"
        codes = all_at_once(
            servers, lambda text, to=sender: {"sender": to, "message": text}, stack.internal_headers
        )
        assert codes == [200] * len(MESSAGES)
        said = turns_in_order(stack.tracker(sender)["events"])
        assert sorted(said) == sorted(MESSAGES), sender  # each once: nothing lost or doubled


def test_two_gateways_keep_one_conversation_in_order(two_of_each: Stack) -> None:
    stack = two_of_each
    conversation_id, _ = stack.say(None, "hello")
    gateways = [f"{stack.url(name)}/api/messages" for name in ("gateway", "gateway-2")]
    token = stack.conversation_tokens[conversation_id]
    codes = all_at_once(
        gateways,
        lambda text: {
            "conversation_id": conversation_id,
            "conversation_token": token,
            "text": text,
        },
    )
    assert codes == [200] * len(MESSAGES)

    # Our record: each customer message followed by the assistant's answers to it, then
    # the next; the same order as Rasa's tracker.
    messages = stack.record(conversation_id)["messages"]
    customer = [m["text"] for m in messages if m["role"] == "customer"]
    assert customer[0] == "hello" and sorted(customer[1:]) == sorted(MESSAGES)
    roles = [m["role"] for m in messages]
    for index, role in enumerate(roles):
        if role == "customer" and index + 1 < len(roles):
            assert roles[index + 1] == "bot", messages[index]
    assert turns_in_order(stack.tracker(conversation_id)["events"]) == customer
