"""Compensation in real conversations: the trained model, the action server and the
gateway, with the demo policy (business/compensation.yml).

Each test uses demo accounts no other conversation test grants anything to, so the
per-customer caps in one test do not depend on another.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from redress.db.models import CompensationGrant, Customer
from redress.db.session import unit_of_work
from tests.stack import Stack, texts

pytestmark = pytest.mark.conversation


def _grants_for(stack: Stack, account: str) -> int:
    with unit_of_work(stack.database_url) as session:
        return session.scalar(
            select(func.count())
            .select_from(CompensationGrant)
            .join(Customer, Customer.id == CompensationGrant.customer_id)
            .where(Customer.account_number == account)
        )


def test_the_remedy_is_offered_at_once_and_granted_once(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None, "my broadband has been down for 3 days and I work from home, this is a joke"
    )
    assert texts(replies).startswith("I'm sorry")
    _, replies = stack.say(conversation_id, "BL-100012")
    said = texts(replies)
    # Oliver pays £49.50 a month: three days pro rata is £4.95, worked out from the records.
    assert "To make up for this, I'd like to add £4.95 credit to your account" in said, said
    assert [b["title"] for b in replies[-1]["buttons"]] == ["Yes, please", "No, thanks"]

    _, replies = stack.say(conversation_id, "yes please")
    said = texts(replies)
    granted = re.search(r"Your reference is (CR-[A-Z0-9]{6})", said)
    assert granted and "I've added £4.95 credit to your account" in said, said

    # Saying yes again, or typing the button's intent, grants nothing more.
    stack.say(conversation_id, "yes")
    stack.say(conversation_id, "/affirm")
    record = stack.record(conversation_id)
    assert [g["reference"] for g in record["grants"]] == [granted[1]]
    assert record["offers"][0]["status"] == "granted"
    assert "rule outage-credit" in record["offers"][0]["explanation"]
    assert _grants_for(stack, "BL-100012") == 1


def test_asking_for_more_gets_an_honest_answer_and_a_person(stack: Stack) -> None:
    conversation_id, _ = stack.say(
        None, "I've been waiting in since yesterday morning and your engineer never turned up"
    )
    _, replies = stack.say(conversation_id, "gareth.evans@example.org")
    said = texts(replies)
    assert "add £30 credit to your account" in said, said

    _, replies = stack.say(conversation_id, "£30?? thats not enough, I want £500 for this")
    said = texts(replies)
    assert "£30 is the most I can offer myself" in said, said
    assert "asked a person" in said
    record = stack.record(conversation_id)
    assert record["handoffs"][-1]["reason"] == "compensation_review"
    assert record["offers"][0]["review_requested_at"] is not None

    # What the customer typed never changes the amount.
    _, replies = stack.say(conversation_id, "ok fine yes")
    assert "I've added £30 credit" in texts(replies), texts(replies)
    assert [g["amount_pence"] for g in stack.record(conversation_id)["grants"]] == [3000]


def test_declining_the_offer_leads_to_a_person(stack: Stack) -> None:
    conversation_id, _ = stack.say(
        None, "my bill is wrong, you charged me for a router I already sent back"
    )
    _, replies = stack.say(conversation_id, "BL-100006")
    assert "add £10 credit" in texts(replies), texts(replies)
    _, replies = stack.say(conversation_id, "no thanks")
    assert "Would you like a person from our team" in texts(replies)
    _, replies = stack.say(conversation_id, "yes")
    assert "I've asked a person from our" in texts(replies)
    record = stack.record(conversation_id)
    assert record["offers"][0]["status"] == "declined"
    assert record["handoffs"][-1]["reason"] == "compensation_alternative"
    assert record["grants"] == []


def test_without_a_verified_account_nothing_is_offered_automatically(stack: Stack) -> None:
    conversation_id, _ = stack.say(None, "you've taken money from my account twice this month")
    _, replies = stack.say(conversation_id, "i dont know my account number sorry")
    _, replies = stack.say(conversation_id, "LS7 3PD")
    said = texts(replies)
    assert "To make up for this" not in said, said
    _, replies = stack.say(conversation_id, "so what compensation do I get?")
    said = texts(replies)
    assert "I can't offer compensation for this myself" in said, said
    record = stack.record(conversation_id)
    assert record["offers"] == [] and record["grants"] == []
    assert record["handoffs"][-1]["reason"] == "compensation_review"


def test_new_conversations_cannot_get_past_the_customer_limit(stack: Stack) -> None:
    # The demo policy gives a customer at most 3 remedies in 365 days. Each complaint is a
    # different problem, so each would have its own remedy.
    complaints = [
        "you charged me twice for this month",
        "I've been waiting in since yesterday morning and your engineer never turned up",
        "my broadband has been down for 3 days and I work from home",
        "the hub you sent me has died, it wont power on at all since last night",
    ]
    said_last = ""
    for complaint in complaints:
        conversation_id, _ = stack.say(None, complaint)
        _, replies = stack.say(conversation_id, "BL-100011")
        said_last = texts(replies)
        if "To make up for this" in said_last:
            _, replies = stack.say(conversation_id, "yes please")
            assert "Your reference is CR-" in texts(replies), texts(replies)
    assert "To make up for this" not in said_last, said_last
    assert _grants_for(stack, "BL-100011") == 3
    _, replies = stack.say(conversation_id, "I want compensation for this")
    assert "asked a person" in texts(replies), texts(replies)
    assert _grants_for(stack, "BL-100011") == 3


def test_a_problem_credited_in_one_conversation_is_not_credited_again_in_the_next(
    stack: Stack,
) -> None:
    first, _ = stack.say(None, "you've charged me twice this month")
    _, replies = stack.say(first, "BL-100010")
    assert "add £10 credit" in texts(replies), texts(replies)
    _, replies = stack.say(first, "yes please")
    granted = re.search(r"Your reference is (CR-[A-Z0-9]{6})", texts(replies))
    assert granted, texts(replies)

    second, _ = stack.say(None, "you have charged me twice again this month")
    _, replies = stack.say(second, "BL-100010")
    said = texts(replies)
    assert "To make up for this" not in said, said
    assert (
        "We already added £10 credit to your account for this today "
        f"(reference {granted[1]}). I can't add it again here."
    ) in said, said
    # Not the first time: a person is brought in too, and can look at it again.
    assert "asked a person" in said, said

    stack.say(second, "yes please")
    stack.say(second, "/affirm")
    record = stack.record(second)
    assert record["grants"] == []
    assert record["offers"][0]["status"] == "already_compensated"
    assert granted[1] in record["offers"][0]["explanation"]
    assert _grants_for(stack, "BL-100010") == 1


def test_a_complaint_told_with_a_demand_is_heard_as_the_complaint_first(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None, "my internet has been off for a week now and I want compensation for it"
    )
    said = texts(replies)
    assert said.startswith("I'm sorry your internet has been"), said
    assert "account number" in said
    assert "Tell me what went wrong first" not in said
    _, replies = stack.say(conversation_id, "BL-100001")
    assert "To make up for this, I'd like to" in texts(replies), texts(replies)


def test_money_moves_only_on_a_plain_yes_to_the_offer(stack: Stack) -> None:
    conversation_id, _ = stack.say(None, "BL-100013 you've taken my direct debit twice this month")
    record = stack.record(conversation_id)
    assert record["offers"], record["messages"][-1]["text"]

    # A yes with a condition is not consent: the offer is put again, nothing is granted.
    _, replies = stack.say(conversation_id, "yes but can I have it back on my card instead?")
    said = texts(replies)
    assert "Done. I've" not in said, said
    assert stack.record(conversation_id)["grants"] == []

    _, replies = stack.say(conversation_id, "yes please")
    record = stack.record(conversation_id)
    transcript = "\n".join(f"{m['role']}: {m['text']}" for m in record["messages"])
    assert "Done. I've" in texts(replies), transcript
    assert len(record["grants"]) == 1
