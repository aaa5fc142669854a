"""Incidents in the console, in Debian's Chromium against the running stack: an admin writes
a new incident, sees a hard-to-read sentence fail the plain-language check as they type,
rewrites it until it passes, creates the incident and then resolves it, with no console
errors or Content-Security-Policy violations on the way."""

from __future__ import annotations

import os
import uuid

import pytest
from playwright.sync_api import Browser, Dialog, expect

from redress.db.models import AuditEntry, Incident
from redress.db.session import unit_of_work
from redress.settings import REPO_ROOT
from scripts.stack import Stack
from tests.browser.console import console_page, new_operator

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

HARD = (
    "Unfortunately, considerable infrastructural complications necessitated "
    "extraordinary organisational interventions."
)
PLAIN = "A digger cut a cable under the road."


def _screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if os.environ.get("REDRESS_SCREENSHOTS") == "1":
        folder = REPO_ROOT / "docs" / "console"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_an_admin_creates_and_resolves_an_incident_with_the_checks_shown_as_they_type(
    browser: Browser, stack: Stack
) -> None:
    admin = new_operator(stack, "admin", name="Ada Admin")
    incident_id = f"INC-B{uuid.uuid4().hex[:6].upper()}"
    with console_page(browser, stack, admin) as watched:
        page = watched.page
        page.goto(f"{stack.gateway}/console/incidents")
        page.get_by_role("link", name="Create an incident").click()
        expect(page.get_by_role("heading", name="Create an incident", level=1)).to_be_visible()

        page.get_by_label("Title").fill("Broadband down in Headingley")
        page.locator("#new-id").fill(incident_id)
        page.get_by_label("Services affected").fill("Broadband")
        page.get_by_label("Complaint categories it explains").fill("outage")
        page.get_by_label("Areas").fill("LS6")
        page.get_by_label("What is wrong").fill("Broadband is down for some homes in LS6.")
        page.get_by_label("What we are doing").fill("Our engineers are on site mending it.")
        page.get_by_label("When we expect it fixed").fill("We hope to have it back tonight.")

        why = page.get_by_label("Why it happened")
        why.press_sequentially(HARD, delay=5)
        checks = page.locator("#new-why-checks")
        expect(checks).to_have_attribute("aria-live", "polite")
        expect(checks.locator(".check-fail")).to_contain_text("reading ease")
        expect(why).to_have_attribute("aria-invalid", "true")
        _screenshot(page, "incident-new")

        why.fill("")
        why.press_sequentially(PLAIN, delay=5)
        expect(checks.locator(".check-pass")).to_contain_text("Passes")
        expect(why).to_have_attribute("aria-invalid", "false")
        expect(page.locator("#new-what_is_wrong-checks")).not_to_contain_text("✗")

        page.get_by_role("button", name="Create the incident").click()
        page.wait_for_url(f"**/console/incidents/{incident_id}")
        expect(page.get_by_role("status")).to_contain_text(f"Incident {incident_id} created.")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Broadband down")
        _screenshot(page, "incident")

        page.once("dialog", lambda dialog: Dialog.accept(dialog))
        page.get_by_label("How it was fixed").fill("Cable joined back together")
        page.get_by_role("button", name="Resolve the incident").click()
        expect(page.get_by_role("status")).to_contain_text("Incident resolved.")
        expect(page.get_by_role("button", name="Resolve the incident")).to_have_count(0)
        watched.assert_clean()

    with unit_of_work(stack.database_url) as session:
        row = session.get(Incident, incident_id)
        assert row is not None and row.status == "resolved" and row.why == PLAIN
        actions = {
            entry.action
            for entry in session.query(AuditEntry).filter(AuditEntry.subject == incident_id)
        }
        assert actions == {"incident_create", "incident_resolve"}
