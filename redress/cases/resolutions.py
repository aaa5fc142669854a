"""Each time a case is resolved: by an agent, by the assistant (the customer said it is
fixed) or by an incident being resolved. The customer's answers afterwards (fixed? a rating,
still working?) are kept on that resolution, so a case resolved twice keeps both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.cases import promises
from redress.db.models import Complaint, Resolution

AGENT = "agent"
ASSISTANT = "assistant"
INCIDENT = "incident"
VIA = (AGENT, ASSISTANT, INCIDENT)


def record(session: Session, complaint: Complaint, via: str, by: str, now: datetime) -> Resolution:
    """Resolves the case and records who resolved it and how. Its open promises are kept:
    resolving it is what they promised."""
    if via not in VIA:
        raise ValueError(f"a case is resolved by one of {', '.join(VIA)}, not {via!r}")
    complaint.status = "resolved"
    complaint.desk_status = None
    complaint.resolved_at = now
    complaint.resolved_by = by[:120]
    complaint.resolved_via = via
    resolution = Resolution(
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        via=via,
        by=by[:120],
        resolved_at=now,
    )
    session.add(resolution)
    promises.keep_all(session, complaint.id, by, now)
    session.flush()
    return resolution


def latest(session: Session, complaint_id: int) -> Resolution | None:
    return session.scalar(
        select(Resolution)
        .where(Resolution.complaint_id == complaint_id)
        .order_by(Resolution.id.desc())
        .limit(1)
    )
