"""``python -m redress privacy …``: erase or export a customer's personal data, and list
the requests customers made about it.

    privacy erase  --account BL-100001 | --conversation ID [--request DR-…] [--by NAME]
    privacy export --account BL-100001 | --conversation ID [--request DR-…] [--by NAME]
                   [--out FILE]
    privacy requests [--all]
    privacy close DR-… --outcome done|refused --note TEXT [--by NAME]

Both reach every store from this machine: the records, Rasa's tracker store
(RASA_TRACKER_URL, or as scripts/run-rasa finds it), the Slack desk when SLACK_BOT_TOKEN is
set, and Redis when REDIS_URL is set. Refusals exit 2 with the reason; nothing is changed.
Erasures, exports and closed requests are written to the audit log, in the name given with
``--by`` (else the login name of whoever runs the command).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from redress.audit import record as record_action
from redress.clock import utcnow
from redress.db.models import Customer, DataRequest
from redress.db.session import unit_of_work
from redress.operators.cli import command_line_actor
from redress.privacy import requests
from redress.privacy.erasure import Erasure, erase
from redress.privacy.export import ExportRequest, export
from redress.privacy.outside import OutsideStores, OutsideUnavailable, stores_for
from redress.privacy.subject import SubjectError
from redress.settings import Settings

logger = logging.getLogger("redress")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("privacy", help="erase or export a customer's personal data")
    actions = parser.add_subparsers(dest="action", required=True)
    erase_parser = actions.add_parser(
        "erase", help="erase a customer's personal data in every store"
    )
    _selectors(erase_parser)
    export_parser = actions.add_parser(
        "export", help="everything held about a customer, as one JSON document"
    )
    _selectors(export_parser)
    export_parser.add_argument("--out", type=Path, help="write it to this file (else stdout)")
    requests_parser = actions.add_parser(
        "requests", help="customers' open data requests, the soonest due first"
    )
    requests_parser.add_argument(
        "--all", action="store_true", help="done and refused ones too, newest first"
    )
    close_parser = actions.add_parser(
        "close", help="mark a data request done or refused (what erase and export do not)"
    )
    close_parser.add_argument("reference", help="the request, e.g. DR-7KQ2MZ")
    close_parser.add_argument("--outcome", choices=(requests.DONE, requests.REFUSED), required=True)
    close_parser.add_argument(
        "--note", required=True, help="what was done, or why not (no personal data)"
    )
    close_parser.add_argument("--by", default="cli", help="your name, kept with the request")


def _selectors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="the customer's account number, e.g. BL-100001")
    parser.add_argument("--conversation", help="one conversation id")
    parser.add_argument("--request", help="the data request this answers, e.g. DR-7KQ2MZ")
    parser.add_argument("--by", default="cli", help="your name, kept in the audit")


def run(args: argparse.Namespace, settings: Settings, stores: OutsideStores | None = None) -> int:
    """Runs ``privacy erase``, ``export`` or ``requests``; 0 when done, 2 when refused."""
    if args.action == "requests":  # reads the records only: no outside store is needed
        return _requests(args, settings)
    if args.action == "close":
        return _close(args, settings)
    handlers = {"erase": _erase, "export": _export}
    handler = handlers.get(args.action)
    if handler is None:
        logger.error("Refused: unknown privacy command %s", args.action)
        return 2
    own = stores is None
    stores = stores_for(settings) if stores is None else stores
    try:
        return handler(args, settings, stores)
    except SubjectError as problem:
        logger.error("Refused: %s", problem.message)
    except OutsideUnavailable as problem:
        logger.error("Not done: %s", problem)
    finally:
        if own:
            stores.close()
    return 2


def _erase(args: argparse.Namespace, settings: Settings, stores: OutsideStores) -> int:
    asked = Erasure(
        args.account, args.conversation, args.request, args.by, command_line_actor(args.by)
    )
    done = erase(settings.database_url, settings.tracker_url, asked, stores, utcnow())
    changed = ", ".join(f"{name} {n}" for name, n in sorted(done.counts.items()) if n)
    lines = [f"Erased (audit {done.audit_id}): {changed or 'nothing was left to erase'}."]
    if done.request_reference:
        lines.append(f"Data request {done.request_reference} is done.")
    for message in done.left_in_slack:
        lines.append(
            f"Slack would not let the desk delete message {message['ts']} in "
            f"{message['channel']} (a person's message): a workspace admin must delete it."
        )
    lines += [f"Not finished: {problem}" for problem in done.problems]
    _out("\n".join(lines))
    return 0


def _export(args: argparse.Namespace, settings: Settings, stores: OutsideStores) -> int:
    asked = ExportRequest(
        args.account, args.conversation, args.request, args.by, command_line_actor(args.by)
    )
    document = export(settings.database_url, settings.tracker_url, asked, stores, utcnow())
    text = json.dumps(document, indent=2, ensure_ascii=False, default=_plain)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
        logger.info("written to %s", args.out)
    else:
        _out(text)
    return 0


def _requests(args: argparse.Namespace, settings: Settings) -> int:
    """One line per request: reference, kind, whether the customer was verified, when it is
    due (and whether that has passed), the account and the conversation to act on."""
    moment = utcnow()
    with unit_of_work(settings.database_url) as session:
        rows = requests.all_requests(session) if args.all else requests.open_requests(session)
        lines = [_request_line(session, row, moment) for row in rows]
    if not lines:
        _out("No open data requests." if not args.all else "No data requests.")
        return 0
    _out("\n".join(lines))
    return 0


def _close(args: argparse.Namespace, settings: Settings) -> int:
    note, by = args.note.strip(), args.by.strip()
    if not note or not by:
        logger.error("Refused: say what was done (--note) and who you are (--by).")
        return 2
    try:
        with unit_of_work(settings.database_url) as session:
            now = utcnow()
            request = requests.close_request(
                session, args.reference.strip().upper(), args.outcome, by, note, now
            )
            record_action(
                session,
                command_line_actor(by),
                "data_request_close",
                "data_request",
                request.reference,
                now,
                outcome=request.status,
                note=request.note,
            )
            _out(f"Data request {request.reference} ({request.kind}) is {request.status}.")
    except requests.RequestNotOpen as refused:
        logger.error("Refused: %s", refused)
        return 2
    return 0


def _request_line(session: Session, row: DataRequest, moment: datetime) -> str:
    due = row.due_at if row.due_at.tzinfo else row.due_at.replace(tzinfo=timezone.utc)
    late = " OVERDUE" if row.status == requests.OPEN and due < moment else ""
    customer = session.get(Customer, row.customer_id) if row.customer_id is not None else None
    account = customer.account_number if customer is not None else "no account"
    checked = "verified" if row.verified else "NOT verified"
    return (
        f"{row.reference}  {row.kind:<13}  {row.status:<8}  due {due:%Y-%m-%d}{late}  "
        f"{checked}  {account}  conversation {row.conversation_id or '-'}"
    )


def _plain(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
