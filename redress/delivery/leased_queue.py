"""The claiming shared by every table the gateway works through (the outbox of customer
messages, the grants to send to billing): rows with ``status``, ``next_attempt_at``,
``claimed_at`` and ``attempts``.

- ``claim_due`` takes rows that are due, or whose claim went stale (a gateway died while
  sending), and marks them ``sending``. On PostgreSQL the candidates are locked with SKIP
  LOCKED; on every database a row is marked only if it is still due (compare-and-set),
  because SQLite's SELECT locks nothing. So one row is taken by one gateway.
- ``renew_claim`` restarts the lease just before sending, and fails when another gateway took
  the row over after this one's claim lapsed (a slow batch).
- ``retry_delay`` is the backoff after a failed try.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=30)


def _due(model: Any, now: datetime, lease: timedelta) -> Any:
    return or_(
        and_(model.status == PENDING, model.next_attempt_at <= now),
        and_(model.status == SENDING, model.claimed_at < now - lease),
    )


def claim_due(
    session: Session, model: Any, now: datetime, *, limit: int, lease: timedelta
) -> list[int]:
    """Marks up to ``limit`` due rows of ``model`` as being sent, each claim counting as a
    try, and returns their ids, oldest first."""
    due = _due(model, now, lease)
    candidates = session.scalars(
        select(model.id)
        .where(due)
        .order_by(model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row_id in candidates:
        # Only if still due: another gateway (or another run in this one) may have claimed
        # it since.
        taken = session.execute(
            update(model)
            .where(model.id == row_id, due)
            .values(status=SENDING, claimed_at=now, attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            claimed.append(row_id)
    return claimed


def renew_claim(
    session: Session, model: Any, row_id: int, claimed_at: datetime, now: datetime
) -> bool:
    """Restarts the lease from ``now`` if the claim made at ``claimed_at`` still holds. The
    update takes the row (the write lock on SQLite) until the transaction ends, so two
    gateways cannot both get past here with the same row."""
    renewed = session.execute(
        update(model)
        .where(model.id == row_id, model.status == SENDING, model.claimed_at == claimed_at)
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return renewed.rowcount == 1


def retry_delay(attempts: int) -> timedelta:
    """30 seconds after the first failure, doubling, at most 30 minutes."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
