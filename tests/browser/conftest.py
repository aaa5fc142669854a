"""Browser fixtures: Debian's Chromium, driven by Playwright, against the running stack.

Playwright never downloads a browser here: it launches the ``chromium`` executable that
Debian's package installs. Without it the tests fail in CI and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = (
            "The browser tests need Debian's Chromium (`apt-get install chromium`); "
            "there is no `chromium` on PATH."
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is open, which would break every later test that runs asyncio itself.
@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(autouse=True)
def _console_accounts_removed() -> Iterator[None]:
    """Console accounts a test made are removed when it ends: the stack is shared with the
    conversation tests, which expect a service where nobody can answer in the chat."""
    from tests.browser.console import remove_operators

    try:
        yield
    finally:
        remove_operators()
