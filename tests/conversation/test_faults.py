"""Honest when part of the assistant is down: real processes, one stopped on purpose.

With the action server down, Rasa still answers (its fallback, "I lost my place there…"),
and that must never reach the customer as if it were an answer: the gateway says it could
not answer, keeps the message, and a resend of it (same client_message_id) is answered once
the action server is back, without recording the message twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redress.business import Business
from tests.stack import MODEL, Stack

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
