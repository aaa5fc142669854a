"""Cases in the console, in Debian's Chromium against the running stack: an agent finds a
complaint by the customer's account and by a word they wrote, narrows the list with a
filter, opens the case and reads its transcript, and downloads the CSV of the cases found,
whose rows are the records' — with no console errors or Content-Security-Policy violations."""

from __future__ import annotations

import csv
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from redress.clock import utcnow
from redress.db.models import Complaint, Conversation, Customer, Message
from redress.db.session import unit_of_work
from redress.settings import REPO_ROOT
from scripts.stack import Stack
from tests.browser.console import console_page, new_operator

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

ACCOUNT = "BL-100011"  # Fiona MacLeod, a demo customer


def two_cases_of_one_customer(stack: Stack, word: str) -> tuple[str, str]:
    """A faulty router (whose message holds ``word``) and a refund, for the same customer;
    returns their references."""
    now = utcnow()
    tag = uuid.uuid4().hex[:6].upper()
    references = (f"RD-R{tag}", f"RD-F{tag}")
    with unit_of_work(stack.database_url) as session:
        customer = session.scalar(select(Customer).where(Customer.account_number == ACCOUNT))
        assert customer is not None
        for reference, category, said, summary in (
            (
                references[0],
                "faulty_equipment",
                f"My router keeps rebooting, the light says {word}",
                "Router keeps rebooting",
            ),
            (references[1], "refund", "I want my money back for March", "Refund for March"),
        ):
            cid = f"conv-cases-{uuid.uuid4().hex[:10]}"
            session.add(
                Conversation(
                    id=cid, channel="web", customer_id=customer.id, created_at=now - timedelta(1)
                )
            )
            session.flush()
            session.add(
                Message(
                    conversation_id=cid,
                    role="customer",
                    channel="web",
                    text=said,
                    created_at=now - timedelta(minutes=30),
                )
            )
            session.add(
                Message(
                    conversation_id=cid,
                    role="bot",
                    channel="web",
                    text="I'm sorry about that. I've logged it for our team.",
                    created_at=now - timedelta(minutes=29),
                )
            )
            session.add(
                Complaint(
                    reference=reference,
                    conversation_id=cid,
                    customer_id=customer.id,
                    category=category,
                    severity="medium",
                    summary=summary,
                    team="customer_care",
                    created_at=now - timedelta(minutes=29),
                )
            )
    return references


def test_an_agent_finds_filters_opens_and_downloads_cases(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    word = f"zebra{uuid.uuid4().hex[:6]}"
    router, refund = two_cases_of_one_customer(stack, word)
    agent = new_operator(stack, "agent", name="Casey Agent")
    with console_page(browser, stack, agent) as watched:
        page = watched.page
        page.goto(f"{stack.gateway}/console/cases")
        expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()

        # By the account number, typed as a customer might.
        page.get_by_label("Search").fill(ACCOUNT.lower().replace("-", " "))
        page.get_by_role("button", name="Find cases").click()
        expect(page.get_by_role("link", name=router, exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=refund, exact=True)).to_be_visible()

        # A filter narrows it to the refund.
        page.get_by_label("Category").select_option("refund")
        page.get_by_role("button", name="Find cases").click()
        expect(page.get_by_role("link", name=refund, exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=router, exact=True)).to_have_count(0)
        expect(page.get_by_label("Search")).to_have_value(ACCOUNT.lower().replace("-", " "))

        # By a word in the customer's message.
        page.get_by_role("link", name="Clear filters").click()
        page.get_by_label("Search").fill(word)
        page.get_by_role("button", name="Find cases").click()
        expect(page.get_by_text("1 case found")).to_be_visible()
        expect(page.get_by_role("link", name=refund, exact=True)).to_have_count(0)
        if os.environ.get("REDRESS_SCREENSHOTS") == "1":
            folder = REPO_ROOT / "docs" / "console"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / "cases.png"), full_page=True)

        # The download holds the case found, as the records have it.
        with page.expect_download() as started:
            page.get_by_role("link", name="cases", exact=True).click()
        download = started.value
        assert download.suggested_filename == (f"redress-cases-{utcnow().date().isoformat()}.csv")
        saved = tmp_path / "cases.csv"
        download.save_as(saved)
        with saved.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        with unit_of_work(stack.database_url) as session:
            record = session.scalar(select(Complaint).where(Complaint.reference == router))
            assert record is not None
            expected = {
                "reference": record.reference,
                "category": record.category,
                "severity": record.severity,
                "team": record.team,
                "summary": record.summary,
                "account_number": ACCOUNT,
                "customer_name": "Fiona MacLeod",
                "status": "open",
            }
        assert [{key: row[key] for key in expected} for row in rows] == [expected]

        # The case page shows what the customer wrote and the assistant's reply.
        page.get_by_role("link", name=router, exact=True).click()
        expect(page.get_by_role("heading", name=f"Case {router}")).to_be_visible()
        transcript = page.locator(".transcript")
        expect(transcript).to_contain_text(f"My router keeps rebooting, the light says {word}")
        expect(transcript).to_contain_text("I've logged it for our team.")
        expect(page.get_by_role("button", name="Claim this case")).to_be_visible()
        if os.environ.get("REDRESS_SCREENSHOTS") == "1":
            page.screenshot(path=str(REPO_ROOT / "docs" / "console" / "case.png"), full_page=True)
        watched.assert_clean()
