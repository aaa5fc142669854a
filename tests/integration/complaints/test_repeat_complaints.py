"""Filing a repeat complaint on a real database (SQLite and PostgreSQL): a verified customer
back with the same kind of problem has the new complaint linked to the earlier one, in
another conversation; the reply time filed is the promise recorded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from redress.business import Business
from redress.complaints import filing, status
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import Complaint, Customer, Promise
from redress.db.session import unit_of_work
from redress.identity import records as identity

# Thursday 3 December 2026, 15:00 in London, and the next Monday at 11:00.
FIRST = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)
OUTAGE = "my broadband has been down since this morning"


def _file(url: str, business: Business, chat: str, at: datetime, *, verified: bool) -> filing.Filed:
    with unit_of_work(url) as session:
        conversation = conversations.ensure_conversation(session, chat, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == "BL-100004"))
        assert customer is not None
        if verified:
            identity.verify(session, conversation, customer, identity.SIGNED_LOGIN, at)
        else:
            identity.claim(session, conversation.id, customer)
        reference = filing.take(session, conversation, Category.OUTAGE, OUTAGE, at).reference
        complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert complaint is not None
        complaint.created_at = at
        account = "BL-100004" if verified else None
        filed = filing.file_all(session, conversation, {"since": "today"}, account, business, at)
    (found,) = filed.filed
    return found


def _complaint(url: str, reference: str) -> tuple[Complaint, list[Promise]]:
    with unit_of_work(url) as session:
        complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
        assert complaint is not None
        promises = list(complaint.promises)
        session.expunge_all()
        return complaint, promises


def test_a_repeat_from_a_verified_customer_is_linked_to_the_earlier_case(
    database_url: str, business: Business
) -> None:
    first = _file(database_url, business, "web-first", FIRST, verified=True)
    assert first.repeat_of is None

    # Someone who only typed the account in between: not linked, and not linked to.
    stranger = _file(
        database_url, business, "web-stranger", LATER - timedelta(hours=1), verified=False
    )
    assert stranger.repeat_of is None

    again = _file(database_url, business, "web-again", LATER, verified=True)
    earlier, _ = _complaint(database_url, first.reference)
    complaint, promises = _complaint(database_url, again.reference)
    assert complaint.repeat_of_id == earlier.id
    assert again.repeat_of == filing.Earlier(first.reference, FIRST, still_open=True)
    assert _complaint(database_url, stranger.reference)[0].repeat_of_id is None

    # The reply time the customer is told is the promise recorded, and "any update?" too.
    (promise,) = promises
    assert again.reply_by == promise.due_at == status.promised(complaint)
    assert promise.kind == "reply_by" and promise.status == "open"
