"""Everything held about a customer, as one JSON document (a subject access request;
docs/privacy.md, "Erasure and export").

The document has a section per store: the account record; each conversation with its
messages, events, handoffs, identity, codes sent, kept turns, outbox and incident
subscriptions; complaints; offers, grants and billing payloads; Telegram updates still held;
operator alerts that name them; their data requests; incidents that list their account;
Rasa's tracker events per conversation; the Slack messages about them (where they are, not
what they say: the text is in the records already); and the Redis keys named after their
conversations. Secrets kept about them (a code's hash, a chat token's hash) are said to be
held, not shown. Each export writes an audit row with the counts, never the content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redress.audit import Actor
from redress.audit import record as record_action
from redress.db.models import (
    Base,
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    ConversationEvent,
    ConversationIdentity,
    Customer,
    DataRequest,
    FulfilmentDelivery,
    Handoff,
    Incident,
    IncidentSubscription,
    Message,
    OperatorAlert,
    OutboxMessage,
    PendingTurn,
    PrivacyAudit,
    TelegramUpdate,
    VerificationCode,
)
from redress.db.session import unit_of_work
from redress.privacy.erasure import MAX_BY, chat_ids, mentions
from redress.privacy.outside import OutsideStores, OutsideUnavailable
from redress.privacy.subject import (
    Subject,
    SubjectError,
    check_request_reference,
    choose,
    find_request,
    find_subject,
)
from redress.privacy.tracker import tracker_events

# Hashes that prove a code or a chat token; held about the person, but never handed out.
SECRETS = {"code_hash", "salt", "client_token_hash"}
T = TypeVar("T")


@dataclass
class ExportRequest:
    account_number: str | None = None
    conversation_id: str | None = None
    request_reference: str | None = None
    performed_by: str = "cli"
    # Who is acting, for the audit log (written with the export's row); None: not logged there.
    actor: Actor | None = None


def export(
    database_url: str,
    tracker_url: str,
    asked: ExportRequest,
    stores: OutsideStores,
    now: datetime,
) -> dict[str, Any]:
    """The document, and an audit row ("export") with its counts."""
    kind, value = choose(asked.account_number, asked.conversation_id)
    reference = check_request_reference(asked.request_reference)
    by = (asked.performed_by or "").strip()
    if not by or len(by) > MAX_BY:
        raise SubjectError("invalid_by", f"Say who is exporting, in at most {MAX_BY} characters.")

    def read(session: Session) -> tuple[Subject, dict[str, Any]]:
        subject = find_subject(session, kind, value, reference)
        return subject, records(session, subject)

    subject, document = _in(database_url, read)
    document["tracker_events"] = _by_sender(tracker_url, subject.conversation_ids)
    document["slack_messages"], problems = _slack(stores, document, subject.identifiers)
    document["redis_keys"], redis_problems = _keys(stores, subject)
    document["problems"] = [*problems, *redis_problems]
    document = {
        "generated_at": now.isoformat(),
        "selector": {kind: value},
        "request_reference": reference,
        **document,
    }
    counts = _counts(document)

    def audit(session: Session) -> None:
        row = PrivacyAudit(
            action="export",
            request_reference=reference,
            performed_by=by,
            performed_at=now,
            counts=counts,
        )
        session.add(row)
        if reference is not None:
            _complete_access_request(session, reference, by, now)
        if asked.actor is not None:
            session.flush()
            record_action(
                session,
                asked.actor,
                "export",
                "data_request" if reference else "privacy_audit",
                reference or str(row.id),
                now,
                privacy_audit=row.id,
                by=by,
            )

    _in(database_url, audit)
    return document


def _in(database_url: str, work: Callable[[Session], T]) -> T:
    with unit_of_work(database_url) as session:
        return work(session)


def row_json(row: Base) -> dict[str, Any]:
    """A row's columns as JSON values; secrets said to be held, not shown."""
    found: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if column.key in SECRETS:
            value = "held" if value else None
        elif isinstance(value, datetime):
            value = value.isoformat()
        found[column.key] = value
    return found


def _rows(session: Session, model: Any, *conditions: Any) -> list[dict[str, Any]]:
    query = select(model).where(*conditions)
    primary = model.__table__.primary_key.columns
    return [row_json(r) for r in session.scalars(query.order_by(*primary))]


def records(session: Session, subject: Subject) -> dict[str, Any]:
    """Every row in the records database about the person."""
    ids = subject.conversation_ids
    customer = session.get(Customer, subject.customer_id) if subject.customer_id else None
    conversations = []
    for row in session.scalars(select(Conversation).where(Conversation.id.in_(ids))):
        item = row_json(row)
        at = (row.id,)
        item["messages"] = _rows(session, Message, Message.conversation_id.in_(at))
        item["events"] = _rows(
            session, ConversationEvent, ConversationEvent.conversation_id.in_(at)
        )
        item["handoffs"] = _rows(session, Handoff, Handoff.conversation_id.in_(at))
        identity = session.get(ConversationIdentity, row.id)
        item["identity"] = row_json(identity) if identity is not None else None
        item["verification_codes"] = _rows(
            session, VerificationCode, VerificationCode.conversation_id.in_(at)
        )
        item["pending_turns"] = _rows(session, PendingTurn, PendingTurn.conversation_id.in_(at))
        item["outbox"] = _rows(session, OutboxMessage, OutboxMessage.conversation_id.in_(at))
        item["incident_subscriptions"] = _rows(
            session, IncidentSubscription, IncidentSubscription.conversation_id.in_(at)
        )
        conversations.append(item)
    complaint_filter = [Complaint.conversation_id.in_(ids)]
    people = [CompensationOffer.conversation_id.in_(ids)]
    if subject.customer_id is not None:
        complaint_filter.append(Complaint.customer_id == subject.customer_id)
        people.append(CompensationOffer.customer_id == subject.customer_id)
    offers = _rows(session, CompensationOffer, or_(*people))
    offer_ids = [o["id"] for o in offers]
    grants = _rows(session, CompensationGrant, CompensationGrant.offer_id.in_(offer_ids))
    grant_ids = [g["id"] for g in grants]
    return {
        "customer": row_json(customer) if customer is not None else None,
        "conversations": conversations,
        "complaints": _rows(session, Complaint, or_(*complaint_filter)),
        "compensation_offers": offers,
        "compensation_grants": grants,
        "fulfilment_deliveries": _rows(
            session, FulfilmentDelivery, FulfilmentDelivery.grant_id.in_(grant_ids)
        ),
        "telegram_updates": _telegram(session, subject),
        "operator_alerts": [
            row_json(a)
            for a in session.scalars(select(OperatorAlert).order_by(OperatorAlert.id))
            if subject.identifiers
            and (
                mentions(a.summary, subject.identifiers) or mentions(a.detail, subject.identifiers)
            )
        ],
        "data_requests": _data_requests(session, subject),
        "incidents_listing_the_account": [
            i.id
            for i in session.scalars(select(Incident).order_by(Incident.id))
            if customer is not None and customer.account_number in (i.accounts or [])
        ],
    }


def _telegram(session: Session, subject: Subject) -> list[dict[str, Any]]:
    if not subject.telegram_chats:
        return []
    wanted = set(subject.telegram_chats)
    rows = session.scalars(
        select(TelegramUpdate)
        .where(TelegramUpdate.payload.is_not(None))
        .order_by(TelegramUpdate.update_id)
    )
    return [row_json(r) for r in rows if r.payload is not None and wanted & chat_ids(r.payload)]


def _data_requests(session: Session, subject: Subject) -> list[dict[str, Any]]:
    conditions = [DataRequest.conversation_id.in_(subject.conversation_ids)]
    if subject.customer_id is not None:
        conditions.append(DataRequest.customer_id == subject.customer_id)
    return _rows(session, DataRequest, or_(*conditions))


def _by_sender(tracker_url: str, sender_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    events = tracker_events(tracker_url, sender_ids)
    return {sender: [e for e in events if e["sender_id"] == sender] for sender in sender_ids}


def _slack(
    stores: OutsideStores, document: dict[str, Any], identifiers: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    # Handoff cards and case cards; a handoff and its case may share one thread.
    threads = list(
        dict.fromkeys(
            [
                *(
                    (h["desk_channel"], h["desk_thread"])
                    for c in document["conversations"]
                    for h in c["handoffs"]
                    if h["desk_thread"]
                ),
                *(
                    (c["desk_channel"], c["desk_thread"])
                    for c in document["complaints"]
                    if c.get("desk_thread")
                ),
            ]
        )
    )
    if stores.slack is None:
        if not threads:
            return [], []
        cards = [{"channel": ch, "ts": ts, "thread_ts": ts, "by_desk": True} for ch, ts in threads]
        return cards, ["The Slack desk is not configured here: only the cards are listed."]
    listed: list[dict[str, Any]] = []
    try:
        found = [m for channel, ts in threads for m in stores.slack.thread(channel, ts)]
        if identifiers:
            found += stores.slack.mentioning(identifiers)
        for message in {(m.channel, m.ts): m for m in found}.values():
            listed.append(
                {
                    "channel": message.channel,
                    "ts": message.ts,
                    "thread_ts": message.thread_ts,
                    "by_desk": message.by_desk,
                }
            )
    except OutsideUnavailable as problem:
        return listed, [str(problem)]
    return listed, []


def _keys(stores: OutsideStores, subject: Subject) -> tuple[list[str], list[str]]:
    if stores.keys is None or not subject.conversation_ids:
        return [], []
    try:
        return stores.keys.find(subject.conversation_ids, subject.telegram_chats), []
    except OutsideUnavailable as problem:
        return [], [str(problem)]


def _counts(document: dict[str, Any]) -> dict[str, int]:
    conversations = document["conversations"]
    return {
        "customers": int(document["customer"] is not None),
        "conversations": len(conversations),
        "messages": sum(len(c["messages"]) for c in conversations),
        "complaints": len(document["complaints"]),
        "compensation_offers": len(document["compensation_offers"]),
        "compensation_grants": len(document["compensation_grants"]),
        "telegram_updates": len(document["telegram_updates"]),
        "operator_alerts": len(document["operator_alerts"]),
        "tracker_events": sum(len(v) for v in document["tracker_events"].values()),
        "slack_messages": len(document["slack_messages"]),
        "redis_keys": len(document["redis_keys"]),
    }


def _complete_access_request(session: Session, reference: str, by: str, now: datetime) -> None:
    """An export made for a subject access request answers it: the request is done."""
    request = find_request(session, reference)
    if request.kind == "access" and request.status != "done":
        request.status = "done"
        request.completed_at = now
        request.completed_by = by[:120]
        request.note = "exported from every store (see the privacy audit)"
