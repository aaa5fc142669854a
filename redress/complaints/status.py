"""Where a complaint stands, for "any update?": the promises recorded for its case (the reply
it was promised when filed, a callback an agent promised) and by when, and what happens when
one has passed. Before its case has promises, the reply time kept in its facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redress.business import Business
from redress.complaints.categories import Category
from redress.db.models import Complaint
from redress.incidents.wording import describe_time

# The fact that keeps the promised reply time (ISO 8601, UTC), set when a complaint is filed.
REPLY_DUE = "reply_due"


def promised(complaint: Complaint) -> datetime | None:
    """The reply time the complaint was promised when it was filed; None before that."""
    due = complaint.facts.get(REPLY_DUE)
    return datetime.fromisoformat(due) if isinstance(due, str) else None


@dataclass(frozen=True)
class Standing:
    text: str
    overdue: bool = False


def standing(
    complaint: Complaint, business: Business, now: datetime, *, desk: bool = True
) -> Standing:
    """One or two plain sentences on where a complaint stands. ``desk``: whether a person
    can be brought in now (an agent desk is connected); without one, a late reply is owned
    and marked on the record, and no person is promised."""
    label = business.category_text(Category(complaint.category)).label.lower()
    named = f"Your complaint {complaint.reference} ({label})"
    if complaint.incident_id:
        return Standing(f"{named} is part of a wider problem we're fixing.")
    if complaint.promises:
        return _by_promises(complaint, business, now, named, label, desk=desk)
    due = promised(complaint)
    if due is None:
        return Standing(f"{named} is open. I need a few details before our team can start.")
    when = describe_time(due, now, business.hours.timezone)
    if due > now:
        next_step = business.category_text(Category(complaint.category)).next_step
        return Standing(f"{named} is with our team, and you'll hear from us by {when}. {next_step}")
    late = f"We promised to reply about {complaint.reference} ({label}) by {when}, and we haven't."
    return _owned(late, business, desk=desk)


def _owned(late: str, business: Business, *, desk: bool) -> Standing:
    """A late promise, owned: sorry, and what happens now."""
    if not desk:
        return Standing(f"{late} I'm sorry. I've marked it as late on your record.", overdue=True)
    return Standing(
        f"{late} I'm sorry. I've asked a person from our {business.brand.team_name} to look "
        "at it now.",
        overdue=True,
    )


def _by_promises(
    complaint: Complaint, business: Business, now: datetime, named: str, label: str, *, desk: bool
) -> Standing:
    """Where a case stands by the promises recorded for it (redress/cases/promises.py): a
    late one is owned first; else the next one due, in the words it was made; else, when
    every promise was kept, that we have been in touch."""
    zone = business.hours.timezone
    owed = sorted(
        (p for p in complaint.promises if p.status in ("open", "missed")),
        key=lambda p: (p.due_at, p.id),
    )
    late = [p for p in owed if p.status == "missed" or p.due_at <= now]
    if late:
        promise = late[0]
        when = describe_time(promise.due_at, now, zone)
        what = "reply" if promise.kind == "reply_by" else promise.what
        said = f"We promised to {what} about {complaint.reference} ({label}) by {when}"
        return _owned(f"{said}, and we haven't.", business, desk=desk)
    if owed:
        promise = owed[0]
        when = describe_time(promise.due_at, now, zone)
        if promise.kind == "reply_by":
            next_step = business.category_text(Category(complaint.category)).next_step
            return Standing(
                f"{named} is with our team, and you'll hear from us by {when}. {next_step}"
            )
        who = "We" if promise.made_by == "assistant" else promise.made_by
        return Standing(f"{named} is with our team. {who} will {promise.what} by {when}.")
    if any(p.status == "kept" for p in complaint.promises):
        return Standing(f"{named} is still open with our team, and they've been in touch.")
    return Standing(f"{named} is with our team.")


def keep_promise(complaint: Complaint, due: datetime) -> None:
    """Records on the complaint the reply time promised when it was filed (its ``reply_by``
    promise, redress/cases/records.py, is the one that is watched)."""
    complaint.facts = {**complaint.facts, REPLY_DUE: due.isoformat()}
