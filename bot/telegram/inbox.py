"""The Telegram inbox: every update written down before Telegram is told it arrived, and marked
answered once it has been dealt with, so an update is never lost and never answered twice.

Telegram takes a webhook's 200, or the next ``getUpdates`` offset, as "delivered" and never
sends that update again. So the row is committed first; the update is acknowledged after. An
update can then be in one of three places when a gateway stops:

- written down, never answered: answered when Telegram delivers it again, or by a running
  gateway once it has waited ``RESUME_AFTER`` (``waiting``);
- answered: a redelivery is skipped;
- not written down: not acknowledged either, so Telegram delivers it again.

Functions take a session from ``unit_of_work``, so the caller decides what one transaction is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redress.clock import utcnow
from redress.conversations.records import add_once
from redress.db.models import TelegramUpdate

RECEIVED, ANSWERED = "received", "answered"
# What take_in found.
NEW, AGAIN, SEEN = "new", "again", "seen"
# An update that failed this many times is left for a person (it is in the log each time).
MAX_ATTEMPTS = 3
# Another gateway may still be answering an update younger than this (its chat's earlier
# messages first, then the assistant, then Telegram's flood control).
RESUME_AFTER = timedelta(minutes=2)
# Updates left behind for longer are too old to answer now ("sorry" a day late helps nobody);
# they stay in the records as received.
RESUME_WITHIN = timedelta(days=1)


@dataclass(frozen=True)
class Waiting:
    """An update a gateway took in and never answered."""

    update_id: int
    payload: dict[str, Any]
    attempts: int


def take_in(session: Session, update_id: int, payload: dict[str, Any]) -> str:
    """Writes an update down. ``NEW``: answer it. ``AGAIN``: it was written down before and
    its gateway stopped before answering it, so answer it now. ``SEEN``: skip it; it has been
    answered (or tried ``MAX_ATTEMPTS`` times), or another gateway is writing it down at
    this very moment and answers it."""
    row = session.get(TelegramUpdate, update_id)
    if row is None:
        fresh = TelegramUpdate(update_id=update_id, status=RECEIVED, payload=payload)
        return NEW if add_once(session, fresh) else SEEN
    if row.status == ANSWERED or row.attempts >= MAX_ATTEMPTS:
        return SEEN
    row.attempts += 1
    return AGAIN


def mark_answered(session: Session, update_id: int) -> None:
    """The update has been dealt with; its content is no longer kept here."""
    session.execute(
        update(TelegramUpdate)
        .where(TelegramUpdate.update_id == update_id)
        .values(status=ANSWERED, answered_at=utcnow(), payload=None)
    )


def waiting(session: Session, now: datetime, limit: int = 100) -> list[Waiting]:
    """Updates written down between a day and two minutes ago and never answered, oldest
    first."""
    rows = session.scalars(
        select(TelegramUpdate)
        .where(
            TelegramUpdate.status == RECEIVED,
            TelegramUpdate.attempts < MAX_ATTEMPTS,
            TelegramUpdate.payload.is_not(None),
            TelegramUpdate.received_at < now - RESUME_AFTER,
            TelegramUpdate.received_at > now - RESUME_WITHIN,
        )
        .order_by(TelegramUpdate.update_id)
        .limit(limit)
    )
    return [Waiting(r.update_id, r.payload or {}, r.attempts) for r in rows]


def claim(session: Session, left: Waiting) -> bool:
    """Takes a waiting update on; only one of several gateways trying at once succeeds."""
    taken = session.execute(
        update(TelegramUpdate)
        .where(
            TelegramUpdate.update_id == left.update_id,
            TelegramUpdate.status == RECEIVED,
            TelegramUpdate.attempts == left.attempts,
        )
        .values(attempts=left.attempts + 1)
    )
    return taken.rowcount == 1
