"""Posting each new handoff to the agents: the handoffs waiting for their card, the lease a
gateway holds while it posts one, and the alert raised when posting keeps failing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from redress.conversations import records as conversations
from redress.db.models import Handoff
from redress.delivery.leased_queue import retry_delay
from redress.handoff.records import REQUESTED, handoff_by_id
from redress.incidents.notices import raise_alert

# How long a gateway holds a handoff while it posts the card; a gateway that dies meanwhile
# leaves it to be tried again after this.
POST_LEASE = timedelta(minutes=2)


ALERT_KIND = "agent_desk"


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
    handoff = handoff_by_id(session, handoff_id)
    handoff.desk_channel = channel
    handoff.desk_thread = thread
    handoff.posted_at = now
    handoff.next_post_at = None
    handoff.last_error = None
    conversations.record_event(
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
    handoff = handoff_by_id(session, handoff_id)
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
