"""Approvals in the console, in Debian's Chromium against the running stack: an approver
approves an offer waiting for a person and sees it leave the queue; an agent, whose role may
not approve, has no Approvals link and is told the page is not for their role."""

from __future__ import annotations

import os
import uuid

import pytest
from playwright.sync_api import Browser, Dialog, expect
from sqlalchemy import select

from redress.clock import utcnow
from redress.compensation import ledger
from redress.compensation.policy import policy_from_mapping
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import CompensationGrant, Customer
from redress.db.session import unit_of_work
from redress.settings import REPO_ROOT
from scripts.stack import Stack
from tests.browser.console import console_page, new_operator

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

# Offers as the assistant makes them, with one rule whose £45 voucher is above the business's
# £30 that a person must approve (and within every limit the gateway checks again).
POLICY = policy_from_mapping(
    {
        "auto_approve_up_to": "30.00",
        "limits": {
            "per_offer": "60.00",
            "per_customer": {"amount": "120.00", "count": 3, "window_days": 365},
            "per_incident": {"budget": "2000.00"},
        },
        "rules": [
            {
                "name": "rude-staff-voucher",
                "categories": ["staff_conduct"],
                "remedy": "voucher",
                "amount": {"fixed": "45.00"},
            }
        ],
    }
)


def offer_waiting_for_a_person(stack: Stack) -> tuple[str, str]:
    """A new customer's logged complaint and its £45 offer; returns (offer, customer name)."""
    number = f"BL-9{uuid.uuid4().int % 100000:05d}"
    name = f"Robin Test {number[-5:]}"
    with unit_of_work(stack.database_url) as session:
        session.add(
            Customer(
                account_number=number,
                name=name,
                email=f"{number.lower()}@example.com",
                postcode="LS6 2AB",
                plan="Fibre 150",
                monthly_fee_pence=3200,
            )
        )
        session.flush()
        customer = customers.find_customer(session, number)
        assert customer is not None
        conversation = conversations.start_conversation(session, "web")
        customers.attach_customer(session, conversation, customer)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="staff_conduct",
            severity="medium",
            severity_reasons=[],
            summary="The engineer was rude to me on the doorstep.",
            facts={"logged": True},
        )
        offer, why = ledger.make_offer(session, complaint, POLICY, utcnow())
        assert offer is not None, why
        assert offer.status == ledger.PENDING_APPROVAL
        return offer.reference, name


def test_an_approver_approves_an_offer_and_it_leaves_the_queue(
    browser: Browser, stack: Stack
) -> None:
    reference, customer = offer_waiting_for_a_person(stack)
    approver = new_operator(stack, "approver", name="Priya Approver", approve_up_to="50.00")
    with console_page(browser, stack, approver) as watched:
        page = watched.page
        watched.errors.clear()  # only this page's own errors count here
        page.get_by_role("link", name="Approvals").click()
        expect(page.get_by_role("heading", name="Approvals", level=1)).to_be_visible()
        row = page.locator(f'tr[data-offer="{reference}"]')
        expect(row).to_contain_text(customer)
        expect(row).to_contain_text("£45")
        if os.environ.get("REDRESS_SCREENSHOTS") == "1":
            page.screenshot(path=str(REPO_ROOT / "docs" / "console" / "approvals.png"))

        def accept(dialog: Dialog) -> None:
            dialog.accept()

        page.once("dialog", accept)
        row.get_by_role("button", name=f"Approve {reference}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Approved {reference} (£45, grant")
        expect(page.locator(f'tr[data-offer="{reference}"]')).to_have_count(0)
        watched.assert_clean()

    with unit_of_work(stack.database_url) as session:
        grant = session.scalar(
            select(CompensationGrant).where(
                CompensationGrant.approved_by == "Priya Approver (console)"
            )
        )
        assert grant is not None and grant.amount_pence == 4500


def test_an_agent_cannot_approve(browser: Browser, stack: Stack) -> None:
    reference, _ = offer_waiting_for_a_person(stack)
    agent = new_operator(stack, "agent", name="Alex Agent")
    with console_page(browser, stack, agent) as watched:
        page = watched.page
        expect(page.get_by_role("navigation", name="Sections")).to_be_visible()
        expect(page.get_by_role("link", name="Approvals")).to_have_count(0)
        watched.errors.clear()
        answer = page.goto(f"{stack.gateway}/console/approvals")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("This page needs the approver role")
        expect(page.get_by_role("button", name=f"Approve {reference}")).to_have_count(0)
        # Chromium reports the 403 itself as a failed resource; nothing else may go wrong.
        watched.errors[:] = [e for e in watched.errors if not e.startswith("Failed to load")]
        watched.assert_clean()
