"""The desk without Slack, in Chromium: a customer in the web chat widget needs a person, the
request appears on an agent's open console desk by itself, the agent takes the conversation
over and replies, and the customer's widget shows the reply."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from tests.browser.console import console_page, new_operator, screenshot
from tests.browser.test_widget import DESKTOP, WATCH_CSP, Chat
from tests.stack import Stack

pytestmark = pytest.mark.browser


def test_an_agent_takes_over_a_web_chat_from_the_console_and_the_widget_shows_the_reply(
    browser: Browser, stack: Stack
) -> None:
    username = new_operator(stack, "agent", name="Dana Lee")
    customer = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="Europe/London")
    customer.add_init_script(WATCH_CSP)
    try:
        chat = Chat(customer.new_page(), stack)
        chat.page.set_default_timeout(20_000)
        chat.open()
        chat.say("my broadband has been down since monday")
        conversation_id = chat.conversation_id()

        with console_page(browser, stack, username) as agent:
            page = agent.page
            page.goto(f"{stack.gateway}/console/desk")
            # The customer asks for a person while the agent's desk is open: it shows up
            # without a reload.
            with unit_of_work(stack.database_url) as session:
                handoff_records.request_handoff(session, conversation_id, "customer_asked")
            opened = page.locator(f'a[href="/console/desk/conversations/{conversation_id}"]')
            expect(opened).to_be_visible()
            screenshot(page, "desk")
            opened.click()
            expect(page.get_by_text("my broadband has been down since monday")).to_be_visible()
            page.get_by_role("button", name="Take over").click()
            expect(page.get_by_role("status").first).to_contain_text("You have this conversation")

            page.get_by_label("Reply to the customer").fill(
                "Hi, I'm Dana. I'm checking your line now."
            )
            page.get_by_role("button", name="Send to the customer").click()
            expect(page.get_by_role("status").first).to_contain_text("Sent to the customer")
            screenshot(page, "conversation")

            expect(chat.bubbles("agent").last).to_have_text(
                re.compile(r"I'm checking your line now")
            )
            agent.assert_clean()
        chat.assert_clean()
    finally:
        customer.close()
