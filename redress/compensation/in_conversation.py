"""Compensation as a conversation meets it: an offer worked out for each logged complaint,
the next offer not yet put to the customer, their yes or no to it (a yes grants it exactly
once), and a request for more, which goes to a person. A problem already compensated is
offered nothing; the customer is told which grant put it right. Amounts come only from the
policy and the records: nothing a customer types changes what is offered or granted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redress.compensation import ledger
from redress.compensation.policy import EarlierGrant, Policy
from redress.complaints import records as complaint_records
from redress.db.models import CompensationGrant, CompensationOffer
from redress.handoff import records as handoff_records


def make_offers(
    session: Session, conversation_id: str, policy: Policy | None, at: datetime
) -> None:
    """Works out the offer for each logged complaint in the conversation that has none."""
    if policy is None:
        return
    for complaint in complaint_records.open_complaints(session, conversation_id):
        if complaint.facts.get("logged") and complaint.customer_id is not None:
            ledger.make_offer(session, complaint, policy, at)


def awaits_approval(session: Session, conversation_id: str) -> bool:
    """Whether the conversation's latest offer waits for a person to approve it."""
    offer = ledger.latest_offer(session, conversation_id)
    return offer is not None and offer.status == ledger.PENDING_APPROVAL


def unshown_offer(
    session: Session, conversation_id: str, shown: str | None
) -> CompensationOffer | None:
    """The latest offer, if it is still open and not the one already put (``shown``)."""
    offer = ledger.latest_offer(session, conversation_id)
    if offer is None or offer.reference == shown:
        return None
    if offer.status not in {ledger.OFFERED, ledger.PENDING_APPROVAL}:
        return None
    return offer


@dataclass(frozen=True)
class AlreadyPutRight:
    """A complaint offered nothing because its problem was already compensated: the row that
    records it (``reference``, so it is told once) and the grant that put it right."""

    reference: str
    earlier: EarlierGrant


def unshown_already_put_right(
    session: Session, conversation_id: str, shown: str | None, policy: Policy | None
) -> AlreadyPutRight | None:
    """When the conversation has no offer, only a complaint offered nothing because its
    problem was already compensated, and the customer was not told yet: which grant did it."""
    if policy is None or ledger.latest_offer(session, conversation_id) is not None:
        return None
    row = ledger.latest_offered_nothing(session, conversation_id)
    if row is None or row.reference == shown:
        return None
    earlier = ledger.compensated_before(session, row, policy)
    return AlreadyPutRight(row.reference, earlier) if earlier is not None else None


@dataclass(frozen=True)
class Granted:
    reference: str
    remedy: str
    amount_pence: int


def accept_or_decline(
    session: Session,
    conversation_id: str,
    accepted: bool,
    policy: Policy | None,
    at: datetime,
    *,
    fulfil: bool,
) -> Granted | EarlierGrant | None:
    """The customer's yes or no to the offer they were shown. A yes grants it (once, however
    many tabs say yes at the same moment) and returns the grant; when its problem was
    compensated meanwhile (another conversation's offer for it granted first) the offer is
    withdrawn and that grant returned; when it can no longer be granted otherwise (decided
    meanwhile, or no longer within the limits) a person is asked to follow up and None is
    returned. A no declines it and returns None."""
    offer = ledger.open_offer(session, conversation_id)
    if offer is None or policy is None:
        # Decided meanwhile (a person approved or turned it down): a person follows up.
        if accepted:
            handoff_records.request_handoff(session, conversation_id, "compensation_review")
        return None
    if not accepted:
        ledger.decline(session, offer, at)
        return None
    granted = _grant_once(session, offer.id, policy, at, fulfil=fulfil)
    if isinstance(granted, ledger.AlreadyCompensated):
        return granted.earlier
    if granted is None:
        handoff_records.request_handoff(session, conversation_id, "compensation_review")
        return None
    return Granted(granted.reference, granted.remedy, granted.amount_pence)


def _grant_once(
    session: Session, offer_id: int, policy: Policy, at: datetime, *, fulfil: bool
) -> CompensationGrant | ledger.AlreadyCompensated | None:
    try:
        with session.begin_nested():
            try:
                return ledger.grant(session, offer_id, policy, at, fulfil=fulfil)
            except ledger.AlreadyCompensated as refusal:
                # Kept as withdrawn: the same problem was compensated in another conversation.
                return refusal
            except ledger.NotGrantable:
                # Kept as withdrawn (no longer within the limits); a person follows up.
                return None
    except IntegrityError:
        # The same offer granted a moment ago by another tab or channel: that grant.
        return ledger.grant_of(session, offer_id)


@dataclass(frozen=True)
class AskedForMore:
    """Where a conversation stands when the customer asks what we will do about it."""

    complaints: bool  # any complaint open
    logged: bool  # any of them with its details filed
    fresh: bool  # an offer not yet put to the customer
    status: str | None = None  # the latest offer's, when there is one
    remedy: str | None = None
    amount_pence: int = 0
    # No offer because the problem was already compensated: the grant that did it.
    already: EarlierGrant | None = None


def asked_for_more(
    session: Session, conversation_id: str, shown: str | None, policy: Policy | None, at: datetime
) -> AskedForMore:
    """ "What are you going to do about it?": works out an offer if none was made yet; when
    the customer has already seen what the policy allows (or there is nothing to offer),
    the offer goes to a person for review."""
    complaints = complaint_records.open_complaints(session, conversation_id)
    offer = ledger.latest_offer(session, conversation_id)
    if offer is None and complaints:
        make_offers(session, conversation_id, policy, at)
        offer = ledger.latest_offer(session, conversation_id)
    fresh = offer is not None and offer.reference != shown
    logged = any(c.facts.get("logged") for c in complaints)
    # With no offer, a complaint offered nothing because its problem was compensated before.
    nothing = ledger.latest_offered_nothing(session, conversation_id) if offer is None else None
    if logged and (offer is None or not fresh):
        if (reviewed := offer or nothing) is not None:
            ledger.request_review(session, reviewed, at)
        handoff_records.request_handoff(session, conversation_id, "compensation_review")
    if offer is None:
        already = None
        if nothing is not None and policy is not None:
            already = ledger.compensated_before(session, nothing, policy)
        return AskedForMore(bool(complaints), logged, fresh, already=already)
    return AskedForMore(
        bool(complaints), logged, fresh, offer.status, offer.remedy, offer.amount_pence
    )
