"""Operators and the audit log, for administrators.

``/console/operators`` lists the console's accounts and adds, resets (a new password, which
also unlocks the account and ends its sessions) and removes them through
``redress.operators.accounts``, each written to the audit log as the command line does
(``operator_add``, ``operator_reset``, ``operator_remove``). An administrator cannot remove
their own account. ``/console/audit`` shows the latest audit entries, filtered by action or
subject."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.web import Refused, actor, db, form, page, redirect, render, signed_in
from redress import audit
from redress.clock import utcnow
from redress.compensation.policy import show_money
from redress.db.models import AuditEntry
from redress.operators import accounts

HERE = "/console/operators"
AUDIT_PAGE_SIZE = 200
MAX_FILTER = 80


@page(audit.ADMIN)
async def operators_page(request: Request) -> Response:
    now = utcnow()
    rows = await db(request, lambda session: [_row(a, now) for a in accounts.all_accounts(session)])
    return render(
        request,
        "operators/index.html",
        section="operators",
        accounts=rows,
        roles=audit.ROLES,
        me=signed_in(request).operator_id,
        min_password=accounts.MIN_PASSWORD,
    )


def _row(account: Any, now: datetime) -> dict[str, Any]:
    locked = (
        account.removed_at is None
        and account.locked_until is not None
        and account.locked_until > now
    )
    return {
        "id": account.id,
        "username": account.username,
        "name": account.display_name,
        "role": account.role,
        "limit": None
        if account.approve_up_to_pence is None
        else show_money(account.approve_up_to_pence),
        "last_sign_in": account.last_sign_in_at,
        "removed_at": account.removed_at,
        "locked_until": account.locked_until if locked else None,
    }


@page(audit.ADMIN)
async def add_operator(request: Request) -> Response:
    fields = await form(request)
    who = actor(request)
    now = utcnow().replace(microsecond=0)
    limit = fields.get("approve_up_to", "").strip() or None
    if fields.get("password", "") != fields.get("password_again", ""):
        raise Refused("The two passwords differ. Nothing has changed.")

    def work(session: Session) -> str:
        row = accounts.add(
            session,
            fields.get("username", ""),
            fields.get("name", "") or fields.get("username", ""),
            fields.get("role", ""),
            limit,
            fields.get("password", ""),
            now,
        )
        audit.record(session, who, "operator_add", "operator", row.username, now, role=row.role)
        shown = (
            ""
            if row.approve_up_to_pence is None
            else f", approving offers up to {show_money(row.approve_up_to_pence)}"
        )
        return f"Added {row.username} ({row.display_name}, role {row.role}{shown})."

    return redirect(HERE, await _account_action(request, work))


@page(audit.ADMIN)
async def reset_operator(request: Request) -> Response:
    fields = await form(request)
    who = actor(request)
    now = utcnow().replace(microsecond=0)
    username = request.path_params["username"]
    if fields.get("password", "") != fields.get("password_again", ""):
        raise Refused("The two passwords differ. Nothing has changed.")

    def work(session: Session) -> str:
        row = accounts.reset(session, username, fields.get("password", ""), now)
        audit.record(session, who, "operator_reset", "operator", row.username, now)
        return f"Reset {row.username}'s password: they are unlocked and signed out."

    return redirect(HERE, await _account_action(request, work))


@page(audit.ADMIN)
async def remove_operator(request: Request) -> Response:
    await form(request)
    who = actor(request)
    me = signed_in(request).operator_id
    now = utcnow().replace(microsecond=0)
    username = request.path_params["username"]

    def work(session: Session) -> str:
        row = accounts.existing(session, username)
        if row.id == me:
            raise accounts.AccountError(
                "you cannot remove your own account; another administrator can"
            )
        row = accounts.remove(session, username, now)
        audit.record(session, who, "operator_remove", "operator", row.username, now)
        return f"Removed {row.username}: they can no longer sign in, and are signed out."

    return redirect(HERE, await _account_action(request, work))


async def _account_action(request: Request, work: Callable[[Session], str]) -> str:
    try:
        done: str = await db(request, work)
    except accounts.AccountError as refused:
        # The accounts' messages name the command line's options; here they are fields.
        text = (
            str(refused)
            .replace("; `python -m redress operators list`", "")
            .replace(
                "--approve-up-to 50.00 (in pounds)", "fill in what they approve up to, like 50.00"
            )
        )
        raise Refused(f"{text[:1].upper()}{text[1:]}. Nothing has changed.") from None
    return done


@page(audit.ADMIN)
async def audit_page(request: Request) -> Response:
    action = request.query_params.get("action", "").strip()[:MAX_FILTER]
    subject = request.query_params.get("subject", "").strip()[:MAX_FILTER]

    def work(session: Session) -> dict[str, Any]:
        found = audit.entries(
            session,
            action=action or None,
            subject=subject or None,
            limit=AUDIT_PAGE_SIZE,
        )
        actions = sorted(session.scalars(select(AuditEntry.action).distinct()))
        return {"entries": [_entry(e) for e in found], "actions": actions}

    found = await db(request, work)
    return render(
        request,
        "operators/audit.html",
        section="operators",
        action=action,
        subject=subject,
        page_size=AUDIT_PAGE_SIZE,
        **found,
    )


def _entry(entry: AuditEntry) -> dict[str, Any]:
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    return {
        "created_at": entry.created_at,
        "actor": entry.actor,
        "action": entry.action,
        "subject_kind": entry.subject_kind,
        "subject": entry.subject,
        "detail": "; ".join(f"{k}: {v}" for k, v in detail.items() if v is not None),
    }
