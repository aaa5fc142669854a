"""A complaint from a verified customer about the same kind of problem within
``repeat_within_days`` is linked to the earlier one, and the repeat is worded honestly. An
account only named, another kind of problem, a complaint outside the window, the complaint
itself or one told after it: never linked."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from redress.business import Business
from redress.complaints import filing
from redress.complaints import records as complaint_records
from redress.complaints.apology import sorry_again, told_on
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import Complaint, Customer
from redress.db.session import unit_of_work
from redress.identity import records as identity
from redress.plain_language import check_text

# Tuesday 10 March 2026, 10:00 in London.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.utc)
ZONE = "Europe/London"
BILL = "you charged me twice this month"
SLOW = "my broadband is so slow every evening"


def _customer(session, account: str = "BL-100002") -> Customer:
    found = session.scalar(select(Customer).where(Customer.account_number == account))
    assert found is not None
    return found


def _chat(session, account: str | None = "BL-100002", *, verified: bool = True) -> str:
    """A new conversation whose customer proved ``account`` (or only named it)."""
    conversation = conversations.ensure_conversation(session, f"t-{uuid.uuid4().hex[:10]}", "web")
    if account is not None:
        customer = _customer(session, account)
        if verified:
            identity.verify(session, conversation, customer, identity.SIGNED_LOGIN, NOW)
        else:
            identity.claim(session, conversation.id, customer)
    return conversation.id


def _complain(
    session,
    business: Business,
    conversation_id: str,
    category: Category = Category.BILLING,
    text: str = BILL,
    at: datetime = NOW,
    told_at: datetime | None = None,
) -> filing.Filed:
    """Takes a complaint and files it at ``at``; ``told_at``: when it was first told."""
    conversation = conversations.ensure_conversation(session, conversation_id, "web")
    reference = filing.take(session, conversation, category, text, at).reference
    if told_at is not None:
        complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
        complaint.created_at = told_at
    filed = filing.file_all(session, conversation, {"since": "not sure"}, None, business, at)
    (found,) = [f for f in filed.filed if f.reference == reference]
    return found


def _row(session, reference: str) -> Complaint:
    found = session.scalar(select(Complaint).where(Complaint.reference == reference))
    assert found is not None
    return found


def test_the_same_problem_again_is_linked_to_the_latest_earlier_complaint(
    sqlite_url: str, business: Business
) -> None:
    with unit_of_work(sqlite_url) as session:
        first = _complain(session, business, _chat(session), told_at=NOW - timedelta(days=20))
        second = _complain(session, business, _chat(session), told_at=NOW - timedelta(days=3))
        third = _complain(session, business, _chat(session))

        assert _row(session, second.reference).repeat_of_id == _row(session, first.reference).id
        # The latest earlier one, not the first ever: what the customer remembers last.
        assert _row(session, third.reference).repeat_of_id == _row(session, second.reference).id
        assert third.repeat_of is not None
        assert third.repeat_of.reference == second.reference
        assert third.repeat_of.still_open is True
        assert _row(session, first.reference).repeat_of_id is None  # nothing before it


def test_an_account_only_named_is_never_linked(sqlite_url: str, business: Business) -> None:
    with unit_of_work(sqlite_url) as session:
        _complain(session, business, _chat(session), told_at=NOW - timedelta(days=2))
        named = _chat(session, verified=False)
        filed = _complain(session, business, named)
        assert filed.repeat_of is None
        assert _row(session, filed.reference).repeat_of_id is None


def test_a_customer_who_proved_another_account_is_not_linked_to_this_ones_history(
    sqlite_url: str, business: Business
) -> None:
    """The complaint carries an account that is not the one this conversation proved (a
    record written by hand, or an account changed since): not linked."""
    with unit_of_work(sqlite_url) as session:
        _complain(session, business, _chat(session), told_at=NOW - timedelta(days=2))
        other = _chat(session, "BL-100003")
        conversation = conversations.ensure_conversation(session, other, "web")
        reference = filing.take(session, conversation, Category.BILLING, BILL, NOW).reference
        complaint = _row(session, reference)
        complaint.customer_id = _customer(session).id
        filed = filing.file_all(session, conversation, {}, None, business, NOW)
        assert filed.filed[0].repeat_of is None
        assert complaint.repeat_of_id is None


def test_another_kind_of_problem_is_not_a_repeat(sqlite_url: str, business: Business) -> None:
    with unit_of_work(sqlite_url) as session:
        _complain(session, business, _chat(session), told_at=NOW - timedelta(days=2))
        filed = _complain(session, business, _chat(session), Category.SLOW_SERVICE, SLOW)
        assert filed.repeat_of is None
        assert _row(session, filed.reference).repeat_of_id is None


def test_only_inside_the_window(sqlite_url: str, business: Business) -> None:
    days = business.handoff.repeat_within_days
    assert days == 30
    with unit_of_work(sqlite_url) as session:
        _complain(session, business, _chat(session), told_at=NOW - timedelta(days=days, hours=1))
        outside = _complain(session, business, _chat(session))
        assert outside.repeat_of is None

    with unit_of_work(sqlite_url) as session:
        chat = _chat(session, "BL-100003")
        earlier = _complain(
            session, business, chat, told_at=NOW - timedelta(days=days) + timedelta(hours=1)
        )
        inside = _complain(session, business, _chat(session, "BL-100003"))
        assert inside.repeat_of is not None and inside.repeat_of.reference == earlier.reference


def test_no_window_no_link(sqlite_url: str, business: Business) -> None:
    never = dataclasses.replace(
        business, handoff=business.handoff.model_copy(update={"repeat_within_days": 0})
    )
    with unit_of_work(sqlite_url) as session:
        _complain(session, never, _chat(session), told_at=NOW - timedelta(days=1))
        filed = _complain(session, never, _chat(session))
        assert filed.repeat_of is None


def test_never_itself_nor_a_complaint_told_after_it(sqlite_url: str, business: Business) -> None:
    with unit_of_work(sqlite_url) as session:
        slow_chat = _chat(session)
        conversation = conversations.ensure_conversation(session, slow_chat, "web")
        # Told first, filed last: a complaint told in another conversation meanwhile is
        # after it, and it has nothing before it.
        reference = filing.take(session, conversation, Category.BILLING, BILL, NOW).reference
        later = _complain(session, business, _chat(session))
        filed = filing.file_all(session, conversation, {}, None, business, NOW)
        assert filed.filed[0].reference == reference
        assert filed.filed[0].repeat_of is None
        assert _row(session, reference).repeat_of_id is None
        # The other one, told after it, repeats it.
        assert later.repeat_of is not None and later.repeat_of.reference == reference
        assert (
            complaint_records.repeated(session, _row(session, reference), NOW, within_days=30)
            is None
        )


def test_earlier_in_the_same_conversation_counts(sqlite_url: str, business: Business) -> None:
    with unit_of_work(sqlite_url) as session:
        chat = _chat(session)
        first = _complain(session, business, chat)
        _row(session, first.reference).status = "resolved"
        second = _complain(session, business, chat, text="and now you've charged me twice again")
        assert second.reference != first.reference
        assert second.repeat_of is not None
        assert second.repeat_of.reference == first.reference
        assert second.repeat_of.still_open is False


def test_a_repeat_still_brings_a_person(sqlite_url: str, business: Business) -> None:
    with unit_of_work(sqlite_url) as session:
        _complain(session, business, _chat(session), told_at=NOW - timedelta(days=2))
        chat = _chat(session)
        conversation = conversations.ensure_conversation(session, chat, "web")
        filing.take(session, conversation, Category.BILLING, BILL, NOW)
        filed = filing.file_all(session, conversation, {}, None, business, NOW)
        assert "repeat_complaint" in filed.person_for

        named = conversations.ensure_conversation(session, _chat(session, verified=False), "web")
        filing.take(session, named, Category.BILLING, BILL, NOW)
        filed = filing.file_all(session, named, {}, None, business, NOW)
        assert "repeat_complaint" not in filed.person_for


def test_the_repeat_is_said_honestly() -> None:
    # The earlier complaint put right: it happened again. Still open: the customer had to
    # tell us again, which is all we know.
    assert sorry_again(earlier_still_open=False) == "I'm sorry this has happened again."
    assert sorry_again(earlier_still_open=True) == (
        "I'm sorry you've had to tell us about this again."
    )
    for words in (sorry_again(True), sorry_again(False)):
        assert check_text(words) == [], words


@pytest.mark.parametrize(
    ("told", "said"),
    [
        (datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc), "earlier today"),
        (datetime(2026, 3, 9, 23, 30, tzinfo=timezone.utc), "yesterday"),
        (datetime(2026, 2, 23, 15, 0, tzinfo=timezone.utc), "on 23 February"),
        (datetime(2025, 12, 3, 15, 0, tzinfo=timezone.utc), "on 3 December 2025"),
        # 23:30 UTC on 31 May is 00:30 on 1 June in London (summer time).
        (datetime(2026, 5, 31, 23, 30, tzinfo=timezone.utc), "on 1 June"),
    ],
)
def test_when_the_earlier_complaint_was_told_in_the_business_zone(
    told: datetime, said: str
) -> None:
    now = NOW if told < NOW else datetime(2026, 6, 20, 9, 0, tzinfo=timezone.utc)
    assert told_on(told, now, ZONE) == said
