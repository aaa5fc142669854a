"""A customer who types their card details: the trained assistant answers the complaint, and
the record, Rasa's tracker and every process's log hold only the masked form."""

from __future__ import annotations

import pytest

from tests.stack import Stack

pytestmark = pytest.mark.conversation

CARD = "5555 5555 5555 4444"


def test_card_details_are_in_no_store_and_no_log(stack: Stack) -> None:
    typed = f"you took £30 twice from my card {CARD} expiry 09/28, I want it back"
    conversation_id, replies = stack.say(None, typed)
    said = " ".join(r["text"] for r in replies)
    assert "For your safety I've hidden the card details you sent" in said
    assert "I'm sorry" in said, said  # the complaint itself is answered as usual
    record = stack.record(conversation_id)
    assert len(record["complaints"]) == 1
    tracker = stack.tracker(conversation_id)
    logs = " ".join(
        (stack.workdir / f"{name}.log").read_text(errors="replace")
        for name in ("actions", "rasa", "gateway")
    )
    everywhere = {"record": str(record), "tracker": str(tracker), "logs": logs}
    for where, held in everywhere.items():
        for secret in (CARD, CARD.replace(" ", ""), "09/28"):
            assert secret not in held, (where, secret)
    customer = [m["text"] for m in record["messages"] if m["role"] == "customer"]
    assert customer == [
        "you took £30 twice from my card •••• •••• •••• 4444 expiry ••/••, I want it back"
    ]
    assert [e["text"] for e in tracker["events"] if e.get("event") == "user"] == customer
