"""Promises made to customers about their case, and keeping them: each is recorded with its
due time when made, and kept when an agent replies, resolves the case or marks it done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.cases.records import KEPT, OPEN, PROMISE_KINDS
from redress.db.models import Complaint, Promise


def make(
    session: Session,
    complaint: Complaint,
    kind: str,
    what: str,
    due_at: datetime,
    made_by: str,
    now: datetime,
) -> Promise:
    """Records a promise made about this case (an agent's "I'll call you tomorrow at 10")."""
    if kind not in PROMISE_KINDS:
        raise ValueError(f"a promise is one of {', '.join(PROMISE_KINDS)}, not {kind!r}")
    promise = Promise(
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        kind=kind,
        what=what[:300],
        due_at=due_at,
        status=OPEN,
        made_by=made_by[:120],
        created_at=now,
    )
    session.add(promise)
    session.flush()
    return promise


def open_promises(session: Session, complaint_id: int) -> list[Promise]:
    return list(
        session.scalars(
            select(Promise)
            .where(Promise.complaint_id == complaint_id, Promise.status == OPEN)
            .order_by(Promise.due_at, Promise.id)
        )
    )


def keep(promise: Promise, by: str, now: datetime) -> None:
    """Marks one promise kept (one that was missed is kept late: ``missed_at`` stays)."""
    promise.status = KEPT
    promise.kept_at = now
    promise.kept_by = by[:120]


def keep_all(
    session: Session,
    complaint_id: int,
    by: str,
    now: datetime,
    *,
    kinds: tuple[str, ...] | None = None,
) -> list[Promise]:
    """Keeps every open promise of a case (of these kinds, if given): the case was resolved,
    or an agent replied to the customer. Returns the promises kept."""
    kept = [p for p in open_promises(session, complaint_id) if kinds is None or p.kind in kinds]
    for promise in kept:
        keep(promise, by, now)
    return kept
