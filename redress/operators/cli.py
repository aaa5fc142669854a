"""``python -m redress tokens …`` and ``python -m redress audit``:

    tokens create NAME --role agent|approver|admin [--approve-up-to 50.00]
    tokens list
    tokens revoke NAME
    audit [--subject OF-…] [--action approve] [--limit 50]

``tokens create`` prints the token once: only its SHA-256 is kept, so it cannot be shown
again (revoke it and make another). Refusals exit 2 with the reason; nothing is changed.
Whoever runs the command line is recorded in the audit log by their login name."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from sqlalchemy.orm import Session

from redress import audit
from redress.clock import utcnow
from redress.compensation.policy import show_money
from redress.db.session import unit_of_work
from redress.operators import tokens
from redress.settings import Settings

logger = logging.getLogger("redress")


def command_line_actor(by: str | None = None) -> audit.Actor:
    """Whoever runs the command line: the name they gave (``--by``), else their login name.
    They hold the database itself, so they may do anything an administrator may."""
    name = (by or "").strip()
    if not name or name == "cli":
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name (some containers)
            name = "command line"
    return audit.Actor(name=name[:120], via=audit.CLI, role=audit.ADMIN)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tokens", help="create, list and revoke operator tokens for the admin APIs"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token; it is printed once")
    create.add_argument("name", help="who or what holds it, e.g. priya or billing-script")
    create.add_argument(
        "--role",
        required=True,
        help="agent (reads), approver (also decides offers up to a limit) or admin (everything)",
    )
    create.add_argument(
        "--approve-up-to", help="for approvers: the most one offer may be, in pounds (50.00)"
    )
    actions.add_parser("list", help="every token: name, role, limit, last used, revoked")
    revoke = actions.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("name")

    log = sub.add_parser("audit", help="the latest operator actions, newest first")
    log.add_argument("--subject", help="one record: an offer, incident, alert, request…")
    log.add_argument("--action", help="one kind of action, e.g. approve or incident_update")
    log.add_argument("--limit", type=int, default=50, help="how many (1 to 1000; 50)")


def run_tokens(args: argparse.Namespace, settings: Settings) -> int:
    now = utcnow().replace(microsecond=0)
    actor = command_line_actor()
    try:
        with unit_of_work(settings.database_url) as session:
            if args.action == "create":
                row, token = tokens.create(session, args.name, args.role, args.approve_up_to, now)
                session.flush()
                audit.record(
                    session,
                    actor,
                    "token_create",
                    "token",
                    row.name,
                    now,
                    role=row.role,
                    approve_up_to_pence=row.approve_up_to_pence,
                )
                _out(_created(row.name, row.role, row.approve_up_to_pence, token))
            elif args.action == "revoke":
                row, revoked = tokens.revoke(session, args.name, now)
                if revoked:
                    audit.record(session, actor, "token_revoke", "token", row.name, now)
                    _out(f"revoked {row.name}: it is refused from now on.")
                else:
                    assert row.revoked_at is not None
                    _out(f"{row.name} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC.")
            else:
                _list(session)
    except (tokens.TokenError, tokens.UnknownToken) as refused:
        logger.error("Refused: %s", refused.args[0])
        return 2
    return 0


def _created(name: str, role: str, pence: int | None, token: str) -> str:
    limit = "" if pence is None else f", approving offers up to {show_money(pence)}"
    return (
        f"created {name} (role {role}{limit}). The token, shown only now:\n\n"
        f"  {token}\n\n"
        "Send it as: Authorization: Bearer <token>. Only its SHA-256 is kept: if it is "
        f"lost, revoke it (python -m redress tokens revoke {name!r}) and make another."
    )


def _list(session: Session) -> None:
    rows = tokens.all_tokens(session)
    if not rows:
        _out("No operator tokens. Make one: python -m redress tokens create NAME --role agent")
        return
    for row in rows:
        shown = tokens.token_json(row)
        limit = f"up to {shown['approve_up_to']}" if shown["approve_up_to"] else "-"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}Z" if row.last_used_at else "never used"
        state = f"REVOKED {row.revoked_at:%Y-%m-%d %H:%M}Z" if row.revoked_at else "active"
        _out(
            f"{row.name:<24} {row.role:<9} {limit:<14} made {row.created_at:%Y-%m-%d %H:%M}Z  "
            f"{used:<18} {state}"
        )


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.limit <= 1000:
        logger.error("Refused: --limit is a whole number from 1 to 1000.")
        return 2
    with unit_of_work(settings.database_url) as session:
        rows = audit.entries(session, subject=args.subject, action=args.action, limit=args.limit)
        for row in rows:
            shown = sorted((k, v) for k, v in (row.detail or {}).items() if v is not None)
            detail = ", ".join(f"{k}={v}" for k, v in shown)
            _out(
                f"{row.created_at:%Y-%m-%d %H:%M:%S}Z  {row.action:<18} "
                f"{row.subject_kind} {row.subject}  by {row.actor}"
                + (f"\n    {detail}" if detail else "")
            )
        if not rows:
            _out("No audit entries" + (" match." if args.subject or args.action else " yet."))
    return 0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
