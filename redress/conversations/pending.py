"""Customer messages the assistant could not answer yet, kept to be answered in order, once,
when it is back (``bot.relay.Relay.replay_due``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from redress.db.models import PendingTurn

FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(minutes=1)


@dataclass(frozen=True)
class Waiting:
    id: int
    message_id: int
    sent: str
    channel: str


def keep(session: Session, conversation_id: str, message_id: int, sent: str, channel: str) -> None:
    """Keeps a customer message to be answered later (once: a message is kept at most once)."""
    if session.scalar(select(PendingTurn.id).where(PendingTurn.message_id == message_id)):
        return
    session.add(
        PendingTurn(
            conversation_id=conversation_id, message_id=message_id, sent=sent, channel=channel
        )
    )
    session.flush()


def waiting(session: Session, conversation_id: str) -> list[Waiting]:
    """The conversation's kept messages, oldest first."""
    rows = session.scalars(
        select(PendingTurn)
        .where(PendingTurn.conversation_id == conversation_id)
        .order_by(PendingTurn.id)
    )
    return [Waiting(r.id, r.message_id, r.sent, r.channel) for r in rows]


def is_waiting(session: Session, message_id: int) -> bool:
    return (
        session.scalar(select(PendingTurn.id).where(PendingTurn.message_id == message_id))
        is not None
    )


def due_conversations(session: Session, now: datetime, *, limit: int = 50) -> list[str]:
    """Conversations with a kept message due for another try, the longest waiting first."""
    rows = session.execute(
        select(PendingTurn.conversation_id, func.min(PendingTurn.id).label("first"))
        .where(PendingTurn.next_attempt_at <= now)
        .group_by(PendingTurn.conversation_id)
        .order_by("first")
        .limit(limit)
    )
    return [conversation_id for conversation_id, _ in rows]


def answered(session: Session, turn_id: int) -> None:
    session.execute(delete(PendingTurn).where(PendingTurn.id == turn_id))


def dropped(session: Session, conversation_id: str) -> None:
    """A person took the conversation over: they read the kept messages, not the assistant."""
    session.execute(delete(PendingTurn).where(PendingTurn.conversation_id == conversation_id))


def failed_again(session: Session, turn_id: int, error: str, now: datetime) -> None:
    """Another try failed: the next waits longer (5 s, doubling, at most a minute)."""
    turn = session.get(PendingTurn, turn_id)
    if turn is None:
        return
    turn.attempts += 1
    turn.last_error = error[:300]
    turn.next_attempt_at = now + min(FIRST_RETRY * 2 ** (turn.attempts - 1), LONGEST_WAIT)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PendingTurn)) or 0
