"""Keeping customers affected by an incident informed without being asked (docs/principles.md: 4).

- A complaint that an incident explains is linked to it, and the customer is offered updates.
- Each change customers should hear about (status, what we tell them, when we expect a fix)
  puts one message per subscribed conversation in the outbox, in the same transaction as the
  change itself; ``bot/delivery.py`` delivers it.
- A promised "next update by" time that passes with no update sends an honest holding
  message and raises an operator alert, once per promise.
- Resolution resolves the linked open complaints of each customer it tells (a resolution
  "via incident" per case), and its closing message asks whether the service is back: that
  is the "is it fixed?" of those resolutions. A yes is kept on them (the rating follows); a
  no reopens the cases and puts them back with their teams (redress/cases/resolutions.py).
- Several complaints of one category from one area, with no incident covering them, raise a
  "possible incident" alert.

Every text built here is checked by the plain-language tests (tests/unit).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.conversations import records as conversations
from redress.db.models import (
    Complaint,
    Conversation,
    Incident,
    IncidentSubscription,
    OperatorAlert,
    OutboxMessage,
)
from redress.incidents import model as incidents
from redress.incidents import wording
from redress.incidents.wording import describe_time

if TYPE_CHECKING:
    from redress.business import Business

OFFERED = "offered"
SUBSCRIBED = "subscribed"
DECLINED = "declined"

UPDATE = "incident_update"
HOLDING = "incident_holding"
RESOLVED = "incident_resolved"

# What a button on the closing message sends to the assistant.
SERVICE_BACK_BUTTONS = [
    {"title": "Yes, it's working", "payload": "/affirm"},
    {"title": "No, still not right", "payload": "/deny"},
]

_STATUS_LEADS = {
    "investigating": "Here's an update on the problem you told us about.",
    "identified": "Here's an update: we've found what's causing the problem.",
    "monitoring": "Good news: we've put a fix in place, and we're checking that it holds.",
}


# Links and offers ---------------------------------------------------------------------------


def link_complaint(
    session: Session, complaint: Complaint, incident_id: str, now: datetime
) -> IncidentSubscription:
    """Ties the complaint to the incident and records that updates are offered (once per
    conversation and incident; an earlier yes or no stands)."""
    complaint.incident_id = incident_id
    subscription = session.scalar(
        select(IncidentSubscription).where(
            IncidentSubscription.incident_id == incident_id,
            IncidentSubscription.conversation_id == complaint.conversation_id,
        )
    )
    if subscription is None:
        subscription = IncidentSubscription(
            incident_id=incident_id,
            conversation_id=complaint.conversation_id,
            complaint_id=complaint.id,
            status=OFFERED,
            created_at=now,
            updated_at=now,
        )
        session.add(subscription)
        session.flush()
    return subscription


def open_offer(session: Session, conversation_id: str) -> IncidentSubscription | None:
    """The latest offer of updates this conversation has not answered yet."""
    return session.scalar(
        select(IncidentSubscription)
        .where(
            IncidentSubscription.conversation_id == conversation_id,
            IncidentSubscription.status == OFFERED,
        )
        .order_by(IncidentSubscription.id.desc())
        .limit(1)
    )


def answer_offer(
    session: Session, subscription: IncidentSubscription, wants_updates: bool, now: datetime
) -> None:
    subscription.status = SUBSCRIBED if wants_updates else DECLINED
    subscription.updated_at = now


def subscriptions_of(session: Session, conversation_id: str) -> list[IncidentSubscription]:
    return list(
        session.scalars(
            select(IncidentSubscription)
            .where(IncidentSubscription.conversation_id == conversation_id)
            .order_by(IncidentSubscription.id)
        )
    )


def open_fix_check(session: Session, conversation_id: str) -> IncidentSubscription | None:
    """The resolved incident whose "is it working now?" this conversation has not answered."""
    return session.scalar(
        select(IncidentSubscription)
        .where(
            IncidentSubscription.conversation_id == conversation_id,
            IncidentSubscription.fix_check_sent_at.is_not(None),
            IncidentSubscription.answered_at.is_(None),
        )
        .order_by(IncidentSubscription.fix_check_sent_at.desc())
        .limit(1)
    )


def answer_fix_check(
    session: Session,
    subscription: IncidentSubscription,
    service_back: bool,
    now: datetime,
    business: Business | None = None,
) -> Complaint | None:
    """Keeps the answer, on the resolutions of the customer's cases the incident resolved.
    A yes is their "fixed"; a case still open then is resolved by the assistant, fixed. A no
    reopens the cases and puts them back with their teams (with a new reply time when
    ``business`` is given). Returns the complaint the offer of updates was made for."""
    # Imported here: the case modules raise their alerts through this one.
    from redress.cases import resolutions

    subscription.service_back = service_back
    subscription.answered_at = now
    conversation = session.get(Conversation, subscription.conversation_id)
    if conversation is not None:  # the latest answer, as the records API has always shown
        conversation.fixed = service_back
    complaint = (
        session.get(Complaint, subscription.complaint_id) if subscription.complaint_id else None
    )
    for case in _linked(session, subscription):
        latest = resolutions.latest(session, case.id)
        by_incident = (
            latest is not None
            and latest.via == resolutions.INCIDENT
            and latest.fixed is None
            and latest.reopened_at is None
            and case.status == "resolved"
        )
        if by_incident and latest is not None:
            if service_back:
                latest.fixed = True
            else:
                resolutions.reopen(session, latest, resolutions.NOT_FIXED, now, business)
        elif case.status == "open" and service_back:
            # Still open: the customer's word that it works is what resolves it.
            resolved = resolutions.record(
                session, case, resolutions.ASSISTANT, resolutions.ASSISTANT, now
            )
            resolved.fixed = True
        case.facts = {**case.facts, "service_back_after_fix": service_back}
    return complaint


def _linked(session: Session, subscription: IncidentSubscription) -> list[Complaint]:
    """The conversation's complaints this incident explains (the one the offer was made for
    first)."""
    return list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.conversation_id == subscription.conversation_id,
                Complaint.incident_id == subscription.incident_id,
            )
            .order_by(Complaint.id)
        )
    )


def resolve_cases(
    session: Session, incident: incidents.Incident, conversation_id: str, now: datetime
) -> list[Complaint]:
    """The incident is resolved and this customer is told: each of their open complaints
    it explains is resolved "via incident", by the incident. Returns them."""
    from redress.cases import resolutions

    by = f"{incident.id} ({incident.title})"
    resolved = []
    open_cases = session.scalars(
        select(Complaint)
        .where(
            Complaint.conversation_id == conversation_id,
            Complaint.incident_id == incident.id,
            Complaint.status == "open",
        )
        .order_by(Complaint.id)
    )
    for case in list(open_cases):
        resolutions.record(session, case, resolutions.INCIDENT, by, now)
        resolved.append(case)
    return resolved


# Texts --------------------------------------------------------------------------------------


def customer_should_hear(before: incidents.Incident, after: incidents.Incident) -> bool:
    """Status, what we tell customers, and when we expect a fix are news. A note for the
    history, or a new "next update by" alone, is not."""
    watched = ("status", *incidents.CUSTOMER_FIELDS, "expected_fix_at")
    return any(getattr(before, name) != getattr(after, name) for name in watched)


def update_text(
    before: incidents.Incident, after: incidents.Incident, now: datetime, zone: str
) -> str:
    """A short message for a change while the incident is still open."""
    explanation = wording.explain(after, now, zone)
    lead = _STATUS_LEADS.get(after.status, _STATUS_LEADS["investigating"])
    if after.status == before.status:
        lead = "Here's an update on the problem you told us about."
    parts = [lead]
    if after.what_is_wrong != before.what_is_wrong:
        parts.append(after.what_is_wrong)
    if after.why != before.why or (after.status == "identified" != before.status):
        parts.append(after.why)
    parts += [after.what_we_are_doing, explanation.when_fixed, explanation.next_update]
    return " ".join(part for part in parts if part)


def holding_text(what_we_are_doing: str, promised: datetime, now: datetime, zone: str) -> str:
    """When a promised update time passes with no news: say so, honestly."""
    return " ".join(
        [
            f"We said we'd update you by {describe_time(promised, now, zone)}.",
            "I'm sorry, we don't have news yet.",
            what_we_are_doing,
            "I'll message you again as soon as anything changes.",
        ]
    )


def resolved_text(incident: incidents.Incident) -> str:
    services = [name.lower() for name in incident.services]
    named = services[-1] if len(services) == 1 else f"{', '.join(services[:-1])} and {services[-1]}"
    return (
        f"Good news: we've fixed the problem with {named}. "
        "Thank you for your patience while we did. Is everything working for you now?"
    )


# The outbox ---------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    conversation_id: str,
    kind: str,
    text: str,
    dedupe_key: str,
    now: datetime,
    incident_id: str | None = None,
    buttons: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Puts a message in the outbox unless one with this key is already there (a change
    handled twice, two gateways racing). Returns whether it was added."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return False
    return conversations.add_once(
        session,
        OutboxMessage(
            dedupe_key=dedupe_key,
            conversation_id=conversation_id,
            kind=kind,
            incident_id=incident_id,
            text=text,
            buttons=buttons,
            details=details,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        ),
    )


def raise_alert(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    summary: str,
    detail: dict[str, Any],
    now: datetime,
    incident_id: str | None = None,
) -> bool:
    """Records an alert for operators, once per ``dedupe_key``. Returns whether it is new."""
    if session.scalar(select(OperatorAlert.id).where(OperatorAlert.dedupe_key == dedupe_key)):
        return False
    return conversations.add_once(
        session,
        OperatorAlert(
            dedupe_key=dedupe_key,
            kind=kind,
            summary=summary[:300],
            detail=detail,
            incident_id=incident_id,
            created_at=now,
        ),
    )


def _subscribers(session: Session, incident_id: str) -> list[IncidentSubscription]:
    return list(
        session.scalars(
            select(IncidentSubscription)
            .where(
                IncidentSubscription.incident_id == incident_id,
                IncidentSubscription.status == SUBSCRIBED,
            )
            .order_by(IncidentSubscription.id)
        )
    )


def on_change(
    session: Session,
    before: incidents.Incident,
    after: incidents.Incident,
    update_id: int,
    now: datetime,
    zone: str,
) -> int:
    """Queues one message per subscribed conversation for a change customers should hear
    about. Returns how many were queued."""
    if after.status == incidents.RESOLVED:
        kind, text, buttons = RESOLVED, resolved_text(after), SERVICE_BACK_BUTTONS
    elif customer_should_hear(before, after):
        kind, text, buttons = UPDATE, update_text(before, after, now, zone), None
    else:
        return 0
    queued = 0
    for subscription in _subscribers(session, after.id):
        added = enqueue(
            session,
            conversation_id=subscription.conversation_id,
            kind=kind,
            text=text,
            buttons=buttons,
            details={"incident_id": after.id, "update_id": update_id},
            dedupe_key=f"{kind}:{after.id}:{update_id}:{subscription.conversation_id}",
            incident_id=after.id,
            now=now,
        )
        if added and kind == RESOLVED:
            subscription.fix_check_sent_at = now
            resolve_cases(session, after, subscription.conversation_id, now)
        queued += added
    return queued


def check_promises(session: Session, now: datetime, zone: str) -> list[str]:
    """Handles every promised update time that has passed with no update: a holding
    message to each subscriber and an alert for operators, once per promise. Returns the
    incident ids handled."""
    due = session.scalars(
        select(Incident)
        .where(Incident.status != incidents.RESOLVED, Incident.next_update_by <= now)
        .order_by(Incident.next_update_by)
        .with_for_update(skip_locked=True)
    )
    handled = []
    for row in due:
        promised = row.next_update_by
        if promised is None or row.missed_promise_handled == promised:
            continue
        row.missed_promise_handled = promised
        text = holding_text(row.what_we_are_doing, promised, now, zone)
        subscribers = _subscribers(session, row.id)
        for subscription in subscribers:
            enqueue(
                session,
                conversation_id=subscription.conversation_id,
                kind=HOLDING,
                text=text,
                details={"incident_id": row.id, "promised": promised.isoformat()},
                dedupe_key=f"{HOLDING}:{row.id}:{promised.isoformat()}:{subscription.conversation_id}",
                incident_id=row.id,
                now=now,
            )
        raise_alert(
            session,
            kind="promise_missed",
            dedupe_key=f"promise_missed:{row.id}:{promised.isoformat()}",
            summary=(
                f"{row.id} ({row.title}): the update promised by {promised:%Y-%m-%d %H:%M}Z "
                f"did not come. {len(subscribers)} subscribed customers got a holding message; "
                "post an update and a new next-update time."
            ),
            detail={"promised": promised.isoformat(), "subscribers": len(subscribers)},
            incident_id=row.id,
            now=now,
        )
        handled.append(row.id)
    return handled
