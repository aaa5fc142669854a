"""A customer's request about their personal data, in the conversation (actions/
data_requests.py): checked who is asking first, recorded once with its reference and due
date, never logged as a complaint, and "stop messaging me" stops the incident updates."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select

from actions import context
from actions.data_requests import ActionCannotVerify, ActionDataRequest
from actions.identity import SEND_CODE, ActionIdentityVerified
from redress.conversations import records as conversations
from redress.conversations.views import conversation_record
from redress.db.models import (
    Complaint,
    Customer,
    DataRequest,
    Handoff,
    Incident,
    IncidentSubscription,
    OutboxMessage,
)
from redress.db.session import unit_of_work
from redress.identity import records as identity
from redress.incidents import notices
from redress.incidents import records as incident_records
from redress.privacy import requests
from tests.unit.actions.conftest import NOW, Conversation, signed_in

# NOW is 10 March 2026; one calendar month later, where the business is.
DUE = "10 April 2026"


def data_requests(url: str, chat: Conversation) -> list[DataRequest]:
    with unit_of_work(url) as session:
        rows = list(
            session.scalars(
                select(DataRequest).where(DataRequest.conversation_id == chat.sender_id)
            )
        )
        session.expunge_all()
        return rows


def handoff_reasons(url: str, chat: Conversation) -> list[str]:
    with unit_of_work(url) as session:
        rows = session.scalars(select(Handoff).where(Handoff.conversation_id == chat.sender_id))
        return [row.reason for row in rows]


def complaints(url: str, chat: Conversation) -> int:
    with unit_of_work(url) as session:
        rows = session.scalars(select(Complaint).where(Complaint.conversation_id == chat.sender_id))
        return len(list(rows))


def claimed(chat: Conversation, account_number: str) -> None:
    """The customer typed an account number that exists: named, not proven."""
    with unit_of_work(context.settings().database_url) as session:
        conversations.ensure_conversation(session, chat.sender_id, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == account_number))
        assert customer is not None
        identity.claim(session, chat.sender_id, customer)


def proved_by_code(chat: Conversation, account_number: str) -> None:
    """The gateway checked the right code."""
    with unit_of_work(context.settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, chat.sender_id, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == account_number))
        assert customer is not None
        identity.verify(session, conversation, customer, identity.EMAIL_CODE, NOW)


def test_a_verified_customer_s_erasure_request_is_recorded_with_reference_and_date(
    records_url: str,
) -> None:
    chat = Conversation()
    signed_in(chat, "BL-100002")
    said = chat.run(ActionDataRequest(), "wipe whatever you have on me please", "request_erasure")
    told = said.said("utter_data_erasure_recorded")
    [row] = data_requests(records_url, chat)
    assert (row.kind, row.verified, row.status) == ("erasure", True, "open")
    assert row.customer_id is not None
    assert re.fullmatch(r"DR-[A-Z2-9]{6}", row.reference)
    assert (told["data_reference"], told["due_date"]) == (row.reference, DUE)
    assert complaints(records_url, chat) == 0
    assert handoff_reasons(records_url, chat) == []
    with unit_of_work(records_url) as session:
        record = conversation_record(session, chat.sender_id)
    assert record is not None
    assert [r["reference"] for r in record["data_requests"]] == [row.reference]


def test_asking_again_gives_the_same_reference_and_records_nothing_new(records_url: str) -> None:
    chat = Conversation()
    signed_in(chat, "BL-100002")
    chat.run(ActionDataRequest(), "what data do you keep on me", "request_data_access")
    said = chat.run(ActionDataRequest(), "hello?? I asked for my data", "request_data_access")
    [row] = data_requests(records_url, chat)
    assert row.kind == "access"
    assert said.said("utter_data_request_already")["data_reference"] == row.reference


def test_with_no_account_it_is_recorded_unverified_and_a_person_confirms_who_they_are(
    records_url: str,
) -> None:
    chat = Conversation()
    said = chat.run(ActionDataRequest(), "erase me from your systems", "request_erasure")
    told = said.said("utter_data_request_person_checks")
    [row] = data_requests(records_url, chat)
    assert (row.verified, row.customer_id) == (False, None)
    assert (told["data_reference"], told["due_date"]) == (row.reference, DUE)
    assert handoff_reasons(records_url, chat) == [requests.CONFIRM_IDENTITY]
    assert "utter_data_erasure_recorded" not in said.responses
    assert complaints(records_url, chat) == 0


def test_a_typed_account_gets_the_code_first_then_the_request_is_verified(
    records_url: str,
) -> None:
    chat = Conversation()
    claimed(chat, "BL-100004")
    said = chat.run(ActionDataRequest(), "delete all my details", "request_erasure")
    assert said.responses[0] == "utter_data_request_check_needed"
    assert {"custom": SEND_CODE} in [
        {"custom": m.get("custom")} for m in said.messages if m.get("custom")
    ]
    [row] = data_requests(records_url, chat)
    assert row.verified is False
    assert handoff_reasons(records_url, chat) == []  # the code comes first

    proved_by_code(chat, "BL-100004")
    after = chat.run(ActionIdentityVerified(), "/identity_verified", "identity_verified")
    told = after.said("utter_data_erasure_recorded")
    [row] = data_requests(records_url, chat)
    assert row.verified is True and row.customer_id is not None
    assert told["data_reference"] == row.reference


def test_an_account_typed_with_the_request_is_claimed_and_gets_the_code(
    records_url: str,
) -> None:
    chat = Conversation()
    said = chat.run(
        ActionDataRequest(), "bl 100004 here, I want my data deleted", "request_erasure"
    )
    assert said.responses[0] == "utter_data_request_check_needed"
    assert any(m.get("custom") == SEND_CODE for m in said.messages)
    with unit_of_work(records_url) as session:
        claimed_by = identity.claimed_customer(session, chat.sender_id)
        assert claimed_by is not None and claimed_by.account_number == "BL-100004"
    assert handoff_reasons(records_url, chat) == []


def test_an_unknown_account_typed_with_the_request_is_left_to_a_person(
    records_url: str,
) -> None:
    chat = Conversation()
    said = chat.run(ActionDataRequest(), "BL-999999, erase my details", "request_erasure")
    assert said.responses == ["utter_data_request_person_checks"]
    assert handoff_reasons(records_url, chat) == [requests.CONFIRM_IDENTITY]


def test_a_customer_who_cannot_get_the_code_is_left_to_a_person(records_url: str) -> None:
    chat = Conversation()
    claimed(chat, "BL-100004")
    chat.run(ActionDataRequest(), "send me everything you hold about me", "request_data_access")
    said = chat.run(ActionCannotVerify(), "that inbox was closed years ago", "cannot_verify")
    [row] = data_requests(records_url, chat)
    assert said.said("utter_data_request_person_checks")["data_reference"] == row.reference
    assert row.verified is False
    assert handoff_reasons(records_url, chat) == [requests.CONFIRM_IDENTITY]


def test_cannot_get_a_code_with_no_request_waiting_asks_for_nobody(records_url: str) -> None:
    chat = Conversation()
    said = chat.run(
        ActionCannotVerify(),
        "i don't use that address now",
        "cannot_verify",
        ranking=[("cannot_verify", 0.9), ("greet", 0.1)],
    )
    assert said.responses == ["utter_cannot_verify_noted"]
    assert handoff_reasons(records_url, chat) == []


def _subscribed_to_an_incident(url: str, chat: Conversation) -> str:
    with unit_of_work(url) as session:
        conversations.ensure_conversation(session, chat.sender_id, "web")
        session.add(
            Incident(
                id="INC-TEST-1",
                title="Outage in LS6",
                services=["Broadband"],
                categories=["outage"],
                status="investigating",
                started_at=NOW,
                what_is_wrong="Broadband is down in LS6.",
                why="A cable was cut.",
                what_we_are_doing="Engineers are mending it.",
                expected_fix_text="We expect it back tonight.",
            )
        )
        session.flush()
        session.add(
            IncidentSubscription(
                incident_id="INC-TEST-1",
                conversation_id=chat.sender_id,
                status=notices.SUBSCRIBED,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        notices.enqueue(
            session,
            conversation_id=chat.sender_id,
            kind=notices.UPDATE,
            text="Here's an update on the problem you told us about.",
            dedupe_key=f"test:{chat.sender_id}",
            now=NOW,
            incident_id="INC-TEST-1",
        )
    return "INC-TEST-1"


def test_stop_messaging_turns_off_incident_updates_at_once(records_url: str) -> None:
    chat = Conversation()
    signed_in(chat, "BL-100003")
    incident_id = _subscribed_to_an_incident(records_url, chat)
    said = chat.run(
        ActionDataRequest(), "please leave me be, no more messages", "request_stop_messages"
    )
    assert said.responses[0] == "utter_data_stop_recorded"
    assert "utter_data_stop_updates_stopped" in said.responses
    [row] = data_requests(records_url, chat)
    assert (row.kind, row.verified) == ("stop_messages", True)
    with unit_of_work(records_url) as session:
        [subscription] = session.scalars(
            select(IncidentSubscription).where(
                IncidentSubscription.conversation_id == chat.sender_id
            )
        )
        assert subscription.status == notices.DECLINED
        [queued] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.conversation_id == chat.sender_id)
        )
        assert queued.status == requests.WITHDRAWN
        # The next change to the incident queues nothing for this conversation.
        row_incident = session.get(Incident, incident_id)
        assert row_incident is not None
        before = incident_records.to_domain(row_incident)
        after = replace(before, status="identified")
        notices.on_change(session, before, after, 99, NOW, "Europe/London")
        pending = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.conversation_id == chat.sender_id, OutboxMessage.status == "pending"
            )
        )
        assert list(pending) == []
    assert complaints(records_url, chat) == 0


def test_stop_messaging_with_nothing_to_stop_says_so(records_url: str) -> None:
    chat = Conversation()
    signed_in(chat, "BL-100003")
    said = chat.run(ActionDataRequest(), "dont contact me anymore", "request_stop_messages")
    assert said.responses == ["utter_data_stop_recorded", "utter_data_stop_no_updates"]
