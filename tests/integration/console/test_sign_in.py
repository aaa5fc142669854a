"""Signing in to the console: the right password lets you in with a safe cookie, wrong ones
are refused without saying which part was wrong, an account locks after five, forms need
their token, and every console page sends strangers to sign in."""

from __future__ import annotations

from datetime import timedelta

from redress.business import Business
from redress.db.models import ConsoleSession
from redress.db.session import unit_of_work
from redress.operators import accounts
from tests.integration.console.signing_in import (
    BASE,
    SIGN_IN_TOKEN,
    add_operator,
    console_client,
    sign_in,
)


def _try(client, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/console/sign-in")
    token = SIGN_IN_TOKEN.search(page.text)
    assert token
    return client.post(
        "/console/sign-in",
        data={"username": username, "password": password, "sign_in_token": token.group(1)},
        headers={"origin": BASE},
        follow_redirects=False,
    )


def test_a_stranger_is_sent_to_sign_in_and_back_to_the_page_they_wanted(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "priya", "agent", name="Priya Shah")
    with console_client(database_url, business) as client:
        first = client.get("/console", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"].startswith("/console/sign-in?next=")

        landed = sign_in(client, "Priya")  # usernames are not case-sensitive
        assert landed == "/console/desk"

        cookie = next(c for c in client.cookies.jar if c.name == "redress_console")
        assert cookie.secure and cookie.path == "/console"
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (cookie.get_nonstandard_attr("SameSite") or "").lower() == "lax"


def test_wrong_passwords_are_refused_alike_and_the_sixth_try_meets_a_lock(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "sam", "agent")
    with console_client(database_url, business) as client:
        unknown = _try(client, "nobody", "whatever it is today")
        wrong = _try(client, "sam", "not the password at all")
        assert unknown.status_code == wrong.status_code == 401
        assert "do not match an account" in unknown.text
        assert "do not match an account" in wrong.text
        for _ in range(3):
            _try(client, "sam", "still not the password")
        locked = _try(client, "sam", "fifth wrong password")
        assert locked.status_code == 401
        assert "locked for 15 more minutes" in locked.text
        # Even the right password waits for the lock to pass.
        right = _try(client, "sam", "a long pass phrase 42")
        assert right.status_code == 401
        assert "locked" in right.text
        assert "redress_console" not in client.cookies


def test_a_reset_unlocks_and_signs_out_every_session(database_url: str, business: Business) -> None:
    add_operator(database_url, "lee", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "lee")
        assert client.get("/console", follow_redirects=False).headers["location"] == (
            "/console/desk"
        )
        from redress.clock import utcnow

        with unit_of_work(database_url) as session:
            accounts.reset(session, "lee", "a brand new pass phrase", utcnow())
        again = client.get("/console", follow_redirects=False)
        assert again.headers["location"].startswith("/console/sign-in")
        sign_in(client, "lee", "a brand new pass phrase")


def test_sign_in_refuses_a_form_without_its_token_or_from_another_site(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "kim", "agent")
    with console_client(database_url, business) as client:
        client.get("/console/sign-in")
        no_token = client.post(
            "/console/sign-in",
            data={"username": "kim", "password": "a long pass phrase 42"},
            headers={"origin": BASE},
            follow_redirects=False,
        )
        assert no_token.status_code == 403
        assert "expired" in no_token.text
        page = client.get("/console/sign-in")
        token = SIGN_IN_TOKEN.search(page.text)
        assert token
        elsewhere = client.post(
            "/console/sign-in",
            data={
                "username": "kim",
                "password": "a long pass phrase 42",
                "sign_in_token": token.group(1),
            },
            headers={"origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert elsewhere.status_code == 403
        assert "redress_console" not in client.cookies


def test_a_signed_in_form_without_its_csrf_token_changes_nothing(
    database_url: str, business: Business
) -> None:
    add_operator(database_url, "ana", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "ana")
        answer = client.post(
            "/console/sign-out",
            data={"anything": "x"},
            headers={"origin": BASE},
            follow_redirects=False,
        )
        assert answer.status_code == 403
        assert "form has expired" in answer.text
        # Still signed in: the sign-out did not happen.
        with unit_of_work(database_url) as session:
            live = session.query(ConsoleSession).filter(ConsoleSession.ended_at.is_(None)).count()
        assert live == 1


def test_an_idle_session_ends(database_url: str, business: Business) -> None:
    add_operator(database_url, "ola", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "ola")
        with unit_of_work(database_url) as session:
            for kept in session.query(ConsoleSession):
                kept.last_seen_at -= accounts.IDLE_SESSION + timedelta(minutes=1)
        answer = client.get("/console", follow_redirects=False)
        assert answer.headers["location"].startswith("/console/sign-in")


def test_console_pages_carry_the_strict_policy_with_forms_posting_home(
    database_url: str, business: Business
) -> None:
    with console_client(database_url, business) as client:
        page = client.get("/console/sign-in")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "form-action 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["cache-control"] == "no-store"


def test_one_address_trying_too_often_is_told_to_wait(sqlite_url: str, business: Business) -> None:
    from dataclasses import replace

    from tests.integration.conftest import closed_port, gateway_settings

    add_operator(sqlite_url, "max", "agent")
    settings = replace(
        gateway_settings(sqlite_url, f"http://127.0.0.1:{closed_port()}"), sign_ins_per_minute=3
    )
    with console_client(sqlite_url, business, settings) as client:
        for _ in range(3):
            assert _try(client, "max", "a wrong password here").status_code == 401
        slowed = _try(client, "max", "a long pass phrase 42")
        assert slowed.status_code == 429
        assert "Too many sign-in attempts from here. Please wait" in slowed.text
        assert "redress_console" not in client.cookies
