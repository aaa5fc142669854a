"""Conversation tests: the reply time a customer is told is the promise recorded for their
complaint, and a verified customer back with the same kind of problem hears so once, with
the complaint linked to the earlier one; someone who only typed the account hears nothing
about its history. The trained model, the action server and the gateway.

The messages here are written for these tests and are not in the training data. Each test
makes its own customer, so complaints from other tests never count as earlier ones.
"""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from redress.db.models import Complaint, Customer, Promise
from redress.db.session import unit_of_work
from redress.incidents.wording import describe_time
from tests.conversation.test_identity import _code_for
from tests.stack import Stack, texts

pytestmark = pytest.mark.conversation

ZONE = "Europe/London"
RUDE = "the woman on your helpline was really rude to me and then put the phone down on me"
RUDE_AGAIN = "one of your call centre staff was rude to me today and hung up while I was talking"
AGAIN = (
    "I'm sorry you've had to tell us about this again.",
    "I'm sorry this has happened again.",
)


def _new_customer(stack: Stack) -> str:
    """A customer of our own, with no complaints yet."""
    number = f"BL-9{secrets.randbelow(10**5):05d}"
    with unit_of_work(stack.database_url) as session:
        session.add(
            Customer(
                account_number=number,
                name="Rhian Morgan",
                email=f"rhian.{number.lower()}@example.org",
                postcode="CF24 4HQ",
                plan="Fibre 150",
                monthly_fee_pence=3200,
            )
        )
    return number


def _complaint(stack: Stack, reference: str) -> Complaint:
    with unit_of_work(stack.database_url) as session:
        found = session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert found is not None, reference
        session.expunge(found)
        return found


def _reply_by(stack: Stack, complaint: Complaint) -> Promise:
    with unit_of_work(stack.database_url) as session:
        (promise,) = session.scalars(
            select(Promise).where(Promise.complaint_id == complaint.id, Promise.kind == "reply_by")
        )
        session.expunge(promise)
        return promise


def _bot_said(stack: Stack, conversation_id: str) -> str:
    record = stack.record(conversation_id)
    return " ".join(m["text"] for m in record["messages"] if m["role"] == "bot")


def _logged(said: str) -> str:
    found = re.search(r"logged this as (RD-[A-Z0-9]{6})", said)
    assert found, said
    return found[1]


def test_the_reply_time_told_is_the_promise_recorded(stack: Stack) -> None:
    conversation_id, _ = stack.say(None, "you've billed me for a router I returned weeks ago")
    stack.say(conversation_id, "sorry i don't have my account number to hand")
    _, replies = stack.say(conversation_id, "LS6 2AB")
    said = texts(replies)
    complaint = _complaint(stack, _logged(said))
    promise = _reply_by(stack, complaint)
    # The due time of the promise the team is held to, in the business's own time.
    when = describe_time(promise.due_at, promise.created_at, ZONE)
    assert f"You'll hear from us by {when}." in said, said
    assert "within" not in said, said

    # Asked later, the same time.
    _, replies = stack.say(conversation_id, "any update on my complaint?")
    assert f"by {when}" in texts(replies), texts(replies)


def test_a_verified_customer_back_with_the_same_problem_hears_it_once(stack: Stack) -> None:
    account = _new_customer(stack)
    first, _ = stack.say(None, RUDE)
    _, replies = stack.say(first, account)
    earlier = _logged(texts(replies))
    assert not any(words in _bot_said(stack, first) for words in AGAIN)

    again, _ = stack.say(None, RUDE_AGAIN)
    _, replies = stack.say(again, account)
    said = texts(replies)
    reference = _logged(said)
    # The first is still open: they had to tell us again, with when and which it was.
    assert (
        f"I'm sorry you've had to tell us about this again. You told us about the same kind "
        f"of problem earlier today ({earlier}), so I've linked the two."
    ) in said, said
    assert "asked a person" in said, said
    stack.say(again, "any news on that?")
    stack.say(again, "ok thanks")
    everything = _bot_said(stack, again)
    assert sum(everything.count(words) for words in AGAIN) == 1, everything
    assert everything.count("That's on us") == 1, everything  # still one apology for it

    complaint = _complaint(stack, reference)
    assert complaint.repeat_of_id == _complaint(stack, earlier).id
    reasons = [h["reason"] for h in stack.record(again)["handoffs"]]
    assert "repeat_complaint" in reasons

    # Another kind of problem from the same customer is not a repeat.
    other, _ = stack.say(None, "my broadband has been crawling every evening since monday")
    _, replies = stack.say(other, account)
    stack.say(other, "since monday")
    everything = _bot_said(stack, other)
    assert not any(words in everything for words in AGAIN), everything
    (row,) = stack.record(other)["complaints"]
    assert _complaint(stack, row["reference"]).repeat_of_id is None


def test_a_typed_account_hears_nothing_about_its_history(stack: Stack) -> None:
    account = _new_customer(stack)
    first, _ = stack.say(None, RUDE)
    _, replies = stack.say(first, account)
    _logged(texts(replies))

    stranger, _ = stack.say(None, RUDE_AGAIN, signed_in=False)
    stack.say(stranger, account, signed_in=False)  # named, not proven: a code is sent
    stack.say(stranger, "CF24 4HQ", signed_in=False)
    everything = _bot_said(stack, stranger)
    reference = _logged(everything)
    assert not any(words in everything for words in AGAIN), everything
    assert "same kind of problem" not in everything, everything
    assert _complaint(stack, reference).repeat_of_id is None
    assert "repeat_complaint" not in [h["reason"] for h in stack.record(stranger)["handoffs"]]


def test_a_customer_who_proves_the_account_after_logging_hears_it_once(stack: Stack) -> None:
    account = _new_customer(stack)
    first, _ = stack.say(None, RUDE)
    _, replies = stack.say(first, account)
    earlier = _logged(texts(replies))

    # Back without the signed login: the account is named, a code is sent, and the
    # complaint is logged before the code is typed.
    again, _ = stack.say(None, RUDE_AGAIN, signed_in=False)
    stack.say(again, account, signed_in=False)
    _, replies = stack.say(again, "CF24 4HQ", signed_in=False)
    reference = _logged(texts(replies))
    assert not any(words in _bot_said(stack, again) for words in AGAIN)
    assert _complaint(stack, reference).repeat_of_id is None

    code = _code_for(stack, f"rhian.{account.lower()}@example.org")
    _, replies = stack.say(again, code, signed_in=False)
    said = texts(replies)
    assert "Thank you, Rhian" in said, said
    assert (
        f"I'm sorry you've had to tell us about this again. You told us about the same kind "
        f"of problem earlier today ({earlier}), so I've linked the two."
    ) in said, said
    assert "asked a person" in said, said
    assert _complaint(stack, reference).repeat_of_id == _complaint(stack, earlier).id
    assert "repeat_complaint" in [h["reason"] for h in stack.record(again)["handoffs"]]
    stack.say(again, "ok thank you")
    everything = _bot_said(stack, again)
    assert sum(everything.count(words) for words in AGAIN) == 1, everything
