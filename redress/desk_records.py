"""The agent desk's side of the records: handoffs waiting for a card at the desk, the thread
each one opened, who took it over, what became of it, agents' internal notes, the customer's
answer to "is it fixed?" and their rating, and the desk events already seen.

A handoff goes ``requested`` → ``taken_over`` → ``handed_back`` or ``resolved`` (a requested
one may also be handed back or resolved straight away). While one is taken over, the
conversation's status is ``with_agent`` and the assistant stays silent; resolving sets it to
``resolved`` until the customer writes about something new.

Nothing here knows Slack: channel and thread are opaque ids, and errors are strings. The
functions take a session from ``unit_of_work`` so the caller decides what one transaction is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from redress import records
from redress.db.models import Complaint, Conversation, DeskEvent, Handoff
from redress.incident_notices import raise_alert
from redress.leased_queue import retry_delay

REQUESTED = "requested"
TAKEN_OVER = "taken_over"
HANDED_BACK = "handed_back"
RESOLVED = "resolved"
OPEN_STATUSES = (REQUESTED, TAKEN_OVER)

# Conversation statuses.
OPEN = "open"
WITH_AGENT = "with_agent"

# How long a gateway holds a handoff while it posts the card; a gateway that dies meanwhile
# leaves it to be tried again after this.
POST_LEASE = timedelta(minutes=2)
ALERT_KIND = "agent_desk"


@dataclass(frozen=True)
class DeskChange:
    """What a button press at the desk did.

    ``outcome``: ``taken_over``, ``reassigned`` (another agent had it), ``already_yours``,
    ``handed_back``, ``resolved`` or ``already_closed`` (nothing changed)."""

    handoff_id: int
    conversation_id: str
    outcome: str
    agent_id: str | None
    agent_name: str | None
    previous_agent: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome not in ("already_yours", "already_closed")


# Posting cards ------------------------------------------------------------------------------


def due_for_posting(session: Session, now: datetime, *, limit: int = 20) -> list[int]:
    """Requested handoffs that have no thread at the desk yet and are due a try, oldest
    first."""
    return list(
        session.scalars(
            select(Handoff.id).where(_due_for_posting(now)).order_by(Handoff.id).limit(limit)
        )
    )


def _due_for_posting(now: datetime) -> Any:
    return and_(
        Handoff.status == REQUESTED,
        Handoff.desk_thread.is_(None),
        or_(Handoff.next_post_at.is_(None), Handoff.next_post_at <= now),
    )


def claim_for_posting(
    session: Session, handoff_id: int, now: datetime, *, lease: timedelta = POST_LEASE
) -> bool:
    """Takes the handoff for one try at posting its card: only if it is still due
    (compare-and-set, so two gateways never both post it). The try is counted, and the next
    one is due after ``lease`` unless the outcome is noted sooner."""
    taken = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, _due_for_posting(now))
        .values(next_post_at=now + lease, post_attempts=Handoff.post_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def note_posted(
    session: Session, handoff_id: int, channel: str, thread: str, now: datetime
) -> None:
    handoff = _handoff(session, handoff_id)
    handoff.desk_channel = channel
    handoff.desk_thread = thread
    handoff.posted_at = now
    handoff.next_post_at = None
    handoff.last_error = None
    records.record_event(
        session,
        handoff.conversation_id,
        "handoff_posted",
        {"handoff": handoff.id, "channel": channel, "thread": thread},
    )


def note_post_failed(
    session: Session,
    handoff_id: int,
    error: str,
    now: datetime,
    *,
    retry_after: timedelta | None = None,
    alert: bool = False,
) -> datetime:
    """Keeps the error and when to try again: after ``retry_after`` when the desk said how
    long to wait, otherwise with the usual backoff. ``alert`` raises an operator alert (once
    per handoff and error): the desk is misconfigured and nobody sees this customer."""
    handoff = _handoff(session, handoff_id)
    handoff.last_error = error[:300]
    handoff.next_post_at = now + (
        retry_after if retry_after is not None else retry_delay(handoff.post_attempts)
    )
    if alert:
        raise_desk_alert(
            session,
            error,
            now,
            key=f"desk:{error}:handoff:{handoff.id}",
            summary=(
                f"A customer asked for a person, but their handoff could not be posted to the "
                f"agent desk ({error}). Nobody at the desk can see it yet."
            ),
            detail={
                "handoff": handoff.id,
                "conversation": handoff.conversation_id,
                "attempts": handoff.post_attempts,
            },
        )
    return handoff.next_post_at


def raise_desk_alert(
    session: Session,
    error: str,
    now: datetime,
    *,
    key: str,
    summary: str,
    detail: dict[str, Any],
) -> bool:
    """An operator alert about the agent desk, once per ``key``."""
    return raise_alert(
        session,
        kind=ALERT_KIND,
        dedupe_key=key[:200],
        summary=summary,
        detail={"error": error, **detail},
        now=now,
    )


# Finding handoffs ---------------------------------------------------------------------------


def handoff_for_thread(session: Session, channel: str, thread: str) -> Handoff | None:
    """The handoff whose card started this thread at the desk."""
    return session.scalar(
        select(Handoff)
        .where(Handoff.desk_channel == channel, Handoff.desk_thread == thread)
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    """The conversation's handoff still waiting for, or with, a person."""
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def taken_over_thread(session: Session, conversation_id: str) -> Handoff | None:
    """The taken-over handoff with a thread at the desk, where the customer's messages go."""
    return session.scalar(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status == TAKEN_OVER,
            Handoff.desk_thread.is_not(None),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def get_handoff(session: Session, handoff_id: int) -> Handoff | None:
    return session.get(Handoff, handoff_id)


def _handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise LookupError(f"no handoff {handoff_id}")
    return handoff


# The desk's buttons -------------------------------------------------------------------------


def take_over(
    session: Session, handoff_id: int, agent_id: str, agent_name: str, now: datetime
) -> DeskChange:
    """The agent takes the conversation; the assistant goes silent in it. Another agent may
    take over from the first; a closed handoff stays closed."""
    handoff = _locked(session, handoff_id)
    previous = handoff.agent_name if handoff.status == TAKEN_OVER else None
    if handoff.status not in OPEN_STATUSES:
        return _change(handoff, "already_closed")
    if handoff.status == TAKEN_OVER and handoff.agent_id == agent_id:
        return _change(handoff, "already_yours")
    outcome = "reassigned" if handoff.status == TAKEN_OVER else "taken_over"
    handoff.status = TAKEN_OVER
    handoff.agent_id = agent_id
    handoff.agent_name = agent_name
    handoff.taken_over_at = now
    conversation = _conversation(session, handoff.conversation_id)
    conversation.status = WITH_AGENT
    detail: dict[str, Any] = {"handoff": handoff.id, "agent": agent_name, "agent_id": agent_id}
    if previous is not None:
        detail["from_agent"] = previous
    records.record_event(session, conversation.id, "handoff_taken_over", detail)
    return _change(handoff, outcome, previous_agent=previous)


def hand_back(
    session: Session, handoff_id: int, agent_id: str, agent_name: str, now: datetime
) -> DeskChange:
    """The assistant takes the conversation again, where it left off."""
    handoff = _locked(session, handoff_id)
    if handoff.status not in OPEN_STATUSES:
        return _change(handoff, "already_closed")
    _close(handoff, HANDED_BACK, now)
    conversation = _conversation(session, handoff.conversation_id)
    conversation.status = OPEN
    records.record_event(
        session,
        conversation.id,
        "handoff_handed_back",
        {"handoff": handoff.id, "agent": agent_name, "agent_id": agent_id},
    )
    return _change(handoff, HANDED_BACK, by=(agent_id, agent_name))


def resolve(
    session: Session, handoff_id: int, agent_id: str, agent_name: str, now: datetime
) -> DeskChange:
    """The agent closes the conversation: its open complaints are resolved (until the
    customer says it is not fixed), and the customer is asked about it next."""
    handoff = _locked(session, handoff_id)
    if handoff.status not in OPEN_STATUSES:
        return _change(handoff, "already_closed")
    _close(handoff, RESOLVED, now)
    conversation = _conversation(session, handoff.conversation_id)
    conversation.status = RESOLVED
    conversation.fixed = None
    conversation.rating = None
    conversation.rated_at = None
    resolved = []
    for complaint in records.open_complaints(session, conversation.id):
        complaint.status = RESOLVED
        resolved.append(complaint.reference)
    records.record_event(
        session,
        conversation.id,
        "handoff_resolved",
        {"handoff": handoff.id, "agent": agent_name, "agent_id": agent_id, "complaints": resolved},
    )
    return _change(handoff, RESOLVED, by=(agent_id, agent_name))


def _locked(session: Session, handoff_id: int) -> Handoff:
    """The handoff, locked for this transaction on PostgreSQL (two agents pressing at once
    are decided one after the other; SQLite writes one at a time anyway)."""
    handoff = session.scalar(select(Handoff).where(Handoff.id == handoff_id).with_for_update())
    if handoff is None:
        raise LookupError(f"no handoff {handoff_id}")
    return handoff


def _close(handoff: Handoff, status: str, now: datetime) -> None:
    handoff.status = status
    handoff.ended_at = now


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    assert conversation is not None  # handoffs belong to conversations, which are kept
    return conversation


def _change(
    handoff: Handoff,
    outcome: str,
    *,
    previous_agent: str | None = None,
    by: tuple[str, str] | None = None,
) -> DeskChange:
    agent_id, agent_name = by if by is not None else (handoff.agent_id, handoff.agent_name)
    return DeskChange(
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        outcome=outcome,
        agent_id=agent_id,
        agent_name=agent_name,
        previous_agent=previous_agent,
    )


# Notes, events, and the customer's answers ---------------------------------------------------


def record_agent_note(
    session: Session,
    conversation_id: str,
    *,
    author: str,
    agent_id: str,
    text: str,
    desk_ts: str | None = None,
    handoff_id: int | None = None,
) -> None:
    """A reply at the desk meant for colleagues only; kept, never sent to the customer."""
    records.record_event(
        session,
        conversation_id,
        "agent_note",
        {
            "author": author,
            "agent_id": agent_id,
            "text": text,
            "desk_ts": desk_ts,
            "handoff": handoff_id,
        },
    )


def first_sighting(session: Session, event_id: str) -> bool:
    """True the first time a desk event id is seen; False for a retry or a duplicate. The
    primary key decides, so two gateways receiving the same event cannot both act on it."""
    return records.add_once(session, DeskEvent(event_id=event_id[:100]))


def record_fixed(session: Session, conversation: Conversation, fixed: bool, now: datetime) -> None:
    """The customer's answer to "is it fixed for you?". A no reopens the complaints the agent
    resolved."""
    conversation.fixed = fixed
    if not fixed:
        for complaint in session.scalars(
            select(Complaint).where(
                Complaint.conversation_id == conversation.id, Complaint.status == RESOLVED
            )
        ):
            complaint.status = OPEN
    records.record_event(session, conversation.id, "fix_confirmed", {"fixed": fixed})


def record_rating(session: Session, conversation: Conversation, rating: int, now: datetime) -> None:
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5, not {rating}")
    conversation.rating = rating
    conversation.rated_at = now
    records.record_event(
        session, conversation.id, "rated", {"rating": rating, "fixed": conversation.fixed}
    )


def reopen(session: Session, conversation: Conversation) -> None:
    """A resolved conversation the customer writes in again is the assistant's again."""
    if conversation.status == RESOLVED:
        conversation.status = OPEN
        records.record_event(session, conversation.id, "conversation_reopened", {})
