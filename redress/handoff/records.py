"""The handoff records: a request for a person, the thread each one opened at the agents'
desk, who took it over, what became of it, agents' internal notes, the customer's answer to
"is it fixed?" and their rating, and the desk events already seen.

A handoff goes ``requested`` → ``taken_over`` → ``handed_back`` or ``resolved`` (a requested
one may also be handed back or resolved straight away). While one is taken over, the
conversation's status is ``with_agent`` and the assistant stays silent; resolving sets it to
``resolved`` until the customer writes about something new.

Nothing here knows Slack: channel and thread are opaque ids, and errors are strings. The
functions take a session from ``unit_of_work`` so the caller decides what one transaction is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases import resolutions
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import Complaint, Conversation, DeskEvent, Handoff

REQUESTED = "requested"


TAKEN_OVER = "taken_over"


HANDED_BACK = "handed_back"


RESOLVED = "resolved"


OPEN_STATUSES = (REQUESTED, TAKEN_OVER)


# Conversation statuses.
OPEN = "open"


WITH_AGENT = "with_agent"


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


def handoff_by_id(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise LookupError(f"no handoff {handoff_id}")
    return handoff


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
    conversations.record_event(session, conversation.id, "handoff_taken_over", detail)
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
    conversations.record_event(
        session,
        conversation.id,
        "handoff_handed_back",
        {"handoff": handoff.id, "agent": agent_name, "agent_id": agent_id},
    )
    return _change(handoff, HANDED_BACK, by=(agent_id, agent_name))


def resolve(
    session: Session, handoff_id: int, agent_id: str, agent_name: str, now: datetime
) -> DeskChange:
    """The agent closes the conversation: each open complaint is resolved in the agent's
    name (a resolution per case, until the customer says it is not fixed), and the
    customer is asked about it next."""
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
    for complaint in complaint_records.open_complaints(session, conversation.id):
        resolutions.record(
            session, complaint, resolutions.AGENT, agent_name, now, handoff_id=handoff.id
        )
        resolved.append(complaint.reference)
    conversations.record_event(
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
    conversations.record_event(
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
    return conversations.add_once(session, DeskEvent(event_id=event_id[:100]))


def record_fixed(
    session: Session,
    conversation: Conversation,
    fixed: bool,
    now: datetime,
    business: Business | None = None,
) -> list[resolutions.Reopened]:
    """The customer's answer to "is it fixed for you?", kept on the resolutions it asked
    about (``Conversation.fixed`` keeps the latest answer too). A no reopens those cases and
    puts them back with their teams (redress/cases/resolutions.py). Returns what was
    reopened, for what the customer is told."""
    conversation.fixed = fixed
    group = resolutions.awaiting_fixed(session, conversation.id)
    reopened = resolutions.answer_fixed(session, group, fixed, now, business)
    if not fixed and not group:
        # Resolved before cases kept their resolutions: the complaints open again.
        for complaint in session.scalars(
            select(Complaint).where(
                Complaint.conversation_id == conversation.id, Complaint.status == RESOLVED
            )
        ):
            complaint.status = OPEN
    conversations.record_event(
        session,
        conversation.id,
        "fix_confirmed",
        {"fixed": fixed, "complaints": [r.reference for r in reopened] if not fixed else []},
    )
    # The gateway asks for the rating next, in the same breath.
    resolutions.mark_rating_asked(group, now)
    return reopened


def record_rating(session: Session, conversation: Conversation, rating: int, now: datetime) -> None:
    """The customer's 1-5 rating, kept on the resolutions it was asked about (a poor one
    tells their teams); ``Conversation.rating`` keeps the latest too."""
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating is 1 to 5, not {rating}")
    conversation.rating = rating
    conversation.rated_at = now
    group = resolutions.awaiting_rating(session, conversation.id)
    resolutions.answer_rating(session, group, rating, now)
    conversations.record_event(
        session, conversation.id, "rated", {"rating": rating, "fixed": conversation.fixed}
    )


def reopen(session: Session, conversation: Conversation) -> None:
    """A resolved conversation the customer writes in again is the assistant's again (a
    handoff the customer's "not fixed" asked for is still on its way to a person)."""
    if conversation.status == RESOLVED:
        conversation.status = OPEN
        conversations.record_event(session, conversation.id, "conversation_reopened", {})


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
    conversations.record_event(session, conversation_id, "handoff_requested", {"reason": reason})
    if existing:
        return existing
    handoff = Handoff(conversation_id=conversation_id, reason=reason)
    session.add(handoff)
    session.flush()
    return handoff
