"""The inbound queue: every customer message for the assistant is kept here from the moment
it is recorded (in the same transaction) until its answer is recorded (in the same
transaction again), so a message is answered once, in order, whatever fails in between.

A message waits in one of two ways. *Taken in*: a gateway is answering it now; it becomes due
only after ``working_for`` (longer than any turn can last), which happens only when that
gateway stopped mid-turn. *Kept*: the assistant could not answer it (Rasa, an action, or the
tracker store failed); it is due at once and then tried again with backoff
(``bot.relay.Relay.replay_due``)."""

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


def take_in(
    session: Session,
    conversation_id: str,
    message_id: int,
    sent: str,
    channel: str,
    due_at: datetime,
) -> None:
    """Puts a just-recorded message in the queue while a gateway answers it; ``due_at`` is
    when another may take it over, if no answer was recorded by then."""
    if session.scalar(select(PendingTurn.id).where(PendingTurn.message_id == message_id)):
        return
    session.add(
        PendingTurn(
            conversation_id=conversation_id,
            message_id=message_id,
            sent=sent,
            channel=channel,
            next_attempt_at=due_at,
        )
    )
    session.flush()


def keep(
    session: Session, conversation_id: str, message_id: int, sent: str, channel: str, now: datetime
) -> None:
    """The assistant could not answer this message: it is kept, due for a try at once."""
    turn = session.scalar(select(PendingTurn).where(PendingTurn.message_id == message_id))
    if turn is not None:
        turn.next_attempt_at = min(turn.next_attempt_at, now)
        return
    take_in(session, conversation_id, message_id, sent, channel, now)


def answered_message(session: Session, message_id: int) -> None:
    """The message's answer is recorded: it leaves the queue."""
    session.execute(delete(PendingTurn).where(PendingTurn.message_id == message_id))


def waiting(session: Session, conversation_id: str, before: int | None = None) -> list[Waiting]:
    """The conversation's waiting messages (those recorded before message ``before``, when
    given), oldest first."""
    query = select(PendingTurn).where(PendingTurn.conversation_id == conversation_id)
    if before is not None:
        query = query.where(PendingTurn.message_id < before)
    rows = session.scalars(query.order_by(PendingTurn.message_id))
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
