"""Reports in the console, in Debian's Chromium against the running stack: an agent chooses a
period, every section's chart is drawn (visible, with a size) with no console errors or
Content-Security-Policy violations, the charts fit a phone's width, and a section's CSV
download holds the rows of the table on the page."""

from __future__ import annotations

import csv
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from redress.db.models import Complaint, Conversation, Customer, Message, Resolution
from redress.db.session import unit_of_work
from redress.reports.figures import SECTION_KEYS
from redress.settings import REPO_ROOT
from scripts.stack import Stack
from tests.browser.console import console_page, new_operator

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

# A fortnight long past, which no other test writes in.
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
END = START + timedelta(days=13)
COMPLAINTS = (
    # day, category, severity, team, what the customer said, the assistant's first reply
    (1, "outage", "high", "network", "my broadband is down", "I'm sorry your broadband is down."),
    (3, "billing", "medium", "billing", "you charged me twice", "Our billing team will check."),
    (3, "delay", "low", "customer_care", "the engineer never came", "I'm sorry about that."),
    (8, "outage", "medium", "network", "no internet again", "I'm sorry, that's on us."),
)
TABLE_ROWS = """
(section) => Array.from(
  document.querySelectorAll(`table[data-section="${section}"] tbody tr`),
  (tr) => Array.from(tr.children, (cell) => cell.textContent.trim()),
)
"""


def complaints_in_a_past_fortnight(stack: Stack) -> None:
    """Complaints of several categories, severities and teams, each with its conversation,
    the assistant's first reply and an assistant resolution rated by the customer."""
    with unit_of_work(stack.database_url) as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        for day, category, severity, team, said, reply in COMPLAINTS:
            when = START + timedelta(days=day, hours=10)
            cid = f"conv-report-{uuid.uuid4().hex[:10]}"
            session.add(
                Conversation(id=cid, channel="web", customer_id=customer.id, created_at=when)
            )
            session.flush()
            session.add(
                Message(
                    conversation_id=cid, role="customer", channel="web", text=said, created_at=when
                )
            )
            session.flush()
            complaint = Complaint(
                reference=f"RD-{uuid.uuid4().hex[:6].upper()}",
                conversation_id=cid,
                customer_id=customer.id,
                category=category,
                severity=severity,
                team=team,
                summary=said,
                created_at=when + timedelta(seconds=3),
            )
            session.add(complaint)
            session.flush()
            session.add(
                Message(
                    conversation_id=cid,
                    role="bot",
                    channel="web",
                    text=reply,
                    created_at=when + timedelta(seconds=5),
                )
            )
            session.add(
                Resolution(
                    complaint_id=complaint.id,
                    conversation_id=cid,
                    via="assistant",
                    by="assistant",
                    resolved_at=when + timedelta(minutes=5),
                    rating=4,
                    rated_at=when + timedelta(minutes=6),
                )
            )


def test_a_report_draws_its_charts_and_its_csv_matches_its_table(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    complaints_in_a_past_fortnight(stack)
    agent = new_operator(stack, "agent", name="Rhea Reports")
    with console_page(browser, stack, agent) as watched:
        page = watched.page
        watched.errors.clear()
        page.get_by_role("link", name="Reports").click()
        expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
        page.get_by_label("From", exact=True).fill(START.date().isoformat())
        page.get_by_label("To", exact=True).fill(END.date().isoformat())
        page.get_by_role("button", name="Show report").click()
        expect(page.get_by_role("status")).to_contain_text(
            f"Complaints filed from {START.date()} to {END.date()} (14 days, UTC)"
        )

        def charts_drawn(keys: list[str]) -> None:
            for key in keys:
                section = page.locator(f'section[aria-labelledby="{key}"]')
                expect(section.get_by_role("heading", level=2)).to_be_visible()
                charts = section.locator("svg[role=img]")
                assert charts.count() >= 1, key
                for i in range(charts.count()):
                    expect(charts.nth(i)).to_be_visible()
                    box = charts.nth(i).bounding_box()
                    assert box is not None and box["width"] > 100 and box["height"] > 50, key

        charts_drawn([key for key in SECTION_KEYS if key != "recovery_quality"])
        # Recovery quality is its own page, for the same period.
        page.get_by_role("link", name="Recovery quality").click()
        expect(page.get_by_role("status")).to_contain_text(f"Complaints filed from {START.date()}")
        charts_drawn(["recovery_quality"])
        page.get_by_role("link", name="Service", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(f"Complaints filed from {START.date()}")
        # Four complaints, stacked by category, are drawn as bars.
        over_time = page.locator('section[aria-labelledby="complaints_over_time"]')
        expect(over_time.locator("rect.chart-bar")).to_have_count(
            4
        )  # days 1, 3 (two categories), 8
        expect(over_time.locator("svg title").first).to_have_text("Complaints per day by category")
        if os.environ.get("REDRESS_SCREENSHOTS") == "1":
            folder = REPO_ROOT / "docs" / "console"
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / "reports.png"))

        # The download holds the rows of the table on the page, the ones behind "Show" too.
        shown = page.evaluate(TABLE_ROWS, "complaints_over_time")
        assert len(shown) == 14
        assert sum(int(row[1]) for row in shown) == len(COMPLAINTS)
        with page.expect_download() as started:
            page.get_by_role("link", name="Download CSV of Complaints over time").click()
        download = started.value
        assert download.suggested_filename == (
            f"redress-complaints_over_time-{START.date()}-to-{END.date()}.csv"
        )
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with saved.open(newline="", encoding="utf-8") as file:
            table = list(csv.reader(file))
        assert table[0][:2] == ["period_start", "complaints"]
        assert table[1:] == shown

        # On a phone the charts shrink to the screen and the page does not scroll sideways
        # (a wide table scrolls inside its own box).
        page.set_viewport_size({"width": 390, "height": 844})
        first = page.locator("svg[role=img]").first
        box = first.bounding_box()
        assert box is not None and 0 < box["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        watched.assert_clean()
