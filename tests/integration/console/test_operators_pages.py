"""The console's operators and audit pages, on SQLite and PostgreSQL: an administrator adds,
resets and removes accounts through the same functions as the command line, each in the audit
log; a removed operator's session ends at once; nobody removes their own account; only
administrators see these pages."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from redress.business import Business
from redress.clock import utcnow
from redress.db.models import AuditEntry, OperatorAccount
from redress.db.session import unit_of_work
from redress.operators.accounts import LOCKED_FOR
from tests.integration.console.signing_in import (
    add_operator,
    console_client,
    post_form,
    sign_in,
)

NEW_PASSWORD = "another long pass phrase"


@pytest.fixture
def admin(database_url: str, business: Business) -> Iterator[TestClient]:
    """Signed in as Ada, an administrator."""
    add_operator(database_url, "ada", "admin", name="Ada Lovelace")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        yield client


def account(database_url: str, username: str) -> OperatorAccount | None:
    with unit_of_work(database_url) as session:
        return session.scalar(select(OperatorAccount).where(OperatorAccount.username == username))


def audit_actions(database_url: str, subject: str) -> list[tuple[str, str]]:
    with unit_of_work(database_url) as session:
        return [
            (e.action, e.actor)
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
            )
        ]


def test_an_admin_adds_an_approver_who_can_then_sign_in(
    admin: TestClient, database_url: str, business: Business
) -> None:
    page = admin.get("/console/operators")
    assert page.status_code == 200
    assert 'href="/console/operators"' in page.text  # in an administrator's navigation
    fields = {
        "username": "Sam",
        "name": "Sam Okafor",
        "role": "approver",
        "approve_up_to": "50.00",
        "password": "sams first pass phrase",
        "password_again": "sams first pass phrase",
    }
    added = post_form(admin, "/console/operators", fields, page.text)
    assert added.status_code == 303
    listed = html.unescape(admin.get("/console/operators").text)
    assert "Added sam (Sam Okafor, role approver, approving offers up to £50)." in listed
    assert "Sam Okafor" in listed and "£50" in listed
    row = account(database_url, "sam")
    assert row is not None and row.approve_up_to_pence == 5000
    assert audit_actions(database_url, "sam") == [("operator_add", "Ada Lovelace (console)")]

    with console_client(database_url, business) as other:
        sign_in(other, "sam", "sams first pass phrase")
        assert other.get("/console/approvals").status_code == 200

    # A taken name, a short password and a limit for an agent are refused with the reason.
    again = post_form(admin, "/console/operators", fields, page.text)
    assert again.status_code == 400
    assert "already exists" in html.unescape(again.text)
    short = post_form(
        admin,
        "/console/operators",
        {**fields, "username": "kim", "password": "short", "password_again": "short"},
        page.text,
    )
    assert short.status_code == 400
    assert "at least 12 characters" in short.text
    differ = post_form(
        admin, "/console/operators", {**fields, "username": "kim", "password_again": "x"}, page.text
    )
    assert "The two passwords differ" in differ.text
    no_limit = post_form(
        admin, "/console/operators", {**fields, "username": "kim", "approve_up_to": ""}, page.text
    )
    assert no_limit.status_code == 400
    assert "An approver needs a limit: fill in what they approve up to" in no_limit.text
    assert account(database_url, "kim") is None


def test_a_reset_unlocks_and_a_removal_ends_the_operators_session(
    admin: TestClient, database_url: str, business: Business
) -> None:
    add_operator(database_url, "lee", "agent", name="Lee Chan")
    with unit_of_work(database_url) as session:
        row = session.scalar(select(OperatorAccount).where(OperatorAccount.username == "lee"))
        assert row is not None
        row.locked_until = utcnow() + LOCKED_FOR
    page = admin.get("/console/operators")
    assert "locked until" in page.text

    reset = post_form(
        admin,
        "/console/operators/lee/reset",
        {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        page.text,
    )
    assert reset.status_code == 303
    assert "they are unlocked and signed out" in html.unescape(admin.get("/console/operators").text)
    with console_client(database_url, business) as lee:
        sign_in(lee, "lee", NEW_PASSWORD)
        assert lee.get("/console", follow_redirects=False).headers["location"] == "/console/desk"

        removed = post_form(admin, "/console/operators/lee/remove", {}, page.text)
        assert removed.status_code == 303
        # Lee's next page sends them to sign in: the session ended.
        after = lee.get("/console", follow_redirects=False)
        assert after.status_code == 303
        assert after.headers["location"].startswith("/console/sign-in")

    listed = html.unescape(admin.get("/console/operators").text)
    assert "Removed lee: they can no longer sign in" in listed
    assert "removed" in listed
    assert audit_actions(database_url, "lee") == [
        ("operator_reset", "Ada Lovelace (console)"),
        ("operator_remove", "Ada Lovelace (console)"),
    ]
    # Removing someone already removed, or nobody, says so.
    gone = post_form(admin, "/console/operators/lee/remove", {}, page.text)
    assert gone.status_code == 400
    assert "There is no account named" in html.unescape(gone.text)


def test_an_admin_cannot_remove_their_own_account(admin: TestClient, database_url: str) -> None:
    page = admin.get("/console/operators")
    assert "Remove ada" not in page.text
    refused = post_form(admin, "/console/operators/ada/remove", {}, page.text)
    assert refused.status_code == 400
    assert "You cannot remove your own account" in html.unescape(refused.text)
    row = account(database_url, "ada")
    assert row is not None and row.removed_at is None
    assert admin.get("/console/operators").status_code == 200
    assert audit_actions(database_url, "ada") == []


def test_the_audit_log_shows_the_latest_entries_filtered(
    admin: TestClient, database_url: str
) -> None:
    page = admin.get("/console/operators")
    for name in ("kim", "ola"):
        fields = {
            "username": name,
            "name": name.title(),
            "role": "agent",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        }
        assert post_form(admin, "/console/operators", fields, page.text).status_code == 303
    post_form(admin, "/console/operators/kim/remove", {}, page.text)

    every = html.unescape(admin.get("/console/audit").text)
    assert every.count("operator_add") >= 2 and "operator_remove" in every
    assert "Ada Lovelace (console)" in every
    only_kim = html.unescape(admin.get("/console/audit?subject=kim").text)
    assert "2 entries" in only_kim and "operator ola" not in only_kim
    removals = html.unescape(admin.get("/console/audit?action=operator_remove").text)
    assert "1 entry" in removals and "operator kim" in removals and "operator ola" not in removals
    nothing = admin.get("/console/audit?subject=nobody-at-all")
    assert "No entries match these filters." in nothing.text


@pytest.mark.parametrize("role", ["agent", "approver"])
def test_a_non_admin_gets_the_403_page_and_changes_nothing(
    database_url: str, business: Business, role: str
) -> None:
    add_operator(database_url, "ana", role, approve_up_to="20.00" if role == "approver" else None)
    add_operator(database_url, "lee", "agent")
    with console_client(database_url, business) as client:
        sign_in(client, "ana")
        for path in ("/console/operators", "/console/audit"):
            page = client.get(path)
            assert page.status_code == 403
            assert "This page needs the admin role" in page.text
        assert 'href="/console/operators"' not in page.text
        removal = post_form(client, "/console/operators/lee/remove", {}, page.text)
        assert removal.status_code == 403
        added = post_form(
            client,
            "/console/operators",
            {
                "username": "mallory",
                "role": "admin",
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
            },
            page.text,
        )
        assert added.status_code == 403
    lee = account(database_url, "lee")
    assert lee is not None and lee.removed_at is None
    assert account(database_url, "mallory") is None
