"""``python -m redress operators …``: the console's accounts.

    operators add USERNAME --role agent|approver|admin [--name "Priya Shah"]
                  [--approve-up-to 50.00] [--password-stdin]
    operators reset USERNAME [--password-stdin]
    operators remove USERNAME
    operators list

The password is asked for twice at the terminal (never an argument, so it stays out of the
shell's history and the process list), or read from the first line of standard input with
``--password-stdin`` for scripts. Refusals exit 2 with the reason; nothing is changed."""

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
from redress.operators import accounts
from redress.operators.cli import command_line_actor
from redress.settings import Settings

logger = logging.getLogger("redress")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("operators", help="add, reset, remove and list console accounts")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a new console account; the password is asked for")
    add.add_argument("username", help="what they sign in with, e.g. priya")
    add.add_argument("--role", required=True, help="agent, approver or admin")
    add.add_argument("--name", help="the name shown on cases and in the audit log")
    add.add_argument("--approve-up-to", help="for approvers: the most one offer may be (50.00)")
    add.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    reset = actions.add_parser("reset", help="a new password; unlocks and signs them out")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    remove = actions.add_parser("remove", help="they can no longer sign in; signs them out")
    remove.add_argument("username")
    actions.add_parser("list", help="every account: role, limit, last sign-in, state")


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = utcnow().replace(microsecond=0)
    actor = command_line_actor()
    try:
        password = _password(args) if args.action in ("add", "reset") else ""
        with unit_of_work(settings.database_url) as session:
            if args.action == "add":
                row = accounts.add(
                    session,
                    args.username,
                    args.name or args.username,
                    args.role,
                    args.approve_up_to,
                    password,
                    now,
                )
                audit.record(
                    session, actor, "operator_add", "operator", row.username, now, role=row.role
                )
                limit = (
                    ""
                    if row.approve_up_to_pence is None
                    else f", approving offers up to {show_money(row.approve_up_to_pence)}"
                )
                _out(f"added {row.username} ({row.display_name}, role {row.role}{limit}).")
            elif args.action == "reset":
                row = accounts.reset(session, args.username, password, now)
                audit.record(session, actor, "operator_reset", "operator", row.username, now)
                _out(f"reset {row.username}'s password; they are unlocked and signed out.")
            elif args.action == "remove":
                row = accounts.remove(session, args.username, now)
                audit.record(session, actor, "operator_remove", "operator", row.username, now)
                _out(f"removed {row.username}: they can no longer sign in.")
            else:
                _list(session)
    except accounts.AccountError as refused:
        logger.error("Refused: %s", refused.args[0])
        return 2
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise accounts.AccountError(
            "no terminal to ask for the password on; pipe it in with --password-stdin"
        )
    first = getpass.getpass("Password: ")
    accounts.checked_password(first)
    if getpass.getpass("Again: ") != first:
        raise accounts.AccountError("the two passwords differ")
    return first


def _list(session: Session) -> None:
    rows = accounts.all_accounts(session)
    if not rows:
        _out("No console accounts. Add one: python -m redress operators add NAME --role admin")
        return
    for row in rows:
        pence = row.approve_up_to_pence
        limit = "-" if pence is None else f"up to {show_money(pence)}"
        seen = f"{row.last_sign_in_at:%Y-%m-%d %H:%M}Z" if row.last_sign_in_at else "never"
        state = f"REMOVED {row.removed_at:%Y-%m-%d}" if row.removed_at else "active"
        if row.removed_at is None and row.locked_until and row.locked_until > utcnow():
            state = f"locked until {row.locked_until:%H:%M}Z"
        _out(
            f"{row.username:<24} {row.display_name:<24} {row.role:<9} {limit:<14} "
            f"signed in {seen:<18} {state}"
        )


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
