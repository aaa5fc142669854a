"""Signing in to the console in Chromium, and watching a page for console errors and
Content-Security-Policy violations, for the console's browser tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from redress.clock import utcnow
from redress.db.session import unit_of_work
from redress.operators import accounts
from redress.settings import REPO_ROOT
from scripts.stack import Stack

PASSWORD = "a long pass phrase 42"
# Installed before any page script runs: every Content-Security-Policy violation is kept.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


# The accounts made by the test running now: removed when it ends (tests/browser/conftest.py),
# since the stack is shared with later tests, and while any account exists the assistant
# tells customers a person can answer in the chat.
MADE: list[tuple[str, str]] = []


def new_operator(
    stack: Stack, role: str = "agent", *, name: str | None = None, approve_up_to: str | None = None
) -> str:
    """A fresh console account on the stack's records; returns its username."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    with unit_of_work(stack.database_url) as session:
        accounts.add(
            session,
            username,
            name or f"Test {role.title()}",
            role,
            approve_up_to,
            PASSWORD,
            utcnow(),
        )
    MADE.append((stack.database_url, username))
    return username


def remove_operators() -> None:
    """Removes every account the test made."""
    while MADE:
        database_url, username = MADE.pop()
        with unit_of_work(database_url) as session:
            accounts.remove(session, username, utcnow())


SCREENSHOTS = REPO_ROOT / "docs" / "console"


def screenshot(page: Page, name: str) -> None:
    """Saves the page for the docs, only when asked (REDRESS_SCREENSHOTS=1): CI writes none."""
    if os.environ.get("REDRESS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@dataclass
class Watched:
    """A page with what went wrong on it: console errors and CSP violations."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        if self.page.url.startswith("http"):
            assert self.page.evaluate("window.__csp || []") == []


@contextmanager
def console_page(browser: Browser, stack: Stack, username: str) -> Iterator[Watched]:
    """A new browser context signed in to the console as ``username``."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="Europe/London"
    )
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watched = Watched(page)
    page.on(
        "console",
        lambda message: watched.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda problem: watched.errors.append(str(problem)))
    try:
        page.goto(f"{stack.gateway}/console/sign-in")
        screenshot(page, "sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.wait_for_url("**/console/desk*")
        except PlaywrightTimeout:
            shown = page.inner_text("body")[:800]
            raise AssertionError(
                f"signing in did not reach the desk: {page.url}\n{shown}"
            ) from None
        yield watched
    finally:
        context.close()
