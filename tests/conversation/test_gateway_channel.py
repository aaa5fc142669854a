"""Only the gateway may talk to Rasa: the running stack, where Rasa's one channel
(/webhooks/gateway/webhook) answers only requests carrying the internal secret. A message
sent straight to Rasa, such as "/affirm" to take an offer, never reaches the assistant: it is
not in the tracker or in our records, and a made-up conversation id starts nothing. Through
the gateway everything works as before, the action server included (Rasa sends it the
secret)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.stack import ADMIN_TOKEN, Stack, texts

pytestmark = pytest.mark.conversation


def straight_to_rasa(
    stack: Stack, sender: str, text: str, headers: dict[str, str] | None = None
) -> Any:
    return stack.http.post(
        f"{stack.rasa}/webhooks/gateway/webhook",
        json={"sender": sender, "message": text, "input_channel": "web"},
        headers=headers or {},
    )


def user_turns(stack: Stack, conversation_id: str) -> list[str]:
    events = stack.tracker(conversation_id)["events"] or []
    return [event["text"] for event in events if event.get("event") == "user"]


def test_the_gateway_still_reaches_the_assistant_and_its_actions(stack: Stack) -> None:
    conversation_id, replies = stack.say(None, "you've charged me twice for my broadband")
    # The apology comes from a custom action: Rasa reached the action server too.
    assert texts(replies).startswith("I'm sorry"), texts(replies)
    said = [e for e in stack.tracker(conversation_id)["events"] if e.get("event") == "user"]
    assert [(e["text"], e["input_channel"]) for e in said] == [
        ("you've charged me twice for my broadband", "gateway")
    ]


@pytest.mark.parametrize(
    "headers",
    [None, {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}],
    ids=["no secret", "wrong secret"],
)
def test_a_yes_sent_straight_to_rasa_is_refused_and_goes_nowhere(
    stack: Stack, headers: dict[str, str] | None
) -> None:
    conversation_id, _ = stack.say(None, "you've charged me twice for my broadband")
    turns_before = user_turns(stack, conversation_id)
    messages_before = stack.record(conversation_id)["messages"]
    refusals_before = stack.log("rasa").count("Refused POST /webhooks/gateway/webhook")

    answer = straight_to_rasa(stack, conversation_id, "/affirm", headers)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorised"
    assert user_turns(stack, conversation_id) == turns_before
    assert stack.record(conversation_id)["messages"] == messages_before
    log = stack.log("rasa")
    assert log.count("Refused POST /webhooks/gateway/webhook") == refusals_before + 1
    assert stack.internal_secret not in log


def test_a_made_up_conversation_sent_straight_to_rasa_starts_nothing(stack: Stack) -> None:
    sender = f"made-up-{secrets.token_hex(8)}"

    answer = straight_to_rasa(stack, sender, "hello, I'd like a refund")

    assert answer.status_code == 401
    assert user_turns(stack, sender) == []
    record = stack.http.get(
        f"{stack.gateway}/api/conversations/{sender}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert record.status_code == 404


def test_rasas_open_rest_channel_is_gone(stack: Stack) -> None:
    answer = stack.http.post(
        f"{stack.rasa}/webhooks/rest/webhook",
        json={"sender": f"made-up-{secrets.token_hex(8)}", "message": "/affirm"},
    )
    assert answer.status_code == 404


def test_with_the_secret_rasa_answers_as_it_answers_the_gateway(stack: Stack) -> None:
    """The control for the refusals above: the same request with the secret is answered."""
    sender = f"with-secret-{secrets.token_hex(8)}"
    answer = straight_to_rasa(stack, sender, "hello", stack.internal_headers)
    assert answer.status_code == 200
    assert [reply.get("text") for reply in answer.json()], answer.text
    assert user_turns(stack, sender) == ["hello"]
