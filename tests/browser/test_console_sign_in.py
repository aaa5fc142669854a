"""Signing in to the console in Chromium: a wrong password is refused without saying which
part was wrong, five in a row lock the account (and then even the right one waits), and the
page stays clean of console errors and CSP violations throughout."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.console import PASSWORD, WATCH_CSP, new_operator
from tests.stack import Stack

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_refused_and_five_lock_the_account(
    browser: Browser, stack: Stack
) -> None:
    username = new_operator(stack, "agent", name="Lena Lock")
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:

        def attempt(password: str) -> None:
            page.goto(f"{stack.gateway}/console/sign-in")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()

        attempt("not my password at all")
        expect(page.get_by_role("alert")).to_have_text(
            "That username and password do not match an account."
        )
        # The username stays typed in, the password does not.
        expect(page.get_by_label("Username")).to_have_value(username)
        expect(page.get_by_label("Password")).to_have_value("")
        for n in range(4):
            attempt(f"another wrong guess {n}")
        expect(page.get_by_role("alert")).to_contain_text("This account is locked for 15 more")
        attempt(PASSWORD)
        expect(page.get_by_role("alert")).to_contain_text("locked")
        assert "/console/sign-in" in page.url
        # Chromium logs each refused sign-in (401) as a failed resource; nothing else.
        assert [e for e in errors if not e.startswith("Failed to load resource")] == []
        assert page.evaluate("window.__csp || []") == []
    finally:
        context.close()
