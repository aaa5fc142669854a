"""The whole record of a conversation as the records API returns it, and the JSON shapes
the records share (times, offers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from redress.business import Business
from redress.cases.promises import incident_promise_json
from redress.cases.records import promise_json
from redress.cases.resolutions import resolution_json
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Handoff,
    Incident,
    IncidentSubscription,
    Message,
)
from redress.privacy import requests as data_requests


def conversation_record(
    session: Session, conversation_id: str, business: Business | None = None
) -> dict[str, Any] | None:
    """The whole record of a conversation, as the records API returns it (``business``
    names each case's team)."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            selectinload(Conversation.messages),
            selectinload(Conversation.complaints).selectinload(Complaint.promises),
            selectinload(Conversation.handoffs),
            selectinload(Conversation.events),
            selectinload(Conversation.customer),
        )
    )
    if conversation is None:
        return None
    return {
        "conversation": _conversation_json(conversation),
        "messages": [_message_json(m) for m in conversation.messages],
        "complaints": [_complaint_json(session, c, business) for c in conversation.complaints],
        # Incidents this conversation was offered updates on, and what the customer said.
        "incident_updates": _incident_updates(session, conversation.id),
        # What the compensation policy offered, why, and what was granted.
        "offers": _offers(session, conversation),
        "grants": _grants(session, conversation.id),
        # Each request for a person and what became of it at the agent desk.
        "handoffs": [_handoff_json(h) for h in conversation.handoffs],
        # Requests about the customer's personal data made here (erase, access, stop).
        "data_requests": [
            data_requests.request_json(r)
            for r in data_requests.requests_of(session, conversation.id)
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


def _conversation_json(conversation: Conversation) -> dict[str, Any]:
    customer = conversation.customer
    return {
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
    }


def _message_json(m: Message) -> dict[str, Any]:
    return {
        **fields(m, "id", "role", "channel", "text", "external_id", "created_at"),
        "buttons": [{"title": b["title"], "payload": b["token"]} for b in m.buttons or []],
        "details": m.details or {},
    }


def _complaint_json(session: Session, c: Complaint, business: Business | None) -> dict[str, Any]:
    """A complaint and its case: the team that owns it, who claimed it, where the desk is
    with it, the earlier case it repeats, and every promise made about it (the incident's
    next update among them, when an incident explains it)."""
    names = ("reference", "category", "severity", "severity_reasons", "status", "summary")
    repeat_of = session.get(Complaint, c.repeat_of_id) if c.repeat_of_id is not None else None
    promised = [promise_json(p) for p in sorted(c.promises, key=lambda p: (p.due_at, p.id))]
    incident = session.get(Incident, c.incident_id) if c.incident_id else None
    if incident is not None and (derived := incident_promise_json(incident)):
        promised.append(derived)
    return {
        **fields(c, *names, "facts", "created_at"),
        "incident": c.incident_id,
        # The case (docs/cases.md).
        "team": c.team,
        "team_name": business.team(c.team).name if business is not None and c.team else None,
        "owner": None
        if c.owner_id is None
        else {"id": c.owner_id, "name": c.owner_name, "claimed_at": iso_time(c.claimed_at)},
        "desk_status": c.desk_status,
        "repeat_of": repeat_of.reference if repeat_of is not None else None,
        "promises": promised,
        # Each time it was resolved, by whom, and what the customer said after.
        "resolutions": [resolution_json(r) for r in c.resolutions],
    }


def _incident_updates(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    return [
        {
            "incident": sub.incident_id,
            "status": sub.status,
            "service_back": sub.service_back,
            "answered_at": iso_time(sub.answered_at),
        }
        for sub in session.scalars(
            select(IncidentSubscription)
            .where(IncidentSubscription.conversation_id == conversation_id)
            .order_by(IncidentSubscription.id)
        )
    ]


def _offers(session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    references = {c.id: c.reference for c in conversation.complaints}
    return [
        {**offer_json(o), "complaint": references.get(o.complaint_id)}
        for o in session.scalars(
            select(CompensationOffer)
            .where(CompensationOffer.conversation_id == conversation.id)
            .order_by(CompensationOffer.id)
        )
    ]


def _grants(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    return [
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
            .where(CompensationOffer.conversation_id == conversation_id)
            .order_by(CompensationGrant.id)
        )
    ]


def _handoff_json(h: Handoff) -> dict[str, Any]:
    return {
        **fields(h, "reason", "status", "desk_channel", "desk_thread", "posted_at"),
        **fields(h, "post_attempts", "last_error", "agent_id", "agent_name", "taken_over_at"),
        "requested_at": iso_time(h.created_at),
        # Nobody had taken it over: when the customer was updated, offered a follow-up.
        "wait_update_at": iso_time(h.reminded_at),
        **fields(h, "follow_up_offered_at", "ended_at"),
    }


def fields(row: Any, *names: str) -> dict[str, Any]:
    """The named columns of a row as JSON shows them (times in ISO 8601)."""
    values = {name: getattr(row, name) for name in names}
    return {name: iso_time(v) if isinstance(v, datetime) else v for name, v in values.items()}


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
