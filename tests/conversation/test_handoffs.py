"""Conversation tests: when the assistant brings a person in without being asked
(business/handoff.yml): a serious complaint, the same problem again within 30 days, and an
offer above the auto-approve line. The trained model, the action server and the gateway.

The messages here are written for these tests and are not in the training data.
"""

from __future__ import annotations

import pytest

from tests.stack import Stack, texts

pytestmark = pytest.mark.conversation


def reasons(record: dict) -> list[str]:
    """Every reason a person was asked for, in order (the first opens the handoff)."""
    return [e["detail"]["reason"] for e in record["events"] if e["kind"] == "handoff_requested"]


def test_a_dangerous_fault_brings_a_person_in_as_well(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None, "the hub you sent me is sparking at the back and theres a burning smell"
    )
    said = texts(replies)
    assert said.startswith("I'm sorry"), said
    # A person is asked for at once, before any details, and said once.
    assert "Because this is serious, I've also asked a person" in said, said
    # No agent desk is connected in this stack: no reply time is promised.
    assert "can't promise when a person will reply" in said, said
    stack.say(conversation_id, "its BL-100007")
    _, replies = stack.say(conversation_id, "started this morning")
    assert "Because this is serious" not in texts(replies), texts(replies)

    record = stack.record(conversation_id)
    assert record["complaints"][0]["severity"] == "critical"
    assert record["handoffs"][0]["reason"] == "critical_severity"
    assert record["handoffs"][0]["status"] == "requested"
    # Still one apology for the one problem.
    everything = " ".join(m["text"] for m in record["messages"] if m["role"] == "bot")
    assert everything.lower().count("sorry") == 1, everything


def test_the_same_problem_again_within_30_days_goes_to_a_person(stack: Stack) -> None:
    first, _ = stack.say(None, "my broadband is painfully slow every night, pages wont load")
    stack.say(first, "BL-100003")
    _, replies = stack.say(first, "about a fortnight ago")
    assert "logged this as" in texts(replies), texts(replies)
    assert "same kind of problem" not in texts(replies), texts(replies)
    assert "repeat_complaint" not in reasons(stack.record(first))

    again, _ = stack.say(None, "the internet is crawling again, barely 1mb in the evenings")
    stack.say(again, "BL-100003")
    _, replies = stack.say(again, "since last night")
    said = texts(replies)
    # Said once, with the complaint it repeats (still open, so "had to tell us again").
    assert (
        "I'm sorry you've had to tell us about this again. You told us about the same kind "
        "of problem earlier today"
    ) in said, said
    assert "asked a person from our" in said, said
    record = stack.record(again)
    first_reference = stack.record(first)["complaints"][0]["reference"]
    assert f"({first_reference}), so I've linked the two." in said, said
    assert record["complaints"][0]["category"] == "slow_service"
    assert "repeat_complaint" in reasons(record)
    assert record["handoffs"][0]["status"] == "requested"


def test_an_offer_above_the_auto_approve_line_waits_for_a_person(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None,
        "our internet has been dead for over a week now, I work from home and I've lost "
        "a whole week of work. this is absolutely ridiculous",
    )
    # Critical from the first message: a person is asked for at once.
    assert "Because this is serious, I've also asked a person" in texts(replies)
    _, replies = stack.say(conversation_id, "BL-100004")
    said = texts(replies)
    # Tom pays £60 a month: a free month is above the £30 a person must approve.
    assert "give you a month free, which is £60 off your next bill" in said, said
    assert "Someone on our team who can approve it will need to do that first" in said, said
    record = stack.record(conversation_id)
    # When to expect a person is said once in the whole conversation.
    everything = " ".join(m["text"] for m in record["messages"] if m["role"] == "bot")
    assert everything.count("can't promise when a person will reply") == 1, everything
    assert record["offers"][0]["status"] == "pending_approval"
    assert "compensation_needs_approval" in reasons(record)
    assert record["grants"] == []
