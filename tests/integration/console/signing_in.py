"""Console accounts and a signed-in browser-like client, for the console's tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from bot.app import create_app
from redress.business import Business
from redress.clock import utcnow
from redress.db.session import unit_of_work
from redress.operators import accounts
from redress.settings import Settings
from tests.integration.conftest import closed_port, gateway_settings

PASSWORD = "a long pass phrase 42"
BASE = "https://testserver"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SIGN_IN_TOKEN = re.compile(r'name="sign_in_token" value="([^"]+)"')


def add_operator(
    database_url: str,
    username: str,
    role: str = "agent",
    *,
    name: str | None = None,
    approve_up_to: str | None = None,
    password: str = PASSWORD,
) -> None:
    with unit_of_work(database_url) as session:
        accounts.add(
            session, username, name or username.title(), role, approve_up_to, password, utcnow()
        )


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs the client in as a browser would; returns the page it landed on."""
    page = client.get("/console/sign-in")
    token = SIGN_IN_TOKEN.search(page.text)
    assert token, page.text
    answer = client.post(
        "/console/sign-in",
        data={"username": username, "password": password, "sign_in_token": token.group(1)},
        headers={"origin": BASE},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def csrf_of(page_html: str) -> str:
    found = CSRF.search(page_html)
    assert found, "the page has no form token"
    return found.group(1)


def post_form(client: TestClient, path: str, fields: dict[str, str], page_html: str):  # type: ignore[no-untyped-def]
    """Posts a console form as the page's own form would (its CSRF token, this origin)."""
    return client.post(
        path,
        data={"csrf": csrf_of(page_html), **fields},
        headers={"origin": BASE},
        follow_redirects=False,
    )


@contextmanager
def console_client(
    database_url: str, business: Business, settings: Settings | None = None
) -> Iterator[TestClient]:
    """The real gateway (no Rasa behind it) over 'https', as a browser would use the console."""
    settings = settings or gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}")
    with TestClient(create_app(settings, business), base_url=BASE) as client:
        yield client
