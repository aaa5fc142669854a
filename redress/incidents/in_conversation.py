"""Incidents as a conversation meets them: the known incident behind a complaint, whether
"is it working now?" is the question being answered, a complaint that says the fix did not
work, and "any update?" told with each incident's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from redress.business import Business
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import Complaint, IncidentSubscription
from redress.handoff import records as handoff_records
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents import records as incidents_records
from redress.incidents import wording

# Slot values that mean the customer did not give it.
UNKNOWN_VALUES = {None, "", "unverified", "not sure"}
FIXED_NOW = (
    "We've fixed it now. If it's still not right for you, tell me and I'll get a person to "
    "look at it."
)


def known(value: Any) -> str | None:
    return None if value in UNKNOWN_VALUES else str(value)


def incident_for(
    session: Session,
    business: Business,
    category: Category,
    postcode: str | None,
    account: str | None,
    at: datetime,
) -> incidents.Incident | None:
    """The active incident that explains a complaint of this category from this customer,
    the most recently started first. Only what the customer gave us is used: an unknown
    postcode or account matches nothing limited to areas or accounts."""
    if not business.category_text(category).wider_problem:
        return None
    found = incidents.matching_incidents(
        incidents_records.active_incidents(session),
        category,
        known(postcode),
        at,
        business.regions,
        account=known(account),
    )
    return found[0] if found else None


def asked_if_fixed(session: Session, conversation_id: str) -> IncidentSubscription | None:
    """The fix check to answer: "is it working now?" is the assistant's latest message."""
    check = incident_notices.open_fix_check(session, conversation_id)
    latest = conversations.last_bot_details(session, conversation_id).get("kind")
    return check if check is not None and latest == incident_notices.RESOLVED else None


def answer_fix_check(
    session: Session,
    check: IncidentSubscription,
    fixed: bool,
    at: datetime,
    business: Business | None = None,
) -> None:
    """The customer's answer to "is it working now?"; a no reopens the cases the incident
    resolved and brings a person to look."""
    incident_notices.answer_fix_check(session, check, fixed, at, business)
    if not fixed:
        handoff_records.request_handoff(session, check.conversation_id, "still_broken_after_fix")


def still_broken_after_fix(
    session: Session,
    conversation_id: str,
    category: Category,
    at: datetime,
    business: Business | None = None,
) -> bool:
    """A complaint that answers "is it working now?" after a fix ("still no internet"):
    kept as a no to the fix, and a person is asked to look. Returns whether it was that."""
    check = asked_if_fixed(session, conversation_id)
    if check is None:
        return False
    if category.value not in incidents_records.get_row(session, check.incident_id).categories:
        return False
    answer_fix_check(session, check, False, at, business)
    return True


def status_lines(
    session: Session, complaints: list[Complaint], at: datetime, zone: str
) -> list[str]:
    """For "any update?": each known incident behind the customer's complaints, with what
    has happened so far, in plain words."""
    lines = []
    for incident_id in dict.fromkeys(c.incident_id for c in complaints if c.incident_id):
        row = incidents_records.get_row(session, incident_id)
        incident = incidents_records.to_domain(row)
        history = wording.history_summary(
            [incidents_records.update_to_domain(u) for u in row.updates], at, zone
        )
        latest = _latest(incident, at, zone) if incident.active else FIXED_NOW
        began = f"It began at {wording.describe_time(incident.start, at, zone)}."
        lines.append(f"{latest}\nWhat has happened so far:\n{began}\n{history}")
    return lines


def _latest(incident: incidents.Incident, at: datetime, zone: str) -> str:
    now_text = wording.explain(incident, at, zone)
    parts = (
        incident.what_is_wrong,
        now_text.what_we_are_doing,
        now_text.when_fixed,
        now_text.next_update,
    )
    return " ".join(part for part in parts if part)
