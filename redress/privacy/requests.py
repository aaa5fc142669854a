"""Customers' requests about their personal data, made in the conversation: erase it, say
what is held (a subject access request), or stop messaging them (docs/privacy.md).

A request is never a complaint. It is recorded with a ``DR-`` reference and the date it is
due: one calendar month from the day it is made, the time the law allows. Whether the
customer proved the account is theirs (a signed login or the e-mailed code) is kept with it;
a request made before that is recorded all the same, and marked verified once they do.

"Stop messaging me" also stops at once what the assistant itself would send this
conversation without being asked: updates about an incident. Replies to what the customer
asks, and what people at the desk write, are not part of that.

The functions take a session from ``unit_of_work`` so the caller decides what one
transaction is.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redress.cases import follow_up
from redress.cases import promises as case_promises
from redress.conversations import records as conversations
from redress.db.models import DataRequest, IncidentSubscription, OutboxMessage
from redress.delivery.outbox import PENDING
from redress.incidents import notices

ERASURE, ACCESS, STOP_MESSAGES = "erasure", "access", "stop_messages"
KINDS = (ERASURE, ACCESS, STOP_MESSAGES)
OPEN, DONE, REFUSED = "open", "done", "refused"

# The NLU's intent for each kind of request (domain/privacy.yml).
KIND_OF_INTENT = {
    "request_erasure": ERASURE,
    "request_data_access": ACCESS,
    "request_stop_messages": STOP_MESSAGES,
}

# Why a person is asked for when the customer cannot be verified in the chat.
CONFIRM_IDENTITY = "data_request_identity"

# An outbox message that has not left yet and is withdrawn: never sent.
WITHDRAWN = "withdrawn"

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def new_reference() -> str:
    return "DR-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def one_month_after(moment: datetime, zone: str) -> datetime:
    """The same time on the same day of the next calendar month where the business is (the
    last day of that month when it is shorter: 31 January is due 28 or 29 February)."""
    local = moment.astimezone(ZoneInfo(zone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


def describe_due(due_at: datetime, zone: str) -> str:
    """'7 January 2027': the day a request is due, where the business is."""
    local = due_at.astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%B %Y}"


def record_request(
    session: Session,
    *,
    kind: str,
    conversation_id: str,
    customer_id: int | None,
    verified: bool,
    now: datetime,
    zone: str,
) -> DataRequest:
    """Records a request, due one calendar month from ``now``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of data request: {kind!r}")
    for _ in range(5):
        request = DataRequest(
            reference=new_reference(),
            kind=kind,
            conversation_id=conversation_id,
            customer_id=customer_id,
            verified=verified,
            status=OPEN,
            created_at=now,
            due_at=one_month_after(now, zone),
        )
        try:
            with session.begin_nested():
                session.add(request)
                session.flush()
        except IntegrityError:  # the reference was taken: one in a billion, try another
            continue
        conversations.record_event(
            session,
            conversation_id,
            "data_request",
            {"reference": request.reference, "kind": kind, "verified": verified},
        )
        return request
    raise RuntimeError("could not find an unused data request reference")


def open_request(session: Session, conversation_id: str, kind: str) -> DataRequest | None:
    """This conversation's open request of this kind, if it made one."""
    return session.scalar(
        select(DataRequest)
        .where(
            DataRequest.conversation_id == conversation_id,
            DataRequest.kind == kind,
            DataRequest.status == OPEN,
        )
        .order_by(DataRequest.id.desc())
        .limit(1)
    )


def requests_of(session: Session, conversation_id: str) -> list[DataRequest]:
    """Every request made in this conversation, oldest first."""
    return list(
        session.scalars(
            select(DataRequest)
            .where(DataRequest.conversation_id == conversation_id)
            .order_by(DataRequest.id)
        )
    )


def open_requests(session: Session) -> list[DataRequest]:
    """Every open request, the soonest due first: what operators have to do."""
    return list(
        session.scalars(
            select(DataRequest)
            .where(DataRequest.status == OPEN)
            .order_by(DataRequest.due_at, DataRequest.id)
        )
    )


def all_requests(session: Session) -> list[DataRequest]:
    """Every request, the newest first."""
    return list(session.scalars(select(DataRequest).order_by(DataRequest.id.desc())))


def unverified_requests(session: Session, conversation_id: str) -> list[DataRequest]:
    """This conversation's open requests that still wait for the customer to prove who
    they are."""
    return [r for r in requests_of(session, conversation_id) if r.status == OPEN and not r.verified]


def mark_verified(session: Session, conversation_id: str, customer_id: int) -> list[DataRequest]:
    """The customer proved the account is theirs: their open requests made in this
    conversation are now verified and on that account. Returns them."""
    waiting = unverified_requests(session, conversation_id)
    for request in waiting:
        request.verified = True
        request.customer_id = customer_id
    if waiting:
        conversations.record_event(
            session,
            conversation_id,
            "data_request_verified",
            {"references": [r.reference for r in waiting]},
        )
    return waiting


@dataclass(frozen=True)
class Stopped:
    """What "stop messaging me" stopped at once: incident updates this conversation was
    getting or had been offered, and updates already queued that had not left yet."""

    incidents: tuple[str, ...]
    withdrawn: int

    @property
    def anything(self) -> bool:
        return bool(self.incidents or self.withdrawn)


# Messages we send without the customer writing first: what "stop messaging me" stops.
UNASKED = (
    notices.UPDATE,
    notices.HOLDING,
    notices.RESOLVED,
    case_promises.MISSED_MESSAGE,
    follow_up.KIND,
)


def stop_proactive_messages(session: Session, conversation_id: str, now: datetime) -> Stopped:
    """Turns off every incident update for this conversation (as a no to the offer of
    updates) and withdraws every message we meant to send unasked but have not sent yet:
    incident updates, an apology for a missed promise, the follow-up after a resolution."""
    stopped = []
    subscriptions = session.scalars(
        select(IncidentSubscription).where(
            IncidentSubscription.conversation_id == conversation_id,
            IncidentSubscription.status.in_((notices.SUBSCRIBED, notices.OFFERED)),
        )
    )
    for subscription in subscriptions:
        notices.answer_offer(session, subscription, False, now)
        stopped.append(subscription.incident_id)
    queued = list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.conversation_id == conversation_id,
                OutboxMessage.status == PENDING,
                OutboxMessage.kind.in_(UNASKED),
            )
        )
    )
    for message in queued:
        message.status, message.last_error = WITHDRAWN, "the customer asked us to stop messaging"
    result = Stopped(incidents=tuple(sorted(set(stopped))), withdrawn=len(queued))
    conversations.record_event(
        session,
        conversation_id,
        "messages_stopped",
        {"incidents": list(result.incidents), "withdrawn": result.withdrawn},
    )
    return result


def request_json(request: DataRequest) -> dict[str, object]:
    """A request as the records show it: no personal data, only what and when."""
    return {
        "reference": request.reference,
        "kind": request.kind,
        "verified": request.verified,
        "status": request.status,
        "customer_id": request.customer_id,
        "conversation_id": request.conversation_id,
        "created_at": request.created_at.isoformat(),
        "due_at": request.due_at.isoformat(),
        "completed_at": request.completed_at.isoformat() if request.completed_at else None,
    }


class RequestNotOpen(ValueError):
    """The request is unknown or already closed: nothing was changed."""


def close_request(
    session: Session, reference: str, outcome: str, by: str, note: str, now: datetime
) -> DataRequest:
    """Marks an open request ``done`` or ``refused`` by ``by``, with a note saying what was
    done or why not (no personal data); raises RequestNotOpen otherwise."""
    if outcome not in (DONE, REFUSED):
        raise RequestNotOpen(f"A request is closed as {DONE} or {REFUSED}, not {outcome!r}.")
    request = session.scalar(select(DataRequest).where(DataRequest.reference == reference))
    if request is None:
        raise RequestNotOpen(f"There is no data request {reference}.")
    if request.status != OPEN:
        raise RequestNotOpen(f"Data request {reference} is already {request.status}.")
    request.status = outcome
    request.completed_at = now
    request.completed_by = by[:120]
    request.note = note[:300]
    return request
