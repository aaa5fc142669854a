"""Identity in real conversations: an account number typed is not proof; a code e-mailed to
the address on the account (here the development mailer's line in the gateway's log) or the
business's signed login is. The trained model, the action server and the gateway run for
real."""

from __future__ import annotations

import re

import pytest

from tests.stack import Stack, signed_identity, texts

pytestmark = pytest.mark.conversation

OUTAGE = "my broadband has been down for 3 days and I work from home, sort it out"


def _code_for(stack: Stack, email: str) -> str:
    """The newest code the development mailer wrote for ``email``."""
    lines = [line for line in stack.log("gateway").splitlines() if f"to {email}:" in line]
    assert lines, stack.log("gateway")
    found = re.search(r"Your code is (\d{6})", lines[-1])
    assert found, lines[-1]
    return found[1]


def test_a_typed_account_gets_a_code_not_a_name_or_money(stack: Stack) -> None:
    conversation_id, _ = stack.say(None, OUTAGE, signed_in=False)
    _, replies = stack.say(conversation_id, "BL-100008", signed_in=False)
    said = texts(replies)
    # Nothing from the account (BL-100008 is Gareth's) and no money, and the reason is said.
    assert "Gareth" not in said and "£" not in said, said
    assert "need to check it's yours" in said, said
    assert "I've sent a 6-digit code to the e-mail address on that account" in said, said
    record = stack.record(conversation_id)
    assert record["offers"] == []

    _, replies = stack.say(conversation_id, "B29 6EX", signed_in=False)  # asked for itself
    code = _code_for(stack, "gareth.evans@example.org")
    wrong = "000000" if code != "000000" else "111111"
    _, replies = stack.say(conversation_id, wrong, signed_in=False)
    assert "doesn't match" in texts(replies) and "4 tries left" in texts(replies)

    _, replies = stack.say(conversation_id, f"it's {code[:3]} {code[3:]}", signed_in=False)
    said = texts(replies)
    assert "Thank you, Gareth. That's confirmed" in said, said
    # The code never reaches the assistant's tracker.
    events = stack.tracker(conversation_id)["events"]
    assert not [e for e in events if e.get("event") == "user" and code in (e.get("text") or "")]


def test_a_signed_login_is_trusted_and_a_forged_one_refused(stack: Stack) -> None:
    conversation_id, replies = stack.say(None, OUTAGE, signed_in="BL-100013")
    _, replies = stack.say(conversation_id, "BL-100013", signed_in="BL-100013")
    said = texts(replies)
    assert "code" not in said, said

    forged = {**signed_identity("BL-100013"), "account_number": "BL-100012"}
    response = stack.http.post(
        f"{stack.gateway}/api/messages",
        json={"conversation_id": None, "text": OUTAGE, "identity": forged},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_identity"
