"""Taking a complaint and filing it: the complaint opened (or the words added to the same
problem already open), then, once the details are collected, each one filed with them, tied
to the known incident behind it (or counted towards a possible one), linked to the earlier
complaint it repeats, an offer worked out, and a person asked for when the rules in
business/handoff.yml say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from redress.business import Business
from redress.cases import records as cases
from redress.compensation import in_conversation as compensation
from redress.complaints import records as complaint_records
from redress.complaints import status
from redress.complaints.categories import Category, Severity
from redress.complaints.severity import DISCLOSED, SeverityAssessment, assess_severity
from redress.complaints.since import Since, find_since
from redress.db.models import Complaint, Conversation
from redress.handoff import records as handoff_records
from redress.handoff import reply_times
from redress.identity import records as identities
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents import possible
from redress.incidents.in_conversation import incident_for

SUMMARY_CHARS = 500
VULNERABLE_CUSTOMER = "vulnerable_customer"  # the handoff reason for a vulnerable customer
DETAILS_DISCLOSED = "details_disclosed"  # and for personal details seen by someone else
NOT_SURE = "not sure"


@dataclass(frozen=True)
class Taken:
    """A complaint as first told: its reference, and whether it only added to one open."""

    reference: str
    added: bool
    safety_risk: bool = False
    since: Since | None = None
    # Someone's health or safety depends on the service (see severity.py).
    depends_on_it: bool = False
    # Critical, a vulnerable customer, or details seen by someone else, from the first
    # message: a person was asked for at once.
    person_now: bool = False
    # Grief or hardship (severity.BEREAVEMENT, severity.FINANCIAL_HARDSHIP).
    circumstances: tuple[str, ...] = ()


def take(
    session: Session, conversation: Conversation, category: Category, text: str, at: datetime
) -> Taken:
    """Opens the complaint with its severity and "since when", or, when the same problem is
    already open, adds the words to it (one apology per problem)."""
    same = [
        c
        for c in complaint_records.open_complaints(session, conversation.id)
        if c.category == category.value
    ]
    retold = same and same[-1].summary == text[:SUMMARY_CHARS] and not same[-1].facts.get("more")
    if same and not retold:
        complaint = same[-1]
        more = [*complaint.facts.get("more", []), text[:SUMMARY_CHARS]]
        complaint.facts = {**complaint.facts, "more": more}
        return Taken(complaint.reference, added=True)
    earlier = (
        complaint_records.earlier_complaints(
            session,
            conversation.customer_id,
            category.value,
            at,
            exclude=same[-1].id if retold else None,
        )
        if conversation.customer_id
        else 0
    )
    assessment = assess_severity(category, text, at, earlier_complaints=earlier)
    since = find_since(text, at)
    if retold:
        # The very words that opened it, and nothing since: the same message told again (its
        # first answer was lost to a failure, or the customer sent it twice). It is taken as
        # the first time, not added to itself.
        return _taken(same[-1].reference, assessment, since)
    complaint = complaint_records.open_complaint(
        session,
        conversation,
        category=category.value,
        severity=assessment.severity.value,
        severity_reasons=list(assessment.reasons),
        summary=text[:SUMMARY_CHARS],
        facts={"since": since.phrase} if since else {},
    )
    critical = assessment.severity is Severity.CRITICAL
    if _person_now(assessment):
        # A safety risk, someone who depends on the service, grief or hardship: a person at
        # once, before any details are asked for.
        reason = "critical_severity" if critical else VULNERABLE_CUSTOMER
        if not critical and assessment.disclosed and not assessment.vulnerable:
            reason = DETAILS_DISCLOSED
        handoff_records.request_handoff(session, conversation.id, reason)
    return _taken(complaint.reference, assessment, since)


def _taken(reference: str, assessment: SeverityAssessment, since: Since | None) -> Taken:
    return Taken(
        reference,
        False,
        assessment.safety_risk,
        since,
        depends_on_it=assessment.depends_on_it,
        person_now=_person_now(assessment),
        circumstances=assessment.circumstances,
    )


def _person_now(assessment: SeverityAssessment) -> bool:
    return assessment.severity is Severity.CRITICAL or assessment.vulnerable or assessment.disclosed


def together(taken: list[Taken]) -> Taken:
    """Several complaints opened from one message, as one: the first's reference and what
    any of them calls for (a person, safety or emergency advice)."""
    first = taken[0]
    return Taken(
        first.reference,
        added=all(t.added for t in taken),
        safety_risk=any(t.safety_risk for t in taken),
        since=next((t.since for t in taken if t.since), None),
        depends_on_it=any(t.depends_on_it for t in taken),
        person_now=any(t.person_now for t in taken),
        circumstances=tuple(dict.fromkeys(c for t in taken for c in t.circumstances)),
    )


@dataclass(frozen=True)
class Earlier:
    """The earlier complaint a new one repeats, as the customer is reminded of it."""

    reference: str
    told_at: datetime
    still_open: bool


@dataclass(frozen=True)
class Filed:
    """One complaint filed: what the customer is told about it."""

    reference: str
    category: Category
    severity: Severity
    incident: incidents.Incident | None
    updates_offer: str  # the incident updates' subscription status ("" without an incident)
    # When its reply-by promise is due (UTC): the time recorded, so the time said is the
    # time watched.
    reply_by: datetime
    # The earlier complaint it repeats (a verified customer, the same kind of problem,
    # within repeat_within_days), if any.
    repeat_of: Earlier | None = None


@dataclass
class Filing:
    filed: list[Filed] = field(default_factory=list)
    # Why a person is needed too, most important first, each once.
    person_for: list[str] = field(default_factory=list)
    # A person was already asked for before this filing.
    person_already: bool = False


def file_all(
    session: Session,
    conversation: Conversation,
    facts: dict[str, Any],
    account: str | None,
    business: Business,
    at: datetime,
) -> Filing:
    """Files every open complaint not yet filed with the collected ``facts`` (account,
    postcode, since; ``account`` only when verified)."""
    filing = Filing(
        person_already=handoff_records.open_handoff(session, conversation.id) is not None
    )
    person_for: list[str] = []
    for complaint in complaint_records.open_complaints(session, conversation.id):
        if complaint.facts.get("logged"):
            continue
        _file_details(session, complaint, facts, conversation.customer_id, at)
        reply_by = cases.open_case(session, complaint, business, at).due_at
        status.keep_promise(complaint, reply_by)
        earlier = link_repeat(session, conversation, complaint, business, at)
        category = Category(complaint.category)
        incident = (
            None
            if DISCLOSED in (complaint.severity_reasons or [])
            else incident_for(session, business, category, facts.get("postcode"), account, at)
        )
        offer = _tie_to_incident(session, complaint, incident, business, at)
        severity = Severity(complaint.severity)
        filing.filed.append(
            Filed(complaint.reference, category, severity, incident, offer, reply_by, earlier)
        )
        person_for += _needs_person(complaint, business)
    session.flush()
    compensation.make_offers(session, conversation.id, business.compensation, at)
    if business.handoff.compensation_needs_approval and compensation.awaits_approval(
        session, conversation.id
    ):
        person_for.append(reply_times.NEEDS_APPROVAL)
    filing.person_for = list(dict.fromkeys(person_for))
    for reason in filing.person_for:
        handoff_records.request_handoff(session, conversation.id, reason)
    return filing


def _tie_to_incident(
    session: Session,
    complaint: Complaint,
    incident: incidents.Incident | None,
    business: Business,
    at: datetime,
) -> str:
    """Links the complaint to its incident (returning the updates offer's status), or counts
    it towards a possible incident nobody has declared yet."""
    if incident is not None:
        return incident_notices.link_complaint(session, complaint, incident.id, at).status
    thresholds = business.alerts.possible_incident
    possible.check_possible_incident(
        session,
        complaint,
        possible.complaint_district(complaint),
        at,
        possible.Thresholds(
            complaints=thresholds.complaints,
            within=timedelta(minutes=thresholds.within_minutes),
        ),
    )
    return ""


def link_repeat(
    session: Session,
    conversation: Conversation,
    complaint: Complaint,
    business: Business,
    at: datetime,
) -> Earlier | None:
    """Links a complaint to the earlier one it repeats: the latest the same customer told
    about the same kind of problem within ``repeat_within_days`` (business/handoff.yml), in
    any conversation. Only for a customer who proved the account is theirs: an account
    merely named could be anyone's, and telling a stranger "this has happened again" would
    tell them the account's history."""
    verified = identities.verified_customer(session, conversation.id)
    if verified is None or complaint.customer_id != verified.id:
        return None
    earlier = complaint_records.repeated(
        session, complaint, at, within_days=business.handoff.repeat_within_days
    )
    if earlier is None:
        return None
    complaint.repeat_of_id = earlier.id
    return Earlier(earlier.reference, earlier.created_at, earlier.status == "open")


def link_repeats_on_verifying(
    session: Session, conversation: Conversation, business: Business, at: datetime
) -> Earlier | None:
    """The customer has just proved who they are: complaints already logged in this
    conversation are linked to the earlier ones they repeat, as they would have been had
    the proof come first, and a person is asked for as for any repeat. Returns the first
    earlier complaint found (what the customer is told about), or None."""
    first = None
    for complaint in complaint_records.open_complaints(session, conversation.id):
        if not complaint.facts.get("logged") or complaint.repeat_of_id is not None:
            continue
        complaint.customer_id = complaint.customer_id or conversation.customer_id
        earlier = link_repeat(session, conversation, complaint, business, at)
        if earlier is not None and business.handoff.repeat_within_days:
            handoff_records.request_handoff(session, conversation.id, reply_times.REPEAT)
        first = first or earlier
    return first


def _needs_person(complaint: Complaint, business: Business) -> list[str]:
    """Why this complaint needs a person as well, by the rules in business/handoff.yml: a
    repeat is a complaint linked to the earlier one (link_repeat)."""
    repeats = 1 if complaint.repeat_of_id is not None else 0
    return reply_times.automatic_reasons(business.handoff, Severity(complaint.severity), repeats)


def _file_details(
    session: Session,
    complaint: Complaint,
    facts: dict[str, Any],
    customer_id: int | None,
    at: datetime,
) -> None:
    """Adds the collected facts and re-rates severity now that we know more."""
    category = Category(complaint.category)
    complaint.customer_id = complaint.customer_id or customer_id
    text = " ".join([complaint.summary, *complaint.facts.get("more", [])])
    since = facts.get("since")
    if since and since != NOT_SURE and not find_since(text, at):
        found = find_since(since, at)
        text = f"{text} {found.phrase}" if found else text
    earlier = (
        complaint_records.earlier_complaints(
            session, complaint.customer_id, category.value, at, exclude=complaint.id
        )
        if complaint.customer_id
        else 0
    )
    assessment = assess_severity(category, text, at, earlier_complaints=earlier)
    if assessment.severity.rank > Severity(complaint.severity).rank:
        complaint.severity = assessment.severity.value
        complaint.severity_reasons = list(assessment.reasons)
    complaint.facts = {**complaint.facts, **facts, "logged": True}
