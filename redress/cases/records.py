"""Opening a case when a complaint is logged (its team, and the reply it was promised), and
the case as the records API and the desk show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from redress.business import Business
from redress.complaints.categories import Category, Severity
from redress.db.models import Complaint, Promise

# Promise kinds.
REPLY_BY = "reply_by"
CALLBACK = "callback"
VISIT = "visit"
OTHER = "other"
PROMISE_KINDS = (REPLY_BY, CALLBACK, VISIT, OTHER)
# Promise statuses.
OPEN = "open"
KEPT = "kept"
MISSED = "missed"
CANCELLED = "cancelled"
# What the customer is told the team will do by the reply-by time.
REPLY_WHAT = "reply to you"
ASSISTANT = "assistant"


def reply_due(
    business: Business, team: str | None, severity: Severity, filed_at: datetime
) -> datetime:
    """When a complaint filed at ``filed_at`` is promised a reply: its category's reply time
    for this severity, counted in the team's opening hours."""
    return business.team_hours(team).after_open_time(filed_at, business.reply_within(severity))


def open_case(session: Session, complaint: Complaint, business: Business, at: datetime) -> Promise:
    """Makes a logged complaint a case: owned by its category's team, promised a reply by
    the time the customer is told. Returns the reply-by promise."""
    complaint.team = business.team_key_for(Category(complaint.category))
    due = reply_due(business, complaint.team, Severity(complaint.severity), at)
    promise = Promise(
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        kind=REPLY_BY,
        what=REPLY_WHAT,
        due_at=due,
        status=OPEN,
        made_by=ASSISTANT,
        created_at=at,
    )
    session.add(promise)
    session.flush()
    return promise


def promise_json(promise: Promise) -> dict[str, Any]:
    """A promise as the records API shows it (UTC ISO times)."""
    return {
        "kind": promise.kind,
        "what": promise.what,
        "due_at": promise.due_at.isoformat(),
        "status": promise.status,
        "kept_at": promise.kept_at.isoformat() if promise.kept_at else None,
        # Set when it was missed, and kept even when it was kept late.
        "missed_at": promise.missed_at.isoformat() if promise.missed_at else None,
        "made_by": promise.made_by,
    }
