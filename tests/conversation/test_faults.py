"""Honest when part of the assistant is down: real processes, one stopped or cut off on
purpose (a database of the test's own is blocked; the shared server is never stopped).

With the action server down, Rasa still answers (its fallback, "I lost my place there…"),
and that must never reach the customer as if it were an answer: the gateway says it could
not answer, keeps the message, and a resend of it (same client_message_id) is answered once
the action server is back, without recording the message twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from redress.business import Business
from tests.conftest import POSTGRES_ADMIN_URL, postgres_database
from tests.stack import MODEL, Stack, _free_port

pytestmark = pytest.mark.conversation


@pytest.fixture
def without_actions(tmp_path: Path, business: Business) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` first.")
    stack = Stack(tmp_path, business)
    try:
        stack.start("rasa")
        stack.start("gateway")
        stack.wait_until_ready(("rasa", "gateway"))
        yield stack
    finally:
        stack.close()


def _post(stack: Stack, body: dict[str, object]) -> httpx.Response:
    return stack.http.post(f"{stack.gateway}/api/messages", json=body)


def test_with_the_action_server_down_the_customer_is_told_and_answered_later(
    without_actions: Stack, business: Business
) -> None:
    stack = without_actions
    not_ready = stack.http.get(f"{stack.gateway}/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["dependencies"]["actions"]["ok"] is False
    assert not_ready.json()["dependencies"]["rasa"] == {"ok": True}
    complaint = "my broadband has been down since yesterday, I need it for work"
    first = _post(stack, {"conversation_id": None, "text": complaint, "client_message_id": "c1"})
    assert first.status_code == 503, first.text
    body = first.json()
    assert body["error"]["code"] == "assistant_unavailable"
    # Only the true sentence: kept, not read, send it again. Nothing Rasa said without its
    # actions (its fallback) reaches the customer.
    (reply,) = body["replies"]
    assert reply["text"] == business.brand.assistant_unavailable
    conversation_id, token = body["conversation_id"], body["conversation_token"]
    record = stack.record(conversation_id)
    assert record["complaints"] == []
    assert any(e["kind"] == "assistant_unavailable" for e in record["events"])

    stack.start("actions")
    stack.wait_until_ready(("actions",))
    ready = stack.http.get(f"{stack.gateway}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    again = _post(
        stack,
        {
            "conversation_id": conversation_id,
            "conversation_token": token,
            "text": complaint,
            "client_message_id": "c1",
        },
    )
    assert again.status_code == 200, again.text
    answer = " ".join(r["text"] for r in again.json()["replies"])
    assert "I'm sorry" in answer and "lost my place" not in answer, answer
    record = stack.record(conversation_id)
    customer = [m["text"] for m in record["messages"] if m["role"] == "customer"]
    assert customer == [complaint]
    assert len(record["complaints"]) == 1


@contextmanager
def _blocked(database: str) -> Iterator[None]:
    """No new connections to ``database`` and its open ones cut: an outage of that database
    alone (the shared PostgreSQL server stays up)."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    try:
        yield
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


def _told_rasa(stack: Stack, conversation_id: str) -> list[str]:
    """The customer messages in Rasa's tracker, in order."""
    events = stack.tracker(conversation_id)["events"]
    return [e["text"] for e in events if e.get("event") == "user"]


def _answered_after_kept(stack: Stack, conversation_id: str, business: Business) -> dict:
    """The record once the kept message has been answered: a reply after the apology.

    The complaint is logged while the turn runs and the reply is recorded when the turn
    ends, so waiting for the complaint alone would read the record in between.
    """
    apology = business.brand.assistant_unavailable
    deadline = time.monotonic() + 60
    while True:
        record = stack.record(conversation_id)
        said = [m["text"] for m in record["messages"] if m["role"] == "bot"]
        if apology in said and said[-1] != apology and record["complaints"]:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"the kept message was not answered: {record['messages']}")
        time.sleep(0.5)


def test_with_the_tracker_store_unreachable_a_message_is_kept_and_answered_after(
    tmp_path: Path, business: Business
) -> None:
    with postgres_database("redress_tracker") as tracker_url:
        tracker = "postgresql://" + tracker_url.split("://", 1)[1]
        stack = Stack(tmp_path, business, extra_env={"RASA_TRACKER_URL": tracker})
        try:
            for name in ("actions", "rasa", "gateway"):
                stack.start(name)
            stack.wait_until_ready()
            conversation_id, _ = stack.say(None, "hi")
            token = stack.conversation_tokens[conversation_id]
            complaint = "my broadband has been down since yesterday, I need it for work"
            with _blocked(tracker_url.rsplit("/", 1)[1]):
                down = _post(
                    stack,
                    {"conversation_id": conversation_id, "conversation_token": token,
                     "text": complaint},
                )  # fmt: skip
                assert down.status_code == 503, down.text
                assert [r["text"] for r in down.json()["replies"]] == [
                    business.brand.assistant_unavailable
                ]
                ready = stack.http.get(f"{stack.gateway}/ready").json()
                assert ready["dependencies"]["tracker_store"]["ok"] is False
            # Back: the kept message is answered without being sent again, and recorded once.
            record = _answered_after_kept(stack, conversation_id, business)
            assert len(record["complaints"]) == 1, record["messages"]
            customer = [m["text"] for m in record["messages"] if m["role"] == "customer"]
            assert customer == ["hi", complaint]
            assert _told_rasa(stack, conversation_id) == ["hi", complaint]
            said = " ".join(m["text"] for m in record["messages"] if m["role"] == "bot")
            assert "I'm sorry your broadband" in said, said
        finally:
            stack.close()


def test_rasa_will_not_start_without_its_tracker_store(tmp_path: Path, business: Business) -> None:
    """Rather than keep conversations in memory and forget them, Rasa refuses to start."""
    nowhere = f"postgresql://postgres@127.0.0.1:{_free_port()}/nowhere"
    stack = Stack(tmp_path, business, extra_env={"RASA_TRACKER_URL": nowhere})
    try:
        stack.start("rasa")
        process = stack.processes["rasa"]
        assert process.wait(timeout=180) != 0
        assert "Rasa cannot reach its tracker store (RASA_TRACKER_URL" in stack.log("rasa")
    finally:
        stack.close()


def test_a_paused_action_server_fails_the_turn_in_seconds_and_it_is_answered_after(
    tmp_path: Path, business: Business
) -> None:
    stack = Stack(tmp_path, business, extra_env={"ACTION_TIMEOUT_SECONDS": "3"})
    try:
        for name in ("actions", "rasa", "gateway"):
            stack.start(name)
        stack.wait_until_ready()
        conversation_id, _ = stack.say(None, "hi")
        token = stack.conversation_tokens[conversation_id]
        complaint = "my broadband has been down since yesterday, I need it for work"
        os.killpg(stack.pid("actions"), signal.SIGSTOP)
        try:
            began = time.monotonic()
            slow = _post(
                stack,
                {"conversation_id": conversation_id, "conversation_token": token,
                 "text": complaint},
            )  # fmt: skip
            waited = time.monotonic() - began
        finally:
            os.killpg(stack.pid("actions"), signal.SIGCONT)
        assert slow.status_code == 503, slow.text
        # One action's wait, not Rasa's five minutes nor the gateway's 30 s.
        assert waited < 25, waited
        record = _answered_after_kept(stack, conversation_id, business)
        assert len(record["complaints"]) == 1, record["messages"]
        customer = [m["text"] for m in record["messages"] if m["role"] == "customer"]
        assert customer == ["hi", complaint]
        # The failed turn was not saved: Rasa was told the message once, when it answered it.
        assert _told_rasa(stack, conversation_id) == ["hi", complaint]
    finally:
        stack.close()
