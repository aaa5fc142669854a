"""The compensation ledger: offers, grants and their fulfilment, enforced by the database.

- One offer per complaint (a unique key), worked out by the policy from the records.
- One grant per offer (a unique key): a retried request, a double click, two tabs or two
  channels at once can never grant twice.
- Caps are checked again inside the granting transaction, with the customer's row (and the
  incident's) locked ``FOR UPDATE`` on PostgreSQL, so grants for one customer happen one at
  a time and can never add up to more than the limits, across conversations and channels.
- One remedy per problem: a complaint about a problem already compensated gets no offer (a
  row with status ``already_compensated`` says why), and an offer made before the same
  problem was compensated elsewhere is withdrawn when granting, under the same lock.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from redress.compensation.policy import (
    NON_MONEY,
    Decision,
    EarlierGrant,
    Limits,
    Policy,
    Situation,
    Spent,
    decide,
    same_problem,
    show_money,
)
from redress.complaints.categories import Severity
from redress.complaints.since import find_since
from redress.conversations import records as conversations
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Customer,
    FulfilmentDelivery,
    Incident,
)

BY_POLICY = "assistant (within policy)"
OFFERED = "offered"
PENDING_APPROVAL = "pending_approval"
GRANTED = "granted"
DECLINED = "declined"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
# No offer: the same problem was already compensated. Recorded so operators see why.
ALREADY_COMPENSATED = "already_compensated"
NOTHING = "nothing"  # the remedy of a complaint that was offered nothing
ONE_PER_PROBLEM = "one remedy per problem"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class NotGrantable(ValueError):
    """The offer cannot be granted (any more); ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AlreadyCompensated(NotGrantable):
    """The offer's problem was compensated meanwhile (another conversation's offer for it
    was granted first): ``earlier`` is that grant."""

    def __init__(self, earlier: EarlierGrant) -> None:
        super().__init__(f"the same problem was already compensated: {earlier.describe()}")
        self.earlier = earlier


def _reference(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def days_of_problem(session: Session, complaint: Complaint, at: datetime) -> float | None:
    """How long the problem has lasted: since the incident began when one explains it,
    else from what the customer said ("since Monday"), counted to now."""
    if complaint.incident_id is not None:
        incident = session.get(Incident, complaint.incident_id)
        if incident is not None:
            return max((at - incident.started_at) / timedelta(days=1), 0.0)
    phrase = complaint.facts.get("since")
    if isinstance(phrase, str) and (since := find_since(phrase, complaint.created_at)):
        return since.days + (at - complaint.created_at) / timedelta(days=1)
    return None


def spent(
    session: Session, customer_id: int, incident_id: str | None, at: datetime, window_days: int
) -> Spent:
    """What was granted to this customer in the window, and on the incident in all."""
    since = at - timedelta(days=window_days)
    money, count = session.execute(
        select(func.coalesce(func.sum(CompensationGrant.amount_pence), 0), func.count()).where(
            CompensationGrant.customer_id == customer_id, CompensationGrant.created_at >= since
        )
    ).one()
    on_incident = 0
    if incident_id is not None:
        on_incident = session.scalar(
            select(func.coalesce(func.sum(CompensationGrant.amount_pence), 0)).where(
                CompensationGrant.incident_id == incident_id
            )
        )
    return Spent(
        customer_pence=int(money), customer_count=int(count), incident_pence=int(on_incident)
    )


def earlier_grants(
    session: Session, customer_id: int, incident_id: str | None, since: datetime, at: datetime
) -> list[EarlierGrant]:
    """The customer's grants up to ``at`` that could be for the same problem: those since
    ``since``, and those for the incident, each with the complaint it was given for."""
    recent = or_(
        CompensationGrant.created_at >= since,
        *([CompensationGrant.incident_id == incident_id] if incident_id is not None else []),
    )
    rows = session.execute(
        select(CompensationGrant, Complaint.category, Complaint.reference)
        .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
        .join(Complaint, Complaint.id == CompensationOffer.complaint_id)
        .where(
            CompensationGrant.customer_id == customer_id,
            CompensationGrant.created_at <= at,
            recent,
        )
        .order_by(CompensationGrant.created_at, CompensationGrant.id)
    ).tuples()
    return [
        EarlierGrant(
            reference=grant.reference,
            category=category,
            incident_id=grant.incident_id,
            remedy=grant.remedy,
            amount_pence=grant.amount_pence,
            granted_at=grant.created_at,
            complaint=complaint,
        )
        for grant, category, complaint in rows
    ]


def already_compensated(
    session: Session,
    customer_id: int,
    category: str,
    incident_id: str | None,
    limits: Limits,
    at: datetime,
) -> EarlierGrant | None:
    """The grant that already put this problem right for the customer, if one did."""
    since = at - timedelta(days=limits.same_problem_within_days)
    found = earlier_grants(session, customer_id, incident_id, since, at)
    return same_problem(limits, category, incident_id, at, found)


def compensated_before(
    session: Session, offer: CompensationOffer, policy: Policy
) -> EarlierGrant | None:
    """For a complaint offered nothing because its problem was already compensated: the
    grant that did it, as it stood when that was decided."""
    complaint = session.get(Complaint, offer.complaint_id)
    if complaint is None or offer.status != ALREADY_COMPENSATED:
        return None
    return already_compensated(
        session,
        offer.customer_id,
        complaint.category,
        offer.incident_id,
        policy.limits,
        offer.created_at,
    )


def offer_for(session: Session, complaint_id: int) -> CompensationOffer | None:
    return session.scalar(
        select(CompensationOffer).where(CompensationOffer.complaint_id == complaint_id)
    )


def make_offer(
    session: Session, complaint: Complaint, policy: Policy, at: datetime
) -> tuple[CompensationOffer | None, str]:
    """The offer for this complaint (made once; asking again returns the same one) and the
    policy's explanation. No verified account, no rule, no room within the caps, or the same
    problem already compensated: none (the last is recorded, with its explanation, as a row
    with status ``already_compensated``, so no later request makes an offer for it)."""
    if (existing := offer_for(session, complaint.id)) is not None:
        return _offered(existing)
    customer = session.get(Customer, complaint.customer_id) if complaint.customer_id else None
    situation = Situation(
        category=complaint.category,
        severity=Severity(complaint.severity),
        verified=customer is not None,
        monthly_fee_pence=customer.monthly_fee_pence if customer else 0,
        incident_id=complaint.incident_id,
        days=days_of_problem(session, complaint, at),
    )
    if customer is None:
        return None, decide(policy, situation, Spent()).explain()
    decision = decide(
        policy,
        situation,
        spent(session, customer.id, complaint.incident_id, at, policy.limits.window_days),
        already_compensated(
            session,
            customer.id,
            complaint.category,
            complaint.incident_id,
            policy.limits,
            at,
        ),
    )
    if decision.already is not None and decision.rule is not None:
        return _offered(_record(session, complaint, _offered_nothing(complaint, decision, at)))
    if not decision.offer or decision.remedy is None or decision.rule is None:
        return None, decision.explain()
    offer = CompensationOffer(
        reference=_reference("OF"),
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        customer_id=customer.id,
        incident_id=complaint.incident_id,
        rule=decision.rule,
        remedy=decision.remedy,
        amount_pence=decision.amount_pence,
        status=PENDING_APPROVAL if decision.needs_approval else OFFERED,
        explanation=decision.explain(),
        created_at=at,
    )
    return _offered(_record(session, complaint, offer))


def _offered_nothing(complaint: Complaint, decision: Decision, at: datetime) -> CompensationOffer:
    """The row that says why a complaint was offered nothing: its problem was compensated."""
    assert complaint.customer_id is not None and decision.rule is not None
    return CompensationOffer(
        reference=_reference("OF"),
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        customer_id=complaint.customer_id,
        incident_id=complaint.incident_id,
        rule=decision.rule,
        remedy=NOTHING,
        amount_pence=0,
        status=ALREADY_COMPENSATED,
        explanation=decision.explain()[:2000],
        decided_at=at,
        decided_by=ONE_PER_PROBLEM,
        created_at=at,
    )


def _record(session: Session, complaint: Complaint, offer: CompensationOffer) -> CompensationOffer:
    if conversations.add_once(session, offer):
        return offer
    # Made by another request for the same complaint a moment ago: that one.
    existing = offer_for(session, complaint.id)
    assert existing is not None
    return existing


def _offered(offer: CompensationOffer) -> tuple[CompensationOffer | None, str]:
    """An offer and its explanation; None for a complaint offered nothing."""
    return (None if offer.status == ALREADY_COMPENSATED else offer), offer.explanation


def open_offer(session: Session, conversation_id: str) -> CompensationOffer | None:
    """The latest offer in this conversation still waiting for the customer's answer."""
    return session.scalar(
        select(CompensationOffer)
        .where(
            CompensationOffer.conversation_id == conversation_id,
            CompensationOffer.status == OFFERED,
        )
        .order_by(CompensationOffer.id.desc())
        .limit(1)
    )


def latest_offer(session: Session, conversation_id: str) -> CompensationOffer | None:
    """The latest offer in this conversation, whatever became of it (never a complaint that
    was offered nothing)."""
    return session.scalar(
        select(CompensationOffer)
        .where(
            CompensationOffer.conversation_id == conversation_id,
            CompensationOffer.status != ALREADY_COMPENSATED,
        )
        .order_by(CompensationOffer.id.desc())
        .limit(1)
    )


def latest_offered_nothing(session: Session, conversation_id: str) -> CompensationOffer | None:
    """The latest complaint in this conversation offered nothing because its problem was
    already compensated."""
    return session.scalar(
        select(CompensationOffer)
        .where(
            CompensationOffer.conversation_id == conversation_id,
            CompensationOffer.status == ALREADY_COMPENSATED,
        )
        .order_by(CompensationOffer.id.desc())
        .limit(1)
    )


def grant(
    session: Session,
    offer_id: int,
    policy: Policy,
    at: datetime,
    *,
    approved_by: str = BY_POLICY,
    fulfil: bool = False,
) -> CompensationGrant:
    """Grants the offer once. Granting again returns the same grant. Refuses (NotGrantable)
    when the offer was declined, still needs a person, or no longer fits the limits; and
    (AlreadyCompensated) when its problem was compensated meanwhile."""
    # populate_existing: the caller may have loaded the offer before another request
    # granted it; the locked row, not the session's stale copy, decides.
    offer = session.scalar(
        select(CompensationOffer)
        .where(CompensationOffer.id == offer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if offer is None:
        raise NotGrantable("there is no such offer")
    if offer.status == GRANTED:
        existing = grant_of(session, offer.id)
        assert existing is not None
        return existing
    needs_person = offer.status == PENDING_APPROVAL and approved_by == BY_POLICY
    if needs_person or offer.status not in {OFFERED, PENDING_APPROVAL}:
        raise NotGrantable(
            "a person must approve it first" if needs_person else f"the offer is {offer.status}"
        )
    _one_at_a_time(session, offer)
    _check_same_problem(session, offer, policy, at)
    _check_limits(session, offer, policy, at)
    record = CompensationGrant(
        reference=_reference("CR"),
        offer_id=offer.id,
        customer_id=offer.customer_id,
        incident_id=offer.incident_id,
        remedy=offer.remedy,
        amount_pence=offer.amount_pence,
        approved_by=approved_by[:120],
        created_at=at,
    )
    session.add(record)
    session.flush()  # the unique offer_id refuses a second grant here, if one slipped past
    offer.status, offer.decided_at, offer.decided_by = GRANTED, at, approved_by[:120]
    if fulfil:
        _queue_for_billing(session, record, at)
    return record


def _one_at_a_time(session: Session, offer: CompensationOffer) -> None:
    """Grants for one customer (and one incident) happen one at a time: their rows are
    locked until the granting transaction ends, so the limits are checked on what it sees."""
    session.scalar(select(Customer.id).where(Customer.id == offer.customer_id).with_for_update())
    if offer.incident_id is not None:
        session.scalar(
            select(Incident.id).where(Incident.id == offer.incident_id).with_for_update()
        )


def _queue_for_billing(session: Session, record: CompensationGrant, at: datetime) -> None:
    """The grant's delivery to the billing webhook, in the granting transaction."""
    session.add(
        FulfilmentDelivery(
            grant_id=record.id,
            payload=grant_payload(session, record),
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
    )
    session.flush()


def grant_of(session: Session, offer_id: int) -> CompensationGrant | None:
    return session.scalar(select(CompensationGrant).where(CompensationGrant.offer_id == offer_id))


def _check_same_problem(
    session: Session, offer: CompensationOffer, policy: Policy, at: datetime
) -> None:
    """One remedy per problem, whichever conversation's offer is granted first: the others
    are withdrawn. Runs under the customer's lock, so two at once see each other's grant."""
    complaint = session.get(Complaint, offer.complaint_id)
    if complaint is None:
        return
    earlier = already_compensated(
        session, offer.customer_id, complaint.category, offer.incident_id, policy.limits, at
    )
    if earlier is not None:
        refusal = AlreadyCompensated(earlier)
        _withdraw(offer, at, refusal.reason)
        raise refusal


def _withdraw(offer: CompensationOffer, at: datetime, problem: str) -> None:
    offer.status, offer.decided_at, offer.decided_by = WITHDRAWN, at, "limits"
    offer.explanation = f"{offer.explanation}; withdrawn at grant: {problem}"[:2000]


def _check_limits(session: Session, offer: CompensationOffer, policy: Policy, at: datetime) -> None:
    limits = policy.limits
    used = spent(session, offer.customer_id, offer.incident_id, at, limits.window_days)
    problem = None
    if used.customer_count >= limits.per_customer_count:
        problem = (
            f"the customer already had {used.customer_count} remedies in {limits.window_days} days"
        )
    elif offer.remedy not in NON_MONEY:
        if offer.amount_pence > limits.per_offer_pence:
            problem = f"{show_money(offer.amount_pence)} is over the per-offer limit"
        elif used.customer_pence + offer.amount_pence > limits.per_customer_pence:
            problem = "it would take the customer over their limit"
        elif offer.incident_id is not None and (
            used.incident_pence + offer.amount_pence > limits.budget_for(offer.incident_id)
        ):
            problem = f"it would take {offer.incident_id} over its budget"
    if problem is not None:
        _withdraw(offer, at, problem)
        raise NotGrantable(problem)


def decline(session: Session, offer: CompensationOffer, at: datetime) -> None:
    if offer.status in {OFFERED, PENDING_APPROVAL}:
        offer.status, offer.decided_at, offer.decided_by = DECLINED, at, "customer"


def request_review(session: Session, offer: CompensationOffer, at: datetime) -> None:
    """The customer asked for more or for something else: a person is to look at it."""
    offer.review_requested_at = offer.review_requested_at or at


def reject(session: Session, offer_id: int, by: str, at: datetime) -> CompensationOffer:
    offer = session.get(CompensationOffer, offer_id)
    if offer is None:
        raise NotGrantable("there is no such offer")
    if offer.status not in {OFFERED, PENDING_APPROVAL}:
        raise NotGrantable(f"the offer is {offer.status}")
    offer.status, offer.decided_at, offer.decided_by = REJECTED, at, by[:120]
    return offer


def grant_payload(session: Session, record: CompensationGrant) -> dict[str, Any]:
    """What the billing system receives for a grant."""
    customer = session.get(Customer, record.customer_id)
    offer = session.get(CompensationOffer, record.offer_id)
    assert customer is not None and offer is not None
    complaint = session.get(Complaint, offer.complaint_id)
    return {
        "grant": record.reference,
        "account_number": customer.account_number,
        "remedy": record.remedy,
        "amount_pence": record.amount_pence,
        "currency": "GBP",
        "complaint": complaint.reference if complaint else None,
        "incident": record.incident_id,
        "rule": offer.rule,
        "approved_by": record.approved_by,
        "granted_at": record.created_at.isoformat(),
    }
