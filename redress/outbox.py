"""Delivering outbox messages reliably: claim, record once, send, finish.

Each step is its own short transaction so a crash loses nothing:

1. ``claim_due`` takes messages that are due (or whose claim went stale: the gateway died
   while sending) and marks them ``sending``. On PostgreSQL the rows are locked with SKIP
   LOCKED, so several gateways never take the same message.
2. ``prepare`` records the message in the conversation the first time only; a retry finds
   the recorded message again, so the customer never sees it twice in the transcript.
3. The gateway sends it (``bot/delivery.py``).
4. ``finish`` marks it sent, retries later with backoff, or gives up and alerts operators.

A message the channel confirmed (it has the channel's id) is never sent again, even when the
gateway stopped between sending and ``finish``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from redress import records
from redress.db.models import Conversation, Message, OutboxMessage
from redress.incident_notices import raise_alert

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNDELIVERABLE = "undeliverable"

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=30)


@dataclass(frozen=True)
class Prepared:
    outbox_id: int
    conversation_id: str
    channel: str
    reachable: bool
    message: Message
    # The channel already confirmed this message (sent before a restart).
    confirmed: bool


def claim_due(
    session: Session, now: datetime, *, limit: int = 50, lease: timedelta = timedelta(minutes=2)
) -> list[int]:
    """Marks up to ``limit`` due messages as being sent and returns their ids, oldest first."""
    due = or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < now - lease),
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(due)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.status = SENDING
        row.claimed_at = now
        row.attempts += 1
    return [row.id for row in rows]


def prepare(session: Session, outbox_id: int) -> Prepared:
    """The message to send, recorded in the conversation on the first attempt only."""
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None  # claimed a moment ago; outbox rows are not deleted
    conversation = session.get(Conversation, row.conversation_id)
    assert conversation is not None  # a foreign key
    message = session.get(Message, row.message_id) if row.message_id is not None else None
    if message is None:
        message = records.record_message(
            session,
            conversation,
            "bot",
            row.text,
            buttons=[
                {**button, "token": f"btn_{secrets.token_urlsafe(12)}"}
                for button in row.buttons or []
            ],
            details={"outbox": row.id, "kind": row.kind, **(row.details or {})},
        )
        row.message_id = message.id
    return Prepared(
        outbox_id=row.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        reachable=conversation.reachable,
        message=message,
        confirmed=message.external_id is not None,
    )


def confirmed(session: Session, outbox_id: int) -> tuple[bool, bool]:
    """After sending: (the channel confirmed the message, the customer is still reachable)."""
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None and row.message_id is not None
    message = session.get(Message, row.message_id)
    conversation = session.get(Conversation, row.conversation_id)
    assert message is not None and conversation is not None
    return message.external_id is not None, conversation.reachable


def retry_delay(attempts: int) -> timedelta:
    """30 seconds after the first failure, doubling, at most 30 minutes."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def finish(
    session: Session,
    outbox_id: int,
    now: datetime,
    *,
    delivered: bool,
    error: str | None = None,
    unreachable: bool = False,
    max_attempts: int = 8,
) -> str:
    """Records how the attempt went; returns the message's new status."""
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None
    if delivered:
        row.status, row.sent_at, row.last_error = SENT, now, None
    elif unreachable:
        row.status, row.last_error = UNDELIVERABLE, (error or "customer unreachable")[:500]
    elif row.attempts >= max_attempts:
        row.status, row.last_error = FAILED, (error or "not delivered")[:500]
        raise_alert(
            session,
            kind="delivery_failed",
            dedupe_key=f"delivery_failed:{row.id}",
            summary=(
                f"An update could not be delivered to conversation {row.conversation_id} "
                f"after {row.attempts} tries: {row.last_error}"
            ),
            detail={"outbox": row.id, "conversation_id": row.conversation_id, "kind": row.kind},
            incident_id=row.incident_id,
            now=now,
        )
    else:
        row.status, row.last_error = PENDING, (error or "not delivered")[:500]
        row.next_attempt_at = now + retry_delay(row.attempts)
    return row.status


def counts(session: Session) -> dict[str, int]:
    """How many outbox messages are in each state, for operators and tests."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: number for status, number in rows}
