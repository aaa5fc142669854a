"""What operators do with compensation, for the admin API (``bot/api/compensation.py``) and the
command line (``python -m redress compensation ...``): list offers and grants, approve or
reject offers waiting for a person (what was spent is in ``spend.py``).

Approving grants through the ledger (``ledger.grant``), so every cap is checked
again in the granting transaction and an offer is granted once however often it is approved.
The customer's message is written in that same transaction: the API records it in the
conversation and the gateway delivers it at once; the command line puts it in the outbox, and
the running gateway delivers it on the customer's channel (web chat or Telegram) within
``REDRESS_OUTBOX_POLL_SECONDS``. Either way it is recorded once.

Money is integer pence, always with a display string (``"amount": "£30"``) next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress import audit
from redress.compensation import ledger
from redress.compensation.ledger import (
    ALREADY_COMPENSATED,
    DECLINED,
    GRANTED,
    OFFERED,
    PENDING_APPROVAL,
    REJECTED,
    WITHDRAWN,
    NotGrantable,
)
from redress.compensation.policy import Policy, granted_words, show_money
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.conversations import views as record_views
from redress.conversations.views import iso_time
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    FulfilmentDelivery,
    Message,
)
from redress.handoff import records as handoff_records
from redress.incidents import notices as incident_notices

STATUSES = (
    OFFERED,
    PENDING_APPROVAL,
    GRANTED,
    DECLINED,
    REJECTED,
    WITHDRAWN,
    ALREADY_COMPENSATED,
)
# What ``list_offers`` can show: one status, every offer, or those a customer asked a person
# to look at again.
OFFER_FILTERS = (*STATUSES, "review_requested", "all")
APPROVED = "compensation_approved"
REJECTED_NOTICE = "compensation_rejected"
MAX_NAME = 120
MAX_REASON = 500
OFFER_REFERENCE = re.compile(r"^OF-[A-Z0-9]{6}$")


class UnknownOffer(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"there is no offer {reference!r}")
        self.reference = reference


class OverApprovalLimit(PermissionError):
    """The actor may not decide this offer: they approve nothing (``limit_pence`` None), or
    less than it is for. Raised before anything changes."""

    def __init__(self, reference: str, amount_pence: int, limit_pence: int | None) -> None:
        if limit_pence is None:
            why = "they may not approve or reject offers"
        else:
            why = f"it is for {show_money(amount_pence)}, above their {show_money(limit_pence)}"
        super().__init__(f"{reference}: {why}")
        self.reference = reference
        self.amount_pence = amount_pence
        self.limit_pence = limit_pence


class UnknownAccount(LookupError):
    def __init__(self, account: str) -> None:
        super().__init__(f"there is no customer with account number {account!r}")
        self.account = account


def money(pence: int, name: str = "amount") -> dict[str, Any]:
    """``{"amount_pence": 3000, "amount": "£30"}``."""
    return {f"{name}_pence": pence, name: show_money(pence)}


# What the customer is told ------------------------------------------------------------------


def _what_we_would_do(remedy: str, pence: int) -> str:
    """What was offered, to follow "we can't"."""
    amount = show_money(pence)
    return {
        "account_credit": f"add {amount} credit to your account",
        "refund": f"refund {amount} to you",
        "voucher": f"send you a {amount} voucher",
        "free_month": "give you a free month",
        "priority_repair": "move your repair to the front of the queue",
    }.get(remedy, "do what I mentioned")


def approved_text(remedy: str, pence: int, grant_reference: str) -> str:
    return (
        f"Good news: a person on our team approved it. I've {granted_words(remedy, pence)}. "
        f"Your reference is {grant_reference}."
    )


def rejected_text(remedy: str, pence: int) -> str:
    return (
        "A person on our team has looked at what we can do. I'm sorry, but we can't "
        f"{_what_we_would_do(remedy, pence)} this time. Someone from our team will be in touch "
        "to talk it through with you."
    )


# Offers -------------------------------------------------------------------------------------


def find_offer(session: Session, reference: str, *, lock: bool = False) -> CompensationOffer:
    """The offer with this reference (however typed); ``lock`` takes its row until the
    transaction ends, so two people deciding at once go one after the other."""
    wanted = reference.strip().upper()
    offer = None
    if OFFER_REFERENCE.match(wanted):
        query = select(CompensationOffer).where(CompensationOffer.reference == wanted)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        offer = session.scalar(query)
    if offer is None:
        raise UnknownOffer(reference)
    return offer


def _offer_view(
    offer: CompensationOffer,
    customer: Customer,
    complaint: Complaint | None,
    grant: CompensationGrant | None,
) -> dict[str, Any]:
    return {
        **record_views.offer_json(offer),
        **money(offer.amount_pence),
        "account_number": customer.account_number,
        "customer_name": customer.name,
        "complaint": complaint.reference if complaint else None,
        "conversation_id": offer.conversation_id,
        "decided_at": iso_time(offer.decided_at),
        "grant": grant.reference if grant else None,
    }


def list_offers(
    session: Session, which: str = PENDING_APPROVAL, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Offers with the customer, complaint and conversation they belong to, oldest first
    (the order to work through them). ``which``: one of ``OFFER_FILTERS``."""
    if which not in OFFER_FILTERS:
        raise ValueError(f"status must be one of {', '.join(OFFER_FILTERS)}")
    query = (
        select(CompensationOffer, Customer, Complaint, CompensationGrant)
        .join(Customer, Customer.id == CompensationOffer.customer_id)
        .outerjoin(Complaint, Complaint.id == CompensationOffer.complaint_id)
        .outerjoin(CompensationGrant, CompensationGrant.offer_id == CompensationOffer.id)
        .order_by(CompensationOffer.created_at, CompensationOffer.id)
        .limit(limit)
    )
    if which == "review_requested":
        query = query.where(CompensationOffer.review_requested_at.is_not(None))
    elif which != "all":
        query = query.where(CompensationOffer.status == which)
    return [_offer_view(*row) for row in session.execute(query).tuples()]


def offer_view(session: Session, offer: CompensationOffer) -> dict[str, Any]:
    customer = session.get(Customer, offer.customer_id)
    assert customer is not None  # a foreign key
    grant = session.scalar(select(CompensationGrant).where(CompensationGrant.offer_id == offer.id))
    return _offer_view(offer, customer, session.get(Complaint, offer.complaint_id), grant)


# Deciding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    offer: dict[str, Any]
    grant: dict[str, Any] | None
    conversation_id: str
    # The message for the customer; None when there was nothing new to say (approved again).
    text: str | None
    already: bool = False
    # Recorded in the conversation (the API path) and still to be shown on the channel.
    message: Message | None = None
    channel: str | None = None
    reachable: bool = True


def _tell(
    session: Session,
    offer: CompensationOffer,
    kind: str,
    text: str,
    now: datetime,
    *,
    via_outbox: bool,
) -> tuple[Message | None, Conversation]:
    conversation = session.get(Conversation, offer.conversation_id)
    assert conversation is not None  # a foreign key
    details = {"kind": kind, "offer": offer.reference}
    if via_outbox:
        incident_notices.enqueue(
            session,
            conversation_id=conversation.id,
            kind=kind,
            text=text,
            dedupe_key=f"{kind}:{offer.reference}",
            details=details,
            now=now,
        )
        return None, conversation
    message = conversations.record_message(session, conversation, "bot", text, details=details)
    return message, conversation


def approve(
    session: Session,
    reference: str,
    by: str,
    policy: Policy | None,
    now: datetime,
    *,
    fulfil: bool,
    via_outbox: bool = False,
    actor: audit.Actor | None = None,
) -> Decided:
    """Grants an offer waiting for a person, in ``by``'s name, and tells the customer, in this
    transaction. An offer still waiting for the customer's own yes or no is refused: it is
    theirs to accept. Approving a granted offer again returns the same grant and says nothing
    new. Raises UnknownOffer, or NotGrantable with the reason (declined, over a limit...); the
    caller's transaction then rolls back, so nothing is granted and the offer stays as it was.
    With an ``actor``, raises OverApprovalLimit first when the offer is beyond what they may
    approve, and writes the approval to the audit log."""
    offer = find_offer(session, reference, lock=True)
    if actor is not None:
        check_may_decide(actor, offer)
    if policy is None:
        raise NotGrantable("no compensation policy is configured (business/compensation.yml)")
    if offer.status == OFFERED:
        # The customer was asked and has not answered: theirs to accept, not ours to approve.
        raise NotGrantable("the offer is waiting for the customer's answer, not a person's")
    already = offer.status == GRANTED
    record = ledger.grant(session, offer.id, policy, now, approved_by=by[:MAX_NAME], fulfil=fulfil)
    message, conversation, text = None, None, None
    if not already:
        text = approved_text(record.remedy, record.amount_pence, record.reference)
        message, conversation = _tell(session, offer, APPROVED, text, now, via_outbox=via_outbox)
        if actor is not None:
            audit.record(
                session,
                actor,
                "approve",
                "offer",
                offer.reference,
                now,
                grant=record.reference,
                by=by[:MAX_NAME],
                **money(record.amount_pence),
            )
    return Decided(
        offer=offer_view(session, offer),
        grant=grant_view(session, record),
        conversation_id=offer.conversation_id,
        text=text,
        already=already,
        message=message,
        channel=conversation.channel if conversation else None,
        reachable=conversation.reachable if conversation else True,
    )


def reject(
    session: Session,
    reference: str,
    by: str,
    reason: str,
    now: datetime,
    *,
    via_outbox: bool = False,
    actor: audit.Actor | None = None,
) -> Decided:
    """Refuses the offer in ``by``'s name, keeps the reason in its explanation, asks for a
    person to follow up, and tells the customer honestly. Raises UnknownOffer, or
    NotGrantable when the offer is no longer waiting (granted, declined, rejected...). With
    an ``actor``, a rejection is a money decision like an approval: OverApprovalLimit when
    the offer is beyond what they may approve; the rejection is written to the audit log."""
    offer = find_offer(session, reference, lock=True)
    if actor is not None:
        check_may_decide(actor, offer)
    ledger.reject(session, offer.id, by[:MAX_NAME], now)
    if actor is not None:
        audit.record(
            session,
            actor,
            "reject",
            "offer",
            offer.reference,
            now,
            reason=reason[:MAX_REASON],
            by=by[:MAX_NAME],
            **money(offer.amount_pence),
        )
    offer.explanation = f"{offer.explanation}; rejected by {by}: {reason}"[:2000]
    handoff_records.request_handoff(session, offer.conversation_id, "compensation_rejected")
    text = rejected_text(offer.remedy, offer.amount_pence)
    message, conversation = _tell(session, offer, REJECTED_NOTICE, text, now, via_outbox=via_outbox)
    return Decided(
        offer=offer_view(session, offer),
        grant=None,
        conversation_id=offer.conversation_id,
        text=text,
        message=message,
        channel=conversation.channel,
        reachable=conversation.reachable,
    )


def check_may_decide(actor: audit.Actor, offer: CompensationOffer) -> None:
    """Raises OverApprovalLimit unless ``actor`` may approve or reject this offer: an approver
    up to their limit, an administrator any amount."""
    if not actor.may(audit.APPROVER):
        raise OverApprovalLimit(offer.reference, offer.amount_pence, None)
    limit = actor.approve_up_to_pence
    if limit is not None and offer.amount_pence > limit:
        raise OverApprovalLimit(offer.reference, offer.amount_pence, limit)


def record_refusal(
    session: Session, actor: audit.Actor, refused: OverApprovalLimit, action: str, now: datetime
) -> None:
    """Writes a refused approve or reject to the audit log (``approve_refused`` or
    ``reject_refused``): nothing else changed."""
    audit.record(
        session,
        actor,
        f"{action}_refused",
        "offer",
        refused.reference,
        now,
        limit_pence=refused.limit_pence,
        **money(refused.amount_pence),
    )


def offer_team(session: Session, offer: CompensationOffer) -> str | None:
    """The team key of the case the offer is for; None when it has none yet (the default
    team's)."""
    complaint = session.get(Complaint, offer.complaint_id) if offer.complaint_id else None
    return complaint.team if complaint is not None else None


# Grants -------------------------------------------------------------------------------------


def _grant_view(
    grant: CompensationGrant,
    customer: Customer,
    offer: CompensationOffer,
    complaint: Complaint | None,
    delivery: FulfilmentDelivery | None,
) -> dict[str, Any]:
    return {
        "reference": grant.reference,
        "offer": offer.reference,
        "account_number": customer.account_number,
        "customer_name": customer.name,
        "remedy": grant.remedy,
        **money(grant.amount_pence),
        "incident": grant.incident_id,
        "rule": offer.rule,
        "approved_by": grant.approved_by,
        "granted_at": grant.created_at.isoformat(),
        "complaint": complaint.reference if complaint else None,
        "conversation_id": offer.conversation_id,
        # Sending it to the billing system: none when no webhook is configured.
        "fulfilment": None
        if delivery is None
        else {
            "status": delivery.status,
            "attempts": delivery.attempts,
            "last_error": delivery.last_error,
            "sent_at": iso_time(delivery.sent_at),
        },
    }


def _grants_query() -> Any:
    return (
        select(CompensationGrant, Customer, CompensationOffer, Complaint, FulfilmentDelivery)
        .join(Customer, Customer.id == CompensationGrant.customer_id)
        .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
        .outerjoin(Complaint, Complaint.id == CompensationOffer.complaint_id)
        .outerjoin(FulfilmentDelivery, FulfilmentDelivery.grant_id == CompensationGrant.id)
    )


def grant_view(session: Session, grant: CompensationGrant) -> dict[str, Any]:
    row = session.execute(_grants_query().where(CompensationGrant.id == grant.id)).one()
    return _grant_view(*row)


def list_grants(
    session: Session, account: str | None = None, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Grants, newest first; only one customer's with ``account`` (BL-100001, however typed).
    Raises UnknownAccount for an account number nobody has."""
    query = _grants_query().order_by(
        CompensationGrant.created_at.desc(), CompensationGrant.id.desc()
    )
    if account is not None:
        number = customers.normalise_account_number(account)
        customer_id = (
            session.scalar(select(Customer.id).where(Customer.account_number == number))
            if number
            else None
        )
        if customer_id is None:
            raise UnknownAccount(account)
        query = query.where(CompensationGrant.customer_id == customer_id)
    return [_grant_view(*row) for row in session.execute(query.limit(limit)).tuples()]
