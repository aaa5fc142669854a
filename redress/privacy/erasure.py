"""Erasing a customer's personal data in every store (docs/privacy.md, "Erasure and export").

``erase`` finds the person (redress/privacy/subject.py), then, in this order:

1. **Rasa's tracker store**: every event of their conversations is deleted. If the store
   cannot be reached the erasure stops here, before anything else changes.
2. **Slack**: every message of their handoffs' threads (the card, the customer's messages
   shown there, the desk's notices and agents' replies) is deleted; where Slack refuses the
   delete it is edited to a neutral text; what Slack refuses both ways (a person's own
   message, which only a workspace admin may delete) is reported, never hidden. Operator
   alerts posted to the escalation channel that name them go the same way. If Slack cannot
   be reached, the erasure stops here, before the records change, so that erasing again
   (by the same account) finds everything left.
3. **Redis**: the keys named after their conversations (turn locks, rate-limit windows,
   Rasa's conversation locks) are deleted.
4. **The records**, in one transaction (``erase_records``): messages, the outbox, kept
   turns, identities, codes and incident subscriptions are deleted, and Telegram updates
   from their chat lose what Telegram sent; the account, conversations, complaints,
   offers, alerts and billing payloads are kept as rows without the person in them, so
   reports and the ledger still add up. The same
   transaction writes the audit row, with counts and nothing personal, and marks the data
   request done.

Erasing again is safe: what is gone stays gone, and the counts say what was left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from redress.audit import Actor
from redress.audit import record as record_action
from redress.compensation import ledger
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    ConversationEvent,
    ConversationIdentity,
    Customer,
    FulfilmentDelivery,
    Handoff,
    Incident,
    IncidentSubscription,
    Message,
    OperatorAlert,
    OutboxMessage,
    PendingTurn,
    PrivacyAudit,
    Promise,
    TelegramUpdate,
    VerificationCode,
)
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.privacy.outside import OutsideStores, OutsideUnavailable, SlackMessage, whole_word
from redress.privacy.subject import (
    ERASED_DOMAIN,
    Subject,
    SubjectError,
    check_request_reference,
    choose,
    find_request,
    find_subject,
    is_erased,
)
from redress.privacy.tracker import erase_tracker_events

logger = logging.getLogger("redress.privacy")

ERASED = "[erased]"
MAX_BY = 120
T = TypeVar("T")


@dataclass
class Erasure:
    """What an operator asked: one selector, the request it answers, and who they are."""

    account_number: str | None = None
    conversation_id: str | None = None
    request_reference: str | None = None
    performed_by: str = "cli"
    # Who is acting, for the audit log (written with the erasure); None: not logged there.
    actor: Actor | None = None


@dataclass
class Erased:
    """What was done: rows and messages per store, the audit row, and what is left for a
    person (Slack messages only an admin may delete, stores that could not be reached)."""

    audit_id: int
    counts: dict[str, int]
    request_reference: str | None
    # Nothing was left to erase anywhere (an erasure run again).
    nothing_left: bool
    left_in_slack: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "audit_id": self.audit_id,
            "counts": self.counts,
            "request_reference": self.request_reference,
            "nothing_left": self.nothing_left,
            "left_in_slack": self.left_in_slack,
            "problems": self.problems,
        }


@dataclass
class _Thread:
    # The rows whose card started it: ("handoff", id) and/or ("case", id); a handoff and
    # its case share one thread when they are in the same channel.
    rows: tuple[tuple[str, int], ...]
    conversation_id: str
    channel: str
    ts: str


@dataclass
class _SlackOutcome:
    counts: dict[str, int]
    cleared: set[tuple[str, int]]
    left: list[dict[str, str]]
    problems: list[str]


def checked(erasure: Erasure) -> tuple[str, str, str | None, str]:
    """The selector, the request reference and the operator's name, checked; SubjectError
    says what is wrong before anything is looked up."""
    kind, value = choose(erasure.account_number, erasure.conversation_id)
    reference = check_request_reference(erasure.request_reference)
    by = (erasure.performed_by or "").strip()
    if not by or len(by) > MAX_BY:
        raise SubjectError("invalid_by", f"Say who is erasing, in at most {MAX_BY} characters.")
    return kind, value, reference, by


def erase(
    database_url: str,
    tracker_url: str,
    erasure: Erasure,
    stores: OutsideStores,
    now: datetime,
) -> Erased:
    """Erases the person ``erasure`` names in every store (see the module notes)."""
    kind, value, reference, by = checked(erasure)

    def find(session: Session) -> tuple[Subject, list[_Thread]]:
        subject = find_subject(session, kind, value, reference)
        if subject.request is not None and subject.request.kind != "erasure":
            raise SubjectError(
                "request_kind",
                f"Data request {reference} asks for {subject.request.kind}, not erasure.",
            )
        subject.request = None  # read again in the writing transaction
        return subject, _threads(session, subject.conversation_ids)

    subject, threads = _in(database_url, find)
    try:
        tracker_events = erase_tracker_events(tracker_url, subject.conversation_ids)
    except SQLAlchemyError as problem:
        raise OutsideUnavailable(
            f"Rasa's tracker store could not be reached ({type(problem).__name__}); "
            "nothing was erased. Erase again when it is back."
        ) from None
    try:
        slack = _erase_slack(stores, threads, subject.identifiers)
    except OutsideUnavailable as problem:
        # The records still name the account, so erasing again finds everything left.
        raise OutsideUnavailable(
            f"{problem}; the records were not erased. Erase again when Slack answers."
        ) from None
    redis_keys, redis_problems = _erase_keys(stores, subject)

    def write(session: Session) -> Erased:
        counts = erase_records(session, subject, slack.cleared, now)
        counts.update(slack.counts)
        counts["tracker_events"] = tracker_events
        counts["redis_keys"] = redis_keys
        audit = PrivacyAudit(
            action="erase",
            request_reference=reference,
            performed_by=by,
            performed_at=now,
            counts=counts,
        )
        session.add(audit)
        if reference is not None:
            _complete_request(session, reference, by, now)
        session.flush()
        if erasure.actor is not None:
            # No personal data: the privacy audit row and the request name what was erased.
            record_action(
                session,
                erasure.actor,
                "erase",
                "data_request" if reference else "privacy_audit",
                reference or str(audit.id),
                now,
                privacy_audit=audit.id,
                by=by,
                counts={name: n for name, n in counts.items() if n},
            )
        return Erased(
            audit_id=audit.id,
            counts=counts,
            request_reference=reference,
            nothing_left=not any(counts.values()),
            left_in_slack=slack.left,
            problems=[*slack.problems, *redis_problems],
        )

    erased = _in(database_url, write)
    logger.info(
        "erasure %s by %s: %s",
        erased.audit_id,
        by,
        ", ".join(f"{k} {v}" for k, v in sorted(erased.counts.items()) if v),
    )
    return erased


def _in(database_url: str, work: Callable[[Session], T]) -> T:
    with unit_of_work(database_url) as session:
        return work(session)


def _threads(session: Session, conversation_ids: list[str]) -> list[_Thread]:
    """Every thread at the desk about these conversations: handoff cards and case cards,
    each thread once."""
    if not conversation_ids:
        return []
    found: dict[tuple[str, str], list[tuple[str, int]]] = {}
    owners: dict[tuple[str, str], str] = {}
    for model, kind in ((Handoff, "handoff"), (Complaint, "case")):
        rows = session.execute(
            select(model.id, model.conversation_id, model.desk_channel, model.desk_thread)
            .where(model.conversation_id.in_(conversation_ids), model.desk_thread.is_not(None))
            .order_by(model.id)
        )
        for row_id, conversation_id, channel, ts in rows:
            key = (channel or "", ts or "")
            found.setdefault(key, []).append((kind, row_id))
            owners.setdefault(key, conversation_id)
    return [_Thread(tuple(rows), owners[key], key[0], key[1]) for key, rows in found.items()]


def _erase_slack(
    stores: OutsideStores, threads: list[_Thread], identifiers: list[str]
) -> _SlackOutcome:
    counts = {"slack_messages_deleted": 0, "slack_messages_neutralised": 0}
    outcome = _SlackOutcome(counts, set(), [], [])
    if stores.slack is None:
        if threads:
            outcome.problems.append(
                f"The Slack desk is not configured here: {len(threads)} desk threads were "
                f"not removed. Erase again where SLACK_BOT_TOKEN is set, {_again(threads)}."
            )
        counts["slack_messages_left"] = 0
        return outcome
    slack = stores.slack
    for thread in threads:
        messages = slack.thread(thread.channel, thread.ts)
        # Replies first: a thread whose first message is gone can no longer be listed.
        for message in sorted(messages, key=_reply_first):
            _tally(outcome, message, slack.remove(message))
        outcome.cleared.update(thread.rows)
    # Operator alerts posted to the channel that name them (a grant for their account that
    # billing refused, an update that could not reach their conversation).
    for message in slack.mentioning(identifiers) if identifiers else []:
        _tally(outcome, message, slack.remove(message))
    counts["slack_messages_left"] = len(outcome.left)
    return outcome


def _again(threads: list[_Thread]) -> str:
    """How to finish: the account number is gone by then, so by each conversation."""
    ids = sorted({t.conversation_id for t in threads})
    return "by conversation: " + ", ".join(f"--conversation {i}" for i in ids)


def _tally(outcome: _SlackOutcome, message: SlackMessage, result: str) -> None:
    if result == "deleted":
        outcome.counts["slack_messages_deleted"] += 1
    elif result == "neutralised":
        outcome.counts["slack_messages_neutralised"] += 1
    elif result == "left":
        outcome.left.append({"channel": message.channel, "ts": message.ts})


def _reply_first(message: SlackMessage) -> tuple[bool, str]:
    is_parent = message.thread_ts in (None, message.ts)
    return (is_parent, message.ts)


def _erase_keys(stores: OutsideStores, subject: Subject) -> tuple[int, list[str]]:
    if stores.keys is None or not subject.conversation_ids:
        return 0, []
    try:
        keys = stores.keys.find(subject.conversation_ids, subject.telegram_chats)
        return stores.keys.delete(keys), []
    except OutsideUnavailable as problem:
        return 0, [f"{problem}: its keys expire on their own within minutes."]


def erase_records(
    session: Session,
    subject: Subject,
    cleared_threads: Iterable[tuple[str, int]],
    now: datetime,
) -> dict[str, int]:
    """Erases the person from the records database; returns rows changed per table. Rows
    that the ledger and reports need are kept without the person in them."""
    ids = subject.conversation_ids
    counts: dict[str, int] = {}
    counts["outbox"] = _delete(session, OutboxMessage, OutboxMessage.conversation_id, ids)
    counts["pending_turns"] = _delete(session, PendingTurn, PendingTurn.conversation_id, ids)
    counts["messages"] = _delete(session, Message, Message.conversation_id, ids)
    counts["incident_subscriptions"] = _delete(
        session, IncidentSubscription, IncidentSubscription.conversation_id, ids
    )
    counts["conversation_identities"] = _delete(
        session, ConversationIdentity, ConversationIdentity.conversation_id, ids
    )
    code_filter = [VerificationCode.conversation_id.in_(ids)] if ids else []
    if subject.customer_id is not None:
        code_filter.append(VerificationCode.customer_id == subject.customer_id)
    counts["verification_codes"] = (
        _rowcount(session.execute(delete(VerificationCode).where(or_(*code_filter))))
        if code_filter
        else 0
    )
    counts["conversations"] = _conversations(session, ids)
    counts["conversation_events"] = _events(session, ids)
    cleared = set(cleared_threads)
    counts["complaints"] = _complaints(
        session, subject, {i for k, i in cleared if k == "case"}, now
    )
    counts["promises"] = _promises(session, subject, now)
    counts["handoffs"] = _handoffs(session, ids, {i for k, i in cleared if k == "handoff"}, now)
    counts["telegram_updates"] = _telegram_updates(session, subject.telegram_chats)
    counts["operator_alerts"] = _alerts(session, subject.identifiers)
    counts["compensation_offers"] = _offers(session, subject)
    counts["fulfilment_payloads"] = _fulfilment(session, subject)
    counts["incident_accounts"] = _incident_accounts(session, subject)
    counts["customers"] = _customer(session, subject)
    session.flush()
    return counts


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _delete(session: Session, model: Any, column: Any, ids: list[str]) -> int:
    if not ids:
        return 0
    return _rowcount(session.execute(delete(model).where(column.in_(ids))))


def _conversations(session: Session, ids: list[str]) -> int:
    changed = 0
    for row in session.scalars(select(Conversation).where(Conversation.id.in_(ids))):
        if row.external_id is not None or row.client_token_hash is not None or row.reachable:
            changed += 1
        # Nobody can post into it or reach the customer through it any more; a Telegram chat
        # that writes again starts a new conversation.
        row.external_id = None
        row.client_token_hash = None
        row.reachable = False
        if row.status == "with_agent":
            row.status = "resolved"
    return changed


def _events(session: Session, ids: list[str]) -> int:
    changed = 0
    for row in session.scalars(
        select(ConversationEvent).where(ConversationEvent.conversation_id.in_(ids))
    ):
        if row.detail:
            row.detail = {}
            changed += 1
    return changed


def _of_subject(subject: Subject) -> Any:
    conditions = [Complaint.conversation_id.in_(subject.conversation_ids)]
    if subject.customer_id is not None:
        conditions.append(Complaint.customer_id == subject.customer_id)
    return or_(*conditions)


def _complaints(session: Session, subject: Subject, cleared: set[int], now: datetime) -> int:
    """Each complaint keeps what reports need, without the person. An open case is closed
    (else the desk would post a card, or chase its promises, about someone erased); a card
    that is gone from Slack is forgotten."""
    changed = 0
    for row in session.scalars(select(Complaint).where(_of_subject(subject))):
        if row.summary != ERASED or row.facts or row.severity_reasons:
            changed += 1
        # Category, severity, status, team, incident and dates stay, for the reports.
        row.summary = ERASED
        row.facts = {}
        row.severity_reasons = []
        if row.status == "open":
            row.status = "resolved"
            row.resolved_at = row.resolved_at or now
            row.resolved_via = row.resolved_via or "erasure"
        if row.id in cleared:
            row.desk_channel = None
            row.desk_thread = None
    return changed


def _promises(session: Session, subject: Subject, now: datetime) -> int:
    """Promises still open about an erased person's cases are cancelled: nobody is left to
    keep them to, and nobody to apologise to."""
    cases = select(Complaint.id).where(_of_subject(subject))
    result = session.execute(
        update(Promise)
        .where(Promise.complaint_id.in_(cases), Promise.status.in_(("open", "missed")))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _handoffs(session: Session, ids: list[str], cleared: set[int], now: datetime) -> int:
    """An open handoff is closed (else the desk would post a new card, or remind the
    customer, about someone erased); a thread that is gone from Slack is forgotten."""
    changed = 0
    for row in session.scalars(select(Handoff).where(Handoff.conversation_id.in_(ids))):
        touched = False
        if row.status in handoff_records.OPEN_STATUSES:
            row.status = handoff_records.RESOLVED
            row.ended_at = now
            touched = True
        if row.id in cleared and row.desk_thread is not None:
            row.desk_channel = None
            row.desk_thread = None
            touched = True
        changed += touched
    return changed


def _telegram_updates(session: Session, chats: list[str]) -> int:
    if not chats:
        return 0
    wanted = set(chats)
    changed = 0
    for row in session.scalars(select(TelegramUpdate).where(TelegramUpdate.payload.is_not(None))):
        if row.payload is not None and wanted & chat_ids(row.payload):
            row.payload = None
            changed += 1
    return changed


def chat_ids(value: Any) -> set[str]:
    """Every chat and user id in a Telegram update (message, edit, button press...)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in {"chat", "from", "user"} and isinstance(inner, dict) and "id" in inner:
                found.add(str(inner["id"]))
            found |= chat_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= chat_ids(inner)
    return found


def scrub(value: Any, identifiers: list[str]) -> Any:
    """``value`` with every identifier standing on its own (in any case) replaced by
    "[erased]", in nested JSON too: a chat id inside a longer number is left alone."""
    if isinstance(value, str):
        for identifier in identifiers:
            if identifier and identifier.lower() in value.lower():
                value = whole_word(identifier).sub(ERASED, value)
        return value
    if isinstance(value, dict):
        return {key: scrub(inner, identifiers) for key, inner in value.items()}
    if isinstance(value, list):
        return [scrub(inner, identifiers) for inner in value]
    return value


def mentions(value: Any, identifiers: list[str]) -> bool:
    return scrub(value, identifiers) != value


def _alerts(session: Session, identifiers: list[str]) -> int:
    if not identifiers:
        return 0
    # Longest first, so a name is not left half replaced by a shorter identifier inside it.
    ordered = sorted(set(identifiers), key=len, reverse=True)
    changed = 0
    for row in session.scalars(select(OperatorAlert)):
        if not (mentions(row.summary, ordered) or mentions(row.detail, ordered)):
            continue
        row.summary = scrub(row.summary, ordered)[:300]
        row.detail = scrub(row.detail, ordered)
        if mentions(row.dedupe_key, ordered):
            row.dedupe_key = f"{row.kind}:erased:{row.id}"
        changed += 1
    return changed


def _offers(session: Session, subject: Subject) -> int:
    """An offer keeps its rule, amount, status and dates; its explanation loses anything
    naming the person (a reason an operator typed when rejecting it). One still open (put to
    the customer, or waiting for a person's approval) is withdrawn: nobody is left to grant
    it to."""
    conditions = [CompensationOffer.conversation_id.in_(subject.conversation_ids)]
    if subject.customer_id is not None:
        conditions.append(CompensationOffer.customer_id == subject.customer_id)
    ordered = sorted(set(subject.identifiers), key=len, reverse=True)
    changed = 0
    for row in session.scalars(select(CompensationOffer).where(or_(*conditions))):
        if ordered and mentions(row.explanation, ordered):
            row.explanation = scrub(row.explanation, ordered)
            changed += 1
        if row.status in (ledger.OFFERED, ledger.PENDING_APPROVAL):
            row.status, row.decided_by = ledger.WITHDRAWN, "erasure"
            changed += 1
    return changed


def _fulfilment(session: Session, subject: Subject) -> int:
    """Billing payloads already delivered keep the grant, amount and dates, not the account.
    One still to be sent keeps the account number until it is sent: the billing system needs
    it to apply the remedy (erasing again after that removes it)."""
    if subject.customer_id is None:
        return 0
    changed = 0
    rows = session.scalars(
        select(FulfilmentDelivery)
        .join(CompensationGrant, CompensationGrant.id == FulfilmentDelivery.grant_id)
        .where(
            CompensationGrant.customer_id == subject.customer_id,
            FulfilmentDelivery.status == "sent",
        )
    )
    for row in rows:
        if row.payload.get("account_number") not in (None, ERASED):
            row.payload = {**row.payload, "account_number": ERASED}
            changed += 1
    return changed


def _incident_accounts(session: Session, subject: Subject) -> int:
    if subject.customer_id is None:
        return 0
    customer = session.get(Customer, subject.customer_id)
    if customer is None or is_erased(customer):
        return 0
    changed = 0
    for row in session.scalars(select(Incident)):
        if customer.account_number in (row.accounts or []):
            row.accounts = [a for a in row.accounts if a != customer.account_number]
            changed += 1
    return changed


def _customer(session: Session, subject: Subject) -> int:
    """The account record stays (the ledger's grants and offers point at it) with nothing
    of the person left: no name, e-mail, postcode, plan or account number."""
    if subject.customer_id is None:
        return 0
    customer = session.get(Customer, subject.customer_id)
    if customer is None or is_erased(customer):
        return 0
    customer.name = "Erased"
    customer.email = f"erased-{customer.id}@{ERASED_DOMAIN}"
    customer.account_number = f"ERASED-{customer.id}"
    customer.postcode = ""
    customer.plan = ""
    return 1


def _complete_request(session: Session, reference: str, by: str, now: datetime) -> None:
    request = find_request(session, reference)
    if request.status != "done":
        request.status = "done"
        request.completed_at = now
        request.completed_by = by[:120]
        request.note = "erased in every store (see the privacy audit)"
