"""The console's approvals page, on SQLite and PostgreSQL: an approver decides offers waiting
for a person within their limit, through the same domain functions as the compensation API
(the customer is told, the ledger grants, the audit log names the console operator); an offer
over their limit is refused with nothing changed; an agent may neither see nor post."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from redress import audit
from redress.business import Business
from redress.clock import utcnow
from redress.compensation.operators import approved_text, rejected_text
from redress.conversations import records as conversations
from redress.db.models import (
    AuditEntry,
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Handoff,
    Message,
)
from redress.db.session import unit_of_work
from tests.integration.compensation.test_fulfilment import POLICY, make_offer
from tests.integration.console.signing_in import add_operator, console_client, post_form, sign_in


@pytest.fixture
def small_policy(business: Business) -> Business:
    """£10 billing credits are given at once; £30 (delay) and £40 (staff conduct) wait."""
    return replace(business, compensation=POLICY)


@pytest.fixture
def approver(database_url: str, small_policy: Business) -> Iterator[TestClient]:
    """Signed in as Priya, who may approve offers up to £35."""
    add_operator(database_url, "priya", "approver", name="Priya Shah", approve_up_to="35.00")
    with console_client(database_url, small_policy) as client:
        sign_in(client, "priya")
        yield client


def bot_texts(database_url: str, conversation_id: str) -> list[str]:
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(Message.text)
                .where(Message.conversation_id == conversation_id, Message.role == "bot")
                .order_by(Message.id)
            )
        )


def offer_status(database_url: str, reference: str) -> str:
    with unit_of_work(database_url) as session:
        status = session.scalar(
            select(CompensationOffer.status).where(CompensationOffer.reference == reference)
        )
        assert status is not None
        return status


def grants(database_url: str) -> list[CompensationGrant]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(CompensationGrant)))


def audit_for(database_url: str, subject: str) -> list[AuditEntry]:
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
            )
        )


def test_an_approver_approves_within_their_limit_and_the_customer_is_told(
    approver: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100003", "delay", at=utcnow())
    with unit_of_work(database_url) as session:
        complaint_id = session.scalar(
            select(Complaint.id).where(Complaint.reference == made.complaint)
        )
        conversation = conversations.get_conversation(session, made.conversation_id)
        assert conversation is not None
        token = conversations.issue_client_token(conversation)

    queue = approver.get("/console/approvals")
    assert queue.status_code == 200
    page = html.unescape(queue.text)
    assert made.reference in page
    assert "Margaret Hughes" in page and "BL-100003" in page
    assert f'href="/console/cases/{complaint_id}"' in page
    assert "£30" in page
    assert "You may approve or reject offers up to £35" in page

    live_url = f"/api/conversations/{made.conversation_id}/live?token={token}"
    with approver.websocket_connect(live_url) as live:
        answer = post_form(approver, f"/console/approvals/{made.reference}/approve", {}, queue.text)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/approvals"
        shown = live.receive_json()

    (grant,) = grants(database_url)
    assert grant.amount_pence == 3000
    assert grant.approved_by == "Priya Shah (console)"
    # The customer reads it in their conversation: live on the open page, and in the record.
    assert bot_texts(database_url, made.conversation_id) == [
        approved_text("account_credit", 3000, grant.reference)
    ]
    assert shown["text"] == approved_text("account_credit", 3000, grant.reference)
    (entry,) = audit_for(database_url, made.reference)
    assert (entry.action, entry.actor, entry.via) == ("approve", "Priya Shah (console)", "console")
    assert entry.detail["grant"] == grant.reference

    after = approver.get("/console/approvals")
    text = html.unescape(after.text)
    assert f"Approved {made.reference} (£30, grant {grant.reference})" in text
    assert "No offers are waiting for a person." in text
    # It is among the recent grants, and counted against its category.
    assert f'<th scope="row">{grant.reference}</th>' in text
    assert '<th scope="row">delay</th>' in text
    assert "£30 in 1 grant to 1 customer;" in " ".join(text.split())


def test_an_offer_over_the_approvers_limit_is_refused_and_nothing_changes(
    approver: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100006", "staff_conduct", at=utcnow())  # £40
    queue = approver.get("/console/approvals")
    assert "above your limit" in queue.text

    refused = post_form(approver, f"/console/approvals/{made.reference}/approve", {}, queue.text)
    assert refused.status_code == 403
    message = html.unescape(refused.text)
    assert "Only an approver with a limit of at least £40" in message
    assert "you may approve offers up to £35" in message
    assert "Nothing has changed." in message

    rejecting = post_form(
        approver,
        f"/console/approvals/{made.reference}/reject",
        {"reason": "Too much for this."},
        queue.text,
    )
    assert rejecting.status_code == 403
    assert "at least £40" in html.unescape(rejecting.text)

    assert offer_status(database_url, made.reference) == "pending_approval"
    assert grants(database_url) == []
    assert bot_texts(database_url, made.conversation_id) == []
    # Only the attempts are kept.
    assert [e.action for e in audit_for(database_url, made.reference)] == [
        "approve_refused",
        "reject_refused",
    ]
    assert made.reference in approver.get("/console/approvals").text


def test_rejecting_needs_a_reason_and_tells_the_customer(
    approver: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100004", "delay", at=utcnow())
    queue = approver.get("/console/approvals")
    path = f"/console/approvals/{made.reference}/reject"

    blank = post_form(approver, path, {"reason": "   "}, queue.text)
    assert blank.status_code == 400
    assert "Say why the offer is rejected" in blank.text
    assert offer_status(database_url, made.reference) == "pending_approval"

    answer = post_form(approver, path, {"reason": "Already credited by phone."}, queue.text)
    assert answer.status_code == 303
    assert offer_status(database_url, made.reference) == "rejected"
    assert bot_texts(database_url, made.conversation_id) == [rejected_text("account_credit", 3000)]
    (entry,) = audit_for(database_url, made.reference)
    assert (entry.action, entry.actor) == ("reject", "Priya Shah (console)")
    assert entry.detail["reason"] == "Already credited by phone."
    with unit_of_work(database_url) as session:
        offer = session.scalar(
            select(CompensationOffer).where(CompensationOffer.reference == made.reference)
        )
        assert offer is not None
        assert "Already credited by phone." in offer.explanation
        # A person is asked to follow up with the customer.
        asked = session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.conversation_id == made.conversation_id)
        )
        assert asked == 1
    # A decided offer cannot be decided again.
    late = post_form(approver, f"/console/approvals/{made.reference}/approve", {}, queue.text)
    assert late.status_code == 409
    assert "the offer is rejected" in late.text


def test_an_agent_gets_the_403_page_and_their_post_changes_nothing(
    database_url: str, small_policy: Business
) -> None:
    made = make_offer(database_url, "BL-100003", "delay", at=utcnow())
    add_operator(database_url, "ana", audit.AGENT)
    with console_client(database_url, small_policy) as client:
        sign_in(client, "ana")
        page = client.get("/console/approvals")
        assert page.status_code == 403
        assert "This page needs the approver role" in page.text
        assert 'href="/console/approvals"' not in page.text  # not in their navigation
        answer = post_form(client, f"/console/approvals/{made.reference}/approve", {}, page.text)
        assert answer.status_code == 403
    assert offer_status(database_url, made.reference) == "pending_approval"
    assert grants(database_url) == []
    assert bot_texts(database_url, made.conversation_id) == []
