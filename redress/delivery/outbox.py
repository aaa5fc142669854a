"""Delivering outbox messages reliably: claim, record once, send, finish.

Each step is its own short transaction so a crash loses nothing:

1. ``claim_due`` takes messages that are due (or whose claim went stale: the gateway died
   while sending) and marks them ``sending``. On PostgreSQL the rows are locked with SKIP
   LOCKED, so several gateways never take the same message; on SQLite, whose reads lock
   nothing, each is marked only if it is still due, so it is taken once there too.
2. ``prepare`` records the message in the conversation the first time only; a retry finds
   the recorded message again, so the customer never sees it twice in the transcript. It
   renews the claim, and gives the message up if another gateway took it over after this
   one's claim went stale (a slow batch), so a gateway that fell behind does not send what
   another one has taken over.
3. The gateway sends it (``bot/delivery.py``).
4. ``finish`` marks it sent, retries later with backoff, or gives up and alerts operators.

A message the channel confirmed (it has the channel's id) is never sent again, even when the
gateway stopped between sending and ``finish``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redress.conversations import records as conversations
from redress.db.models import Conversation, Message, OutboxMessage
from redress.delivery import leased_queue
from redress.incidents.notices import raise_alert

# The states and backoff every leased table shares (redress/delivery/leased_queue.py).
PENDING, SENDING, SENT, FAILED = (
    leased_queue.PENDING, leased_queue.SENDING, leased_queue.SENT, leased_queue.FAILED,
)  # fmt: skip
FIRST_RETRY, LONGEST_RETRY = leased_queue.FIRST_RETRY, leased_queue.LONGEST_RETRY
retry_delay = leased_queue.retry_delay

UNDELIVERABLE = "undeliverable"

# How long a claim lasts before another gateway may take the message over. Longer than one
# send can take, Telegram's flood-control waits included (three waits of up to a minute).
DEFAULT_LEASE = timedelta(minutes=5)


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
    session: Session, now: datetime, *, limit: int = 50, lease: timedelta = DEFAULT_LEASE
) -> list[int]:
    """Marks up to ``limit`` due messages as being sent and returns their ids, oldest first."""
    return leased_queue.claim_due(session, OutboxMessage, now, limit=limit, lease=lease)


def prepare(
    session: Session, outbox_id: int, claimed_at: datetime, now: datetime
) -> Prepared | None:
    """The message to send, recorded in the conversation on the first attempt only. None
    when the claim made at ``claimed_at`` lapsed and another gateway took the message over;
    otherwise the claim is renewed, so the lease counts from now, not from the batch."""
    if not leased_queue.renew_claim(session, OutboxMessage, outbox_id, claimed_at, now):
        return None
    row = session.get(OutboxMessage, outbox_id)
    assert row is not None  # claimed a moment ago; retention deletes only finished rows
    conversation = session.get(Conversation, row.conversation_id)
    assert conversation is not None  # a foreign key
    message = session.get(Message, row.message_id) if row.message_id is not None else None
    if message is None:
        message = conversations.record_message(
            session,
            conversation,
            "bot",
            row.text,
            buttons=conversations.with_button_tokens(row.buttons or []),
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
        row.next_attempt_at = now + leased_queue.retry_delay(row.attempts)
    return row.status


def counts(session: Session) -> dict[str, int]:
    """How many outbox messages are in each state, for operators and tests."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: number for status, number in rows}
