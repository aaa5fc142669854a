"""Reading and writing the records. Functions take a session from ``unit_of_work`` so the
caller decides what one transaction is."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    ConversationEvent,
    Customer,
    Handoff,
    IncidentSubscription,
    Message,
    TelegramUpdate,
    utcnow,
)

ROLES = ("customer", "bot", "agent")
_ACCOUNT_RE = re.compile(r"\bbl\s*[-–]?\s*(\d{6})\b", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_conversation_id() -> str:
    """Random and unguessable: the id is what lets a web visitor back into a conversation."""
    return secrets.token_urlsafe(24)


def start_conversation(session: Session, channel: str) -> Conversation:
    conversation = Conversation(id=new_conversation_id(), channel=channel)
    session.add(conversation)
    session.flush()
    return conversation


def conversation_on_channel(session: Session, channel: str, external_id: str) -> Conversation:
    """The conversation for a chat on an outside channel (a Telegram chat), started on first
    contact. A customer who blocked the bot and comes back is reachable again."""
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id
        )
    )
    if conversation is None:
        conversation = Conversation(
            id=new_conversation_id(), channel=channel, external_id=external_id
        )
        session.add(conversation)
        session.flush()
    conversation.reachable = True
    return conversation


def mark_unreachable(session: Session, conversation_id: str, reason: str) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.reachable:
        conversation.reachable = False
        record_event(session, conversation_id, "customer_unreachable", {"reason": reason})


def add_once(session: Session, row: Any) -> bool:
    """Adds ``row`` unless a unique key says it is already there (another request, another
    gateway, a retry); True when it was added. Only the savepoint is rolled back, so the
    caller's transaction carries on either way."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def first_sighting_of_telegram_update(session: Session, update_id: int) -> bool:
    """True the first time an update id is seen; False for a redelivery. The primary key
    decides, so two gateways receiving the same update cannot both process it."""
    return add_once(session, TelegramUpdate(update_id=update_id))


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def ensure_conversation(session: Session, conversation_id: str, channel: str) -> Conversation:
    """The conversation, created when the assistant is reached without the gateway
    (for example from ``rasa shell``) so its actions still have somewhere to record."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=channel)
        session.add(conversation)
        session.flush()
    return conversation


def record_message(
    session: Session,
    conversation: Conversation,
    role: str,
    text: str,
    *,
    buttons: list[dict[str, str]] | None = None,
    details: dict[str, Any] | None = None,
    external_id: str | None = None,
    flush: bool = True,
) -> Message:
    """Adds a message to the conversation. ``flush=False`` leaves the insert to the next
    flush, so several messages recorded together go to the database in one round trip."""
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}")
    message = Message(
        conversation_id=conversation.id,
        role=role,
        channel=conversation.channel,
        text=text,
        buttons=buttons or None,
        details=details or None,
        external_id=external_id,
    )
    session.add(message)
    conversation.updated_at = utcnow()
    if flush:
        session.flush()
    return message


def with_button_tokens(buttons: list[dict[str, str]]) -> list[dict[str, str]]:
    """Buttons with the random tokens channels show instead of their payloads: only a token
    the server issued in the conversation can reach the assistant as an intent."""
    return [{**button, "token": f"btn_{secrets.token_urlsafe(12)}"} for button in buttons]


def last_bot_details(session: Session, conversation_id: str) -> dict[str, Any]:
    """The details of the latest bot message: what kind of notice it was, or what it asked."""
    details = session.scalar(
        select(Message.details)
        .where(Message.conversation_id == conversation_id, Message.role == "bot")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return details or {}


def find_issued_button(session: Session, conversation_id: str, token: str) -> dict[str, str] | None:
    """The button with this token, if the server issued it in this conversation."""
    rows = session.scalars(
        select(Message.buttons)
        .where(Message.conversation_id == conversation_id, Message.buttons.is_not(None))
        .order_by(Message.id.desc())
        .limit(50)
    )
    for buttons in rows:
        for button in buttons or []:
            if secrets.compare_digest(str(button.get("token", "")), token):
                return button
    return None


def record_event(
    session: Session, conversation_id: str, kind: str, detail: dict[str, Any] | None = None
) -> ConversationEvent:
    event = ConversationEvent(conversation_id=conversation_id, kind=kind, detail=detail or {})
    session.add(event)
    session.flush()
    return event


def normalise_account_number(text: str) -> str | None:
    """'bl 204518', 'BL204518' and 'BL-204518' are the same account: BL-204518."""
    match = _ACCOUNT_RE.search(text)
    return f"BL-{match[1]}" if match else None


def find_email(text: str) -> str | None:
    match = _EMAIL_RE.search(text)
    return match[0].lower() if match else None


def find_customer(session: Session, reference: str) -> Customer | None:
    """Looks a customer up by account number or email, however it was typed."""
    if account := normalise_account_number(reference):
        return session.scalar(select(Customer).where(Customer.account_number == account))
    if email := find_email(reference):
        return session.scalar(select(Customer).where(func.lower(Customer.email) == email))
    return None


def attach_customer(session: Session, conversation: Conversation, customer: Customer) -> None:
    conversation.customer_id = customer.id
    for complaint in conversation.complaints:
        if complaint.customer_id is None:
            complaint.customer_id = customer.id
    session.flush()


def new_complaint_reference() -> str:
    return "RD-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def open_complaint(
    session: Session,
    conversation: Conversation,
    *,
    category: str,
    severity: str,
    severity_reasons: list[str],
    summary: str,
    facts: dict[str, Any],
) -> Complaint:
    reference = new_complaint_reference()
    while session.scalar(select(Complaint.id).where(Complaint.reference == reference)):
        reference = new_complaint_reference()
    complaint = Complaint(
        reference=reference,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        category=category,
        severity=severity,
        severity_reasons=severity_reasons,
        summary=summary,
        facts=facts,
    )
    session.add(complaint)
    session.flush()
    return complaint


def open_complaints(session: Session, conversation_id: str) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.conversation_id == conversation_id, Complaint.status == "open")
            .order_by(Complaint.id)
        )
    )


def earlier_complaints(
    session: Session,
    customer_id: int,
    category: str,
    now: datetime,
    *,
    exclude: int | None = None,
    within_days: int = 30,
) -> int:
    """How many complaints of this category the customer made in the last ``within_days``."""
    query = select(func.count(Complaint.id)).where(
        Complaint.customer_id == customer_id,
        Complaint.category == category,
        Complaint.created_at >= now - timedelta(days=within_days),
    )
    if exclude is not None:
        query = query.where(Complaint.id != exclude)
    return session.scalar(query) or 0


def request_handoff(session: Session, conversation_id: str, reason: str) -> Handoff:
    """Records that a person should take over. One open request per conversation (waiting
    for a person, or with one); a later reason is added to the record as an event rather
    than as a second request."""
    existing = session.scalar(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status.in_(("requested", "taken_over")),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    record_event(session, conversation_id, "handoff_requested", {"reason": reason})
    if existing:
        return existing
    handoff = Handoff(conversation_id=conversation_id, reason=reason)
    session.add(handoff)
    session.flush()
    return handoff


def conversation_record(session: Session, conversation_id: str) -> dict[str, Any] | None:
    """The whole record of a conversation, as the records API returns it."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            selectinload(Conversation.messages),
            selectinload(Conversation.complaints),
            selectinload(Conversation.handoffs),
            selectinload(Conversation.events),
            selectinload(Conversation.customer),
        )
    )
    if conversation is None:
        return None
    customer = conversation.customer
    return {
        "conversation": {
            "id": conversation.id,
            "channel": conversation.channel,
            "external_id": conversation.external_id,
            "reachable": conversation.reachable,
            "status": conversation.status,
            # After an agent resolved it: is it fixed for the customer, and their 1-5 rating.
            "fixed": conversation.fixed,
            "rating": conversation.rating,
            "rated_at": iso_time(conversation.rated_at),
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
            "customer": None
            if customer is None
            else {
                "account_number": customer.account_number,
                "name": customer.name,
                "email": customer.email,
                "postcode": customer.postcode,
                "plan": customer.plan,
                "monthly_fee_pence": customer.monthly_fee_pence,
            },
        },
        "messages": [
            {
                "id": m.id,
                "role": m.role,
                "channel": m.channel,
                "text": m.text,
                "external_id": m.external_id,
                "buttons": [{"title": b["title"], "payload": b["token"]} for b in m.buttons or []],
                "details": m.details or {},
                "created_at": m.created_at.isoformat(),
            }
            for m in conversation.messages
        ],
        "complaints": [
            {
                "reference": c.reference,
                "category": c.category,
                "severity": c.severity,
                "severity_reasons": c.severity_reasons,
                "status": c.status,
                "summary": c.summary,
                "facts": c.facts,
                "incident": c.incident_id,
                "created_at": c.created_at.isoformat(),
            }
            for c in conversation.complaints
        ],
        # Incidents this conversation was offered updates on, and what the customer said.
        "incident_updates": [
            {
                "incident": sub.incident_id,
                "status": sub.status,
                "service_back": sub.service_back,
                "answered_at": iso_time(sub.answered_at),
            }
            for sub in session.scalars(
                select(IncidentSubscription)
                .where(IncidentSubscription.conversation_id == conversation.id)
                .order_by(IncidentSubscription.id)
            )
        ],
        # What the compensation policy offered, why, and what was granted.
        "offers": [
            {
                **offer_json(o),
                "complaint": next(
                    (c.reference for c in conversation.complaints if c.id == o.complaint_id), None
                ),
            }
            for o in session.scalars(
                select(CompensationOffer)
                .where(CompensationOffer.conversation_id == conversation.id)
                .order_by(CompensationOffer.id)
            )
        ],
        "grants": [
            {
                "reference": g.reference,
                "offer": offer_reference,
                "remedy": g.remedy,
                "amount_pence": g.amount_pence,
                "approved_by": g.approved_by,
                "created_at": g.created_at.isoformat(),
            }
            for g, offer_reference in session.execute(
                select(CompensationGrant, CompensationOffer.reference)
                .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
                .where(CompensationOffer.conversation_id == conversation.id)
                .order_by(CompensationGrant.id)
            )
        ],
        # Each request for a person and what became of it at the agent desk.
        "handoffs": [
            {
                "reason": h.reason,
                "status": h.status,
                "requested_at": h.created_at.isoformat(),
                "desk_channel": h.desk_channel,
                "desk_thread": h.desk_thread,
                "posted_at": iso_time(h.posted_at),
                "post_attempts": h.post_attempts,
                "last_error": h.last_error,
                "agent_id": h.agent_id,
                "agent_name": h.agent_name,
                "taken_over_at": iso_time(h.taken_over_at),
                # Nobody had taken it over: when the customer was updated, offered a follow-up.
                "wait_update_at": iso_time(h.reminded_at),
                "follow_up_offered_at": iso_time(h.follow_up_offered_at),
                "ended_at": iso_time(h.ended_at),
            }
            for h in conversation.handoffs
        ],
        # What agents wrote at the desk for colleagues only (never sent to the customer).
        "agent_notes": [
            {
                "author": e.detail.get("author"),
                "agent_id": e.detail.get("agent_id"),
                "text": e.detail.get("text"),
                "created_at": e.created_at.isoformat(),
            }
            for e in conversation.events
            if e.kind == "agent_note"
        ],
        "events": [
            {"kind": e.kind, "detail": e.detail, "created_at": e.created_at.isoformat()}
            for e in conversation.events
        ],
    }


def iso_time(moment: datetime | None) -> str | None:
    """A time as the JSON APIs show it (ISO 8601, UTC offset), or None."""
    return moment.isoformat() if moment is not None else None


def offer_json(offer: CompensationOffer) -> dict[str, Any]:
    """An offer as the records and the operators' API show it."""
    return {
        "reference": offer.reference,
        "rule": offer.rule,
        "remedy": offer.remedy,
        "amount_pence": offer.amount_pence,
        "status": offer.status,
        "explanation": offer.explanation,
        "incident": offer.incident_id,
        "review_requested_at": iso_time(offer.review_requested_at),
        "decided_by": offer.decided_by,
        "created_at": offer.created_at.isoformat(),
    }
