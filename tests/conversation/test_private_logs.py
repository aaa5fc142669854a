"""What customers type stays out of the logs: the real processes (gateway, Rasa, action
server) at their normal log levels, through an ordinary turn, a turn whose action times out,
a turn whose tracker store is unreachable (Rasa's REST channel logs the failed message's text
at ERROR unless told not to) and their answers afterwards. No customer's words, in any
process's log.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from redress.business import Business
from tests.conftest import postgres_database
from tests.conversation.test_faults import _blocked
from tests.stack import MODEL, Stack

pytestmark = pytest.mark.conversation


def test_no_log_holds_what_the_customer_typed(tmp_path: Path, business: Business) -> None:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` first.")
    marker = f"zebrafinch{uuid.uuid4().hex[:8]}"
    with postgres_database("redress_tracker") as tracker_url:
        tracker = "postgresql://" + tracker_url.split("://", 1)[1]
        env = {"ACTION_TIMEOUT_SECONDS": "3", "RASA_TRACKER_URL": tracker}
        stack = Stack(tmp_path, business, extra_env=env)
        _converse_through_faults(stack, business, marker, tracker_url.rsplit("/", 1)[1])


def _converse_through_faults(stack: Stack, business: Business, marker: str, tracker: str) -> None:
    try:
        for name in ("actions", "rasa", "gateway"):
            stack.start(name)
        stack.wait_until_ready()
        conversation_id, _ = stack.say(
            None, f"my broadband keeps dropping, my dog {marker} hates it"
        )
        os.killpg(stack.pid("actions"), signal.SIGSTOP)
        try:
            slow = stack.http.post(
                f"{stack.gateway}/api/messages",
                json={
                    "conversation_id": conversation_id,
                    "conversation_token": stack.conversation_tokens[conversation_id],
                    "text": f"it is BL-100001 and {marker} is still cross",
                },
            )
        finally:
            os.killpg(stack.pid("actions"), signal.SIGCONT)
        assert slow.status_code == 503, slow.text
        _wait_for_an_answer(stack, conversation_id, business)
        with _blocked(tracker):
            cut_off = stack.http.post(
                f"{stack.gateway}/api/messages",
                json={
                    "conversation_id": conversation_id,
                    "conversation_token": stack.conversation_tokens[conversation_id],
                    "text": f"{marker} says the router lights are all red",
                },
            )
            assert cut_off.status_code == 503, cut_off.text
        _wait_for_an_answer(stack, conversation_id, business)
        logs = {
            name: (stack.workdir / f"{name}.log").read_text(errors="replace")
            for name in ("actions", "rasa", "gateway")
        }
        assert all(logs.values()), "a process wrote no log at all"
        # Rasa still logs that the turn failed, without its words.
        assert "rest.message.received.failure" in logs["rasa"]
        assert "[withheld:" in logs["rasa"]
        leaked = {name: text.count(marker) for name, text in logs.items() if marker in text}
        assert leaked == {}, {n: _around(logs[n], marker) for n in leaked}
    finally:
        stack.close()


def _wait_for_an_answer(stack: Stack, conversation_id: str, business: Business) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        said = [m for m in stack.record(conversation_id)["messages"] if m["role"] == "bot"]
        if said and said[-1]["text"] != business.brand.assistant_unavailable:
            return
        time.sleep(0.5)
    raise AssertionError("the kept message was not answered")


def _around(text: str, marker: str) -> str:
    at = text.index(marker)
    return text[max(0, at - 300) : at + 100]
