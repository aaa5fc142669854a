"""The records on real databases: SQLite and the PostgreSQL server on this machine."""

from __future__ import annotations

from datetime import timezone

import pytest
from sqlalchemy import func, select

from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.conversations import views as record_views
from redress.db.models import Complaint, Conversation, Message
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records


def test_a_conversation_is_recorded_whole(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        conversations.record_message(
            session, conversation, "customer", "my wifi is down <b>again</b>"
        )
        conversations.record_message(
            session,
            conversation,
            "bot",
            "I'm sorry your wifi has stopped working.",
            buttons=[{"title": "Yes", "payload": "/affirm", "token": "btn_aaaaaaaaaaaaaaaa"}],
        )
        customer = customers.find_customer(session, "BL-100002")
        assert customer is not None
        customers.attach_customer(session, conversation, customer)
        complaint_records.open_complaint(
            session,
            conversation,
            category="outage",
            severity="medium",
            severity_reasons=["no service at all"],
            summary="my wifi is down <b>again</b>",
            facts={"since": "since Monday"},
        )
        handoff_records.request_handoff(session, conversation.id, "customer_asked")
        conversation_id = conversation.id

    with unit_of_work(database_url) as session:
        record = record_views.conversation_record(session, conversation_id)
    assert record is not None
    assert record["conversation"]["channel"] == "web"
    assert record["conversation"]["customer"]["name"] == "Priya Patel"
    assert [m["role"] for m in record["messages"]] == ["customer", "bot"]
    assert record["messages"][0]["text"] == "my wifi is down <b>again</b>"
    # Button payloads shown are the issued tokens, never the assistant's internal payloads.
    assert record["messages"][1]["buttons"] == [{"title": "Yes", "payload": "btn_aaaaaaaaaaaaaaaa"}]
    complaint = record["complaints"][0]
    assert complaint["category"] == "outage"
    assert complaint["severity"] == "medium"
    assert complaint["severity_reasons"] == ["no service at all"]
    assert complaint["status"] == "open"
    assert complaint["reference"].startswith("RD-")
    assert record["handoffs"][0]["reason"] == "customer_asked"


def test_times_are_utc_and_aware(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        message = conversations.record_message(session, conversation, "customer", "hello")
        message_id = message.id
    with unit_of_work(database_url) as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == timezone.utc.utcoffset(None)


def test_work_that_fails_leaves_nothing_behind(database_url: str) -> None:
    with pytest.raises(RuntimeError), unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        conversations.record_message(session, conversation, "customer", "half a message")
        raise RuntimeError("the assistant fell over")
    with unit_of_work(database_url) as session:
        assert session.scalar(select(func.count(Conversation.id))) == 0
        assert session.scalar(select(func.count(Message.id))) == 0


def test_unknown_roles_are_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="role"), unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        conversations.record_message(session, conversation, "robot", "hi")


@pytest.mark.parametrize(
    "typed",
    [
        "BL-100003",
        "bl100003",
        "BL 100003",
        "my account is bl-100003 thanks",
        "M.Hughes@Example.org",
    ],
)
def test_customers_are_found_however_they_type_it(database_url: str, typed: str) -> None:
    with unit_of_work(database_url) as session:
        customer = customers.find_customer(session, typed)
        assert customer is not None
        assert customer.name == "Margaret Hughes"


def test_unknown_accounts_are_not_found(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        assert customers.find_customer(session, "BL-999999") is None
        assert customers.find_customer(session, "nobody@example.com") is None
        assert customers.find_customer(session, "no idea sorry") is None


def test_one_open_handoff_per_conversation_with_every_reason_kept(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        first = handoff_records.request_handoff(session, conversation.id, "customer_asked")
        second = handoff_records.request_handoff(session, conversation.id, "abuse")
        assert first.id == second.id
        conversation_id = conversation.id
    with unit_of_work(database_url) as session:
        record = record_views.conversation_record(session, conversation_id)
    assert record is not None
    assert len(record["handoffs"]) == 1
    reasons = [e["detail"]["reason"] for e in record["events"] if e["kind"] == "handoff_requested"]
    assert reasons == ["customer_asked", "abuse"]


def test_buttons_only_resolve_in_the_conversation_that_issued_them(database_url: str) -> None:
    button = {"title": "Yes", "payload": "/affirm", "token": "btn_bbbbbbbbbbbbbbbb"}
    with unit_of_work(database_url) as session:
        mine = conversations.start_conversation(session, "web")
        other = conversations.start_conversation(session, "web")
        conversations.record_message(session, mine, "bot", "Anything else?", buttons=[button])
        found = conversations.pressed_button(session, mine.id, button["token"])
        assert found == (conversations.LIVE, button)
        assert conversations.pressed_button(session, other.id, button["token"]) is None
        assert conversations.pressed_button(session, mine.id, "btn_cccccccccccccccc") is None


def test_complaint_references_are_unique_and_readable(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        references = {
            complaint_records.open_complaint(
                session,
                conversation,
                category="billing",
                severity="low",
                severity_reasons=[],
                summary="charged twice",
                facts={},
            ).reference
            for _ in range(20)
        }
        assert len(references) == 20
        assert session.scalar(select(func.count(Complaint.id))) == 20
    for reference in references:
        assert set(reference[3:]).isdisjoint("01IO")


def test_earlier_complaints_count_only_the_same_customer_and_category(database_url: str) -> None:
    from datetime import datetime

    with unit_of_work(database_url) as session:
        customer = customers.find_customer(session, "BL-100004")
        assert customer is not None
        conversation = conversations.start_conversation(session, "web")
        customers.attach_customer(session, conversation, customer)
        for category in ("outage", "outage", "billing"):
            complaint_records.open_complaint(
                session,
                conversation,
                category=category,
                severity="low",
                severity_reasons=[],
                summary="x",
                facts={},
            )
        now = datetime.now(timezone.utc)
        assert complaint_records.earlier_complaints(session, customer.id, "outage", now) == 2
        assert complaint_records.earlier_complaints(session, customer.id, "refund", now) == 0


def test_seeding_twice_changes_nothing(database_url: str, business) -> None:
    from redress.seed import load_demo_customers

    with unit_of_work(database_url) as session:
        assert load_demo_customers(session, business.demo_customers) == 0
