"""Command line: ``python -m redress migrate|seed|check-config|incidents ...|alerts ...|
compensation ...|privacy ...|retention|tokens ...|audit|operators ...|
reports``.

What an operator changes here (incidents, alerts, compensation decisions, tokens, privacy) is
written to the audit log in the same transaction, in the name given with ``--by`` or else the
login name of whoever runs the command."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from redress import alerts, audit
from redress.business import Business, configuration_or_exit
from redress.clock import utcnow
from redress.compensation import fulfilment, operators, spend
from redress.compensation.ledger import NotGrantable
from redress.db.session import unit_of_work
from redress.incidents import records as incidents_records
from redress.incidents.model import Change, IncidentError, parse_time
from redress.incidents.records import IncidentExists, UnknownIncident
from redress.migrate import upgrade
from redress.operators import accounts_cli
from redress.operators import cli as operators_cli
from redress.operators.cli import command_line_actor
from redress.privacy import cli as privacy_cli
from redress.privacy import retention
from redress.reports import cli as reports_cli
from redress.seed import load_demo_customers
from redress.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger("redress")


def _incident_parser(sub: argparse._SubParsersAction) -> None:
    incidents = sub.add_parser("incidents", help="list, show, create, update and resolve incidents")
    actions = incidents.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the active incidents (--all for every one)")
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    show = actions.add_parser("show", help="one incident with its history")
    show.add_argument("id")
    create = actions.add_parser("create", help="create incidents from a YAML file")
    create.add_argument("--file", required=True, type=Path)
    update = actions.add_parser("update", help="change an incident; the change is kept")
    update.add_argument("id")
    update.add_argument("--status")
    update.add_argument("--next-update-by", help="a time like 2026-11-20T15:00:00Z, or +2h")
    update.add_argument("--what-is-wrong")
    update.add_argument("--why")
    update.add_argument("--what-we-are-doing")
    update.add_argument("--expected-fix", help="what customers read about when it is fixed")
    update.add_argument("--expected-fix-at", help="a time like 2026-11-20T18:00:00Z, or +6h")
    update.add_argument("--note", help="what changed, for the history")
    resolve = actions.add_parser("resolve", help="mark an incident fixed")
    resolve.add_argument("id")
    resolve.add_argument("--note", required=True, help="how it was fixed")
    actions.add_parser("load", help="load business/incidents.yml (by id; safe to repeat)")


def _alert_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("alerts", help="list operator alerts (--all), or acknowledge one")
    parser.add_argument("--all", action="store_true", help="include acknowledged alerts")
    actions = parser.add_subparsers(dest="action")
    ack = actions.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("id", type=int)


def _compensation_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compensation", help="offers waiting for a person, grants, spending; approve or reject"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    offers = actions.add_parser("offers", help="offers waiting for approval (--all for every one)")
    offers.add_argument("--all", action="store_true", help="every offer, whatever its status")
    offers.add_argument("--status", choices=operators.OFFER_FILTERS, help="offers with this status")
    grants = actions.add_parser("grants", help="what was granted, newest first")
    grants.add_argument("--account", help="one customer's grants, e.g. BL-100001")
    actions.add_parser("spend", help="spent against each incident's budget and per customer")
    approve = actions.add_parser(
        "approve", help="grant an offer; the customer is told through the running gateway"
    )
    approve.add_argument("reference", help="the offer reference, e.g. OF-7KQ2MZ")
    approve.add_argument("--by", required=True, help="your name, kept with the grant")
    reject = actions.add_parser("reject", help="refuse an offer; the customer is told honestly")
    reject.add_argument("reference", help="the offer reference, e.g. OF-7KQ2MZ")
    reject.add_argument("--by", required=True, help="your name, kept with the decision")
    reject.add_argument("--reason", required=True, help="why, for the record")
    retry = actions.add_parser(
        "retry-fulfilment", help="send a grant to the billing webhook again after it failed"
    )
    retry.add_argument("grant", help="the grant reference, e.g. CR-7KQ2MZ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redress", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="validate settings and the business folder")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("seed", help="load the demo customers and incidents from the business folder")
    _incident_parser(sub)
    _alert_parser(sub)
    _compensation_parser(sub)
    privacy_cli.add_parser(sub)
    retention.add_parser(sub)
    operators_cli.add_parsers(sub)
    accounts_cli.add_parser(sub)
    reports_cli.add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings, business = configuration_or_exit(logger)
    if args.command == "migrate":
        upgrade(settings.database_url)
        logger.info("database is up to date")
    elif args.command == "seed":
        with unit_of_work(settings.database_url) as session:
            changed = load_demo_customers(session, business.demo_customers)
        logger.info("demo customers loaded (%d added or updated)", changed)
        if business_file(settings).exists():
            try:
                return _incidents(argparse.Namespace(action="load"), settings, business)
            except IncidentError as problem:
                logger.error("Refused: %s", problem)
                return 2
    elif args.command == "incidents":
        try:
            return _incidents(args, settings, business)
        except (IncidentError, UnknownIncident, IncidentExists) as problem:
            logger.error("Refused: %s", problem)
        return 2
    elif args.command == "alerts":
        try:
            return _alerts(args, settings)
        except alerts.UnknownAlert as problem:
            logger.error("Refused: %s", problem)
        return 2
    elif args.command == "privacy":
        return privacy_cli.run(args, settings)
    elif args.command == "tokens":
        return operators_cli.run_tokens(args, settings)
    elif args.command == "audit":
        return operators_cli.run_audit(args, settings)
    elif args.command == "operators":
        return accounts_cli.run(args, settings)
    elif args.command == "reports":
        return reports_cli.run(args, settings, business)
    elif args.command == "retention":
        _out(retention.command(args, settings, business).text())
    elif args.command == "compensation":
        try:
            return _compensation(args, settings, business)
        except NotGrantable as refused:
            logger.error("Refused: %s", refused.reason)
        except (
            operators.UnknownOffer,
            operators.UnknownAccount,
            LookupError,
            ValueError,
        ) as problem:
            logger.error("Refused: %s", problem.args[0] if problem.args else problem)
        return 2
    else:
        logger.info("settings and business configuration are valid")
    return 0


def _incidents(args: argparse.Namespace, settings: Settings, business: Business) -> int:
    now = utcnow().replace(microsecond=0)
    zone = business.hours.timezone
    who = command_line_actor()
    with unit_of_work(settings.database_url) as session:
        if args.action == "list":
            rows = incidents_records.list_incidents(session, active_only=not args.all)
            for row in rows:
                _out(f"{row.id:<20} {row.status:<13} {row.started_at:%Y-%m-%d %H:%M}Z  {row.title}")
            if not rows:
                _out("No active incidents." if not args.all else "No incidents.")
        elif args.action == "show":
            _show(incidents_records.incident_with_history(session, args.id))
        elif args.action in {"create", "load"}:
            path = args.file if args.action == "create" else business_file(settings)
            loaded = incidents_records.read_incidents_file(path, now, business.regions)
            if args.action == "create":
                for incident in loaded:
                    incidents_records.create_incident(session, incident, now)
                    audit.record(session, who, "incident_create", "incident", incident.id, now)
                    _out(f"created {incident.id}")
            else:
                added, updated = incidents_records.load_incidents(session, loaded, now, zone)
                if added or updated:
                    audit.record(
                        session,
                        who,
                        "incidents_load",
                        "file",
                        path.name,
                        now,
                        added=added,
                        updated=updated,
                    )
                _out(f"incidents loaded: {added} added, {updated} updated")
        elif args.action == "update":
            change = Change(
                status=args.status,
                what_is_wrong=args.what_is_wrong,
                why=args.why,
                what_we_are_doing=args.what_we_are_doing,
                expected_fix_text=args.expected_fix,
                expected_fix_at=_when(args.expected_fix_at, "expected_fix_at", now),
                next_update_by=_when(args.next_update_by, "next_update_by", now),
                note=args.note,
            )
            row = incidents_records.update_incident(session, args.id, change, now, zone)
            audit.record(
                session, who, "incident_update", "incident", row.id, now, note=row.updates[-1].note
            )
            _out(f"updated {row.id}: {row.updates[-1].note}")
        elif args.action == "resolve":
            row = incidents_records.resolve_incident(session, args.id, args.note, now, zone)
            audit.record(
                session, who, "incident_resolve", "incident", row.id, now, note=args.note[:300]
            )
            _out(f"resolved {row.id}")
    return 0


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(settings.database_url) as session:
        if args.action == "ack":
            now = utcnow().replace(microsecond=0)
            who = command_line_actor()
            alert, first = alerts.acknowledge_once(session, args.id, now, by=who.label)
            if first:
                audit.record(session, who, "alert_acknowledge", "alert", str(alert.id), now)
                _out(f"acknowledged alert {alert.id}")
            else:
                _out(f"alert {alert.id} was already acknowledged")
            return 0
        rows = alerts.list_alerts(session, open_only=not args.all)
        for row in rows:
            seen = "open" if row.acknowledged_at is None else "acked"
            when = f"{row.created_at:%Y-%m-%d %H:%M}Z"
            _out(f"{row.id:<5} {when}  {seen:<5} {row.kind:<17} {row.summary}")
        if not rows:
            _out("No open alerts." if not args.all else "No alerts.")
    return 0


class _Call(NamedTuple):
    """What a compensation command works with: one transaction, its arguments, the time."""

    session: Session
    args: argparse.Namespace
    settings: Settings
    business: Business
    now: datetime


def _compensation(args: argparse.Namespace, settings: Settings, business: Business) -> int:
    now = utcnow().replace(microsecond=0)
    command = {
        "offers": _offers,
        "grants": _grants,
        "spend": _spend,
        "approve": _approve,
        "reject": _reject,
        "retry-fulfilment": _retry_fulfilment,
    }[args.action]
    with unit_of_work(settings.database_url) as session:
        command(_Call(session, args, settings, business, now))
    return 0


def _offers(call: _Call) -> None:
    which = call.args.status or ("all" if call.args.all else operators.PENDING_APPROVAL)
    rows = operators.list_offers(call.session, which)
    for row in rows:
        _out(
            f"{row['reference']}  {row['status']:<16} {row['amount']:>8} "
            f"{row['remedy']:<15} {row['account_number']}  {row['complaint']}  "
            f"conversation {row['conversation_id']}\n    {row['explanation']}"
        )
    if not rows:
        _out("No offers are waiting for approval." if which == "pending_approval" else "No offers.")


def _grants(call: _Call) -> None:
    rows = operators.list_grants(call.session, call.args.account)
    for row in rows:
        sent = row["fulfilment"]["status"] if row["fulfilment"] else "ledger only"
        _out(
            f"{row['reference']}  {row['granted_at'][:16]}Z  {row['amount']:>8} "
            f"{row['remedy']:<15} {row['account_number']}  {row['incident'] or '-':<16} "
            f"by {row['approved_by']}  ({sent})"
        )
    if not rows:
        _out("No grants.")


def _spend(call: _Call) -> None:
    _show_spend(spend.spend(call.session, call.business.compensation, call.now))


def _approve(call: _Call) -> None:
    decided = operators.approve(
        call.session,
        call.args.reference,
        call.args.by,
        call.business.compensation,
        call.now,
        fulfil=call.settings.fulfilment_webhook_url is not None,
        via_outbox=True,
        actor=command_line_actor(call.args.by),
    )
    grant = decided.grant
    assert grant is not None
    what = f"{grant['amount']} {grant['remedy'].replace('_', ' ')}"
    if decided.already:
        _out(f"{decided.offer['reference']} was already granted: {grant['reference']}.")
    else:
        _out(
            f"approved {decided.offer['reference']}: granted {grant['reference']} "
            f"({what} for {grant['account_number']}).\n"
            "The customer's message is queued; the running gateway shows it in their "
            "conversation (web chat or Telegram) within a few seconds:\n"
            f"  {decided.text}"
        )
    if grant["fulfilment"] is not None:
        _out("The grant goes to the billing webhook from the running gateway.")


def _reject(call: _Call) -> None:
    decided = operators.reject(
        call.session,
        call.args.reference,
        call.args.by,
        call.args.reason,
        call.now,
        via_outbox=True,
        actor=command_line_actor(call.args.by),
    )
    _out(
        f"rejected {decided.offer['reference']}; a person is asked to follow up.\n"
        "The customer's message is queued; the running gateway shows it in their "
        f"conversation:\n  {decided.text}"
    )


def _retry_fulfilment(call: _Call) -> None:
    fulfilment.retry_failed(call.session, call.args.grant, call.now)
    _out(f"{call.args.grant.upper()} will be sent to the billing webhook again.")


def _show_spend(report: dict[str, Any]) -> None:
    totals = report["totals"]
    lines = [
        f"In the last {report['window_days']} days: {totals['granted']} in {totals['grants']} "
        f"grants to {totals['customers']} customers.",
        f"Waiting for approval: {report['pending_approval']['offers']} offers, "
        f"{report['pending_approval']['amount']}.",
        "Incidents (all time):",
    ]
    for row in report["incidents"]:
        budget = row.get("budget") or "no budget"
        left = f", {row['left']} left" if row.get("left") else ""
        lines.append(
            f"  {row['incident']:<20} {row['spent']:>10} of {budget}{left} ({row['grants']} grants)"
        )
    if not report["incidents"]:
        lines.append("  none")
    lines.append("Customers with the most:")
    for row in report["top_customers"]:
        limit = f" of {row['limit']}" if "limit" in row else ""
        lines.append(
            f"  {row['account_number']}  {row['granted']:>10}{limit} ({row['grants']} grants)"
        )
    if not report["top_customers"]:
        lines.append("  none")
    _out("\n".join(lines))


def business_file(settings: Settings) -> Path:
    return settings.business_dir / "incidents.yml"


def _when(value: str | None, name: str, now: datetime) -> datetime | None:
    return None if value is None else parse_time(value, name, now)


def _show(record: dict[str, Any]) -> None:
    fix = record["expected_fix"]
    lines = [
        f"{record['id']}  {record['title']}",
        f"status: {record['status']}   start: {record['start']}   end: {record['end'] or '-'}",
        f"services: {', '.join(record['services'])}",
        f"categories: {', '.join(record['categories'])}",
        f"areas: {', '.join(record['areas']) or 'everywhere'}",
        f"what is wrong: {record['what_is_wrong']}",
        f"why: {record['why']}",
        f"what we are doing: {record['what_we_are_doing']}",
        f"expected fix: {fix['text']} ({fix['at'] or 'no time given'})",
        f"next update by: {record['next_update_by'] or '-'}",
        "history:",
    ]
    lines += [f"  {u['at']}  {u['status']:<13} {u['note']}" for u in record["history"]]
    _out("\n".join(lines))


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
