"""Approvals: the offers waiting for a person, decided by an approver within their limit, and
what has been granted against each incident's budget and per category.

Approving and rejecting go through ``redress.compensation.operators`` with the signed-in
operator as the actor, exactly as ``POST /api/compensation/offers/{reference}/approve`` and
``/reject`` do: the approver's limit is checked before anything changes (a refusal changes
nothing but the audit entry saying it was tried), the decision is audited in the same
transaction, and the customer's message is recorded in their conversation and shown on their
channel at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot import decisions
from bot.console.web import Refused, actor, db, form, page, redirect, render
from redress import audit
from redress.clock import utcnow
from redress.compensation import operators
from redress.compensation import spend as spending
from redress.compensation.ledger import PENDING_APPROVAL, NotGrantable
from redress.compensation.policy import show_money
from redress.db.models import CompensationGrant, CompensationOffer, Complaint

QUEUE_SIZE = 200
RECENT_GRANTS = 25
HERE = "/console/approvals"


@page(audit.APPROVER)
async def approvals_page(request: Request) -> Response:
    policy = request.app.state.business.compensation
    now = utcnow()

    def work(session: Session) -> dict[str, Any]:
        waiting = operators.list_offers(session, PENDING_APPROVAL, limit=QUEUE_SIZE)
        figures = spending.spend(session, policy, now)
        return {
            "offers": waiting,
            "case_ids": _case_ids(session, [o["complaint"] for o in waiting if o["complaint"]]),
            "grants": operators.list_grants(session, limit=RECENT_GRANTS),
            "spend": figures,
            "categories": _by_category(session, now - timedelta(days=figures["window_days"])),
        }

    found = await db(request, work)
    limit = actor(request).approve_up_to_pence
    for offer in found["offers"]:
        offer["created"] = _moment(offer["created_at"])
        offer["over_limit"] = limit is not None and offer["amount_pence"] > limit
    for grant in found["grants"]:
        grant["granted"] = _moment(grant["granted_at"])
    return render(
        request,
        "approvals/index.html",
        section="approvals",
        limit=limit,
        reject_reason_max=operators.MAX_REASON,
        **found,
    )


@page(audit.APPROVER)
async def approve(request: Request) -> Response:
    await form(request)
    who = actor(request)
    policy = request.app.state.business.compensation
    reference = request.path_params["reference"]
    # A delivery row only when this gateway has a webhook to send it to.
    sends_grants = request.app.state.fulfilment is not None

    def work(session: Session) -> operators.Decided:
        return operators.approve(
            session, reference, who.label, policy, utcnow(), fulfil=sends_grants, actor=who
        )

    decided = await _decide(request, work, "approve")
    if decided.already:
        return redirect(HERE, f"{decided.offer['reference']} was already approved.")
    grant = decided.grant["reference"] if decided.grant else ""
    return redirect(
        HERE,
        f"Approved {decided.offer['reference']} ({decided.offer['amount']}, grant {grant}). "
        "The customer has been told.",
    )


@page(audit.APPROVER)
async def reject(request: Request) -> Response:
    fields = await form(request)
    reason = " ".join(fields.get("reason", "").split())
    if not reason:
        raise Refused(
            "Say why the offer is rejected, for the record (the customer is not shown it). "
            "Nothing has changed."
        )
    if len(reason) > operators.MAX_REASON:
        raise Refused(
            f"The reason may be at most {operators.MAX_REASON} characters; it has "
            f"{len(reason)}. Nothing has changed."
        )
    who = actor(request)
    reference = request.path_params["reference"]

    def work(session: Session) -> operators.Decided:
        return operators.reject(session, reference, who.label, reason, utcnow(), actor=who)

    decided = await _decide(request, work, "reject")
    return redirect(
        HERE,
        f"Rejected {decided.offer['reference']}. The customer has been told, and a person "
        "is asked to follow up with them.",
    )


async def _decide(
    request: Request, work: Callable[[Session], operators.Decided], action: str
) -> operators.Decided:
    """The decision in one transaction, then the customer's recorded message shown on their
    channel, as the compensation API does (bot/decisions.py). Over the operator's limit:
    refused with nothing changed but the audit entry saying it was tried."""
    who = actor(request)
    try:
        outcome = await decisions.decide(request.app.state, work, who, action)
    except operators.UnknownOffer:
        raise Refused("There is no offer with that reference. Nothing has changed.", 404) from None
    except NotGrantable as refused:
        raise Refused(
            f"This offer cannot be changed that way: {refused.reason}. Nothing has changed.", 409
        ) from None
    if isinstance(outcome, operators.OverApprovalLimit):
        raise Refused(_over_limit_text(outcome, who, action), 403)
    return outcome


def _over_limit_text(over: operators.OverApprovalLimit, who: audit.Actor, action: str) -> str:
    amount = show_money(over.amount_pence)
    if over.limit_pence is None:
        return f"Your role ({who.role}) may not {action} offers. Nothing has changed."
    return (
        f"{over.reference} is for {amount}, and you may {action} offers up to "
        f"{show_money(over.limit_pence)}. Only an approver with a limit of at least {amount} "
        f"(or an administrator) can {action} this. Nothing has changed."
    )


def _case_ids(session: Session, references: list[str]) -> dict[str, int]:
    """The case (complaint) id behind each complaint reference, for links to its page."""
    if not references:
        return {}
    rows = session.execute(
        select(Complaint.reference, Complaint.id).where(Complaint.reference.in_(references))
    ).all()
    return {reference: complaint_id for reference, complaint_id in rows}


def _by_category(session: Session, since: datetime) -> list[dict[str, Any]]:
    """What was granted in the policy's window per complaint category, most first."""
    spent = func.sum(CompensationGrant.amount_pence)
    rows = session.execute(
        select(Complaint.category, spent, func.count())
        .select_from(CompensationGrant)
        .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
        .join(Complaint, Complaint.id == CompensationOffer.complaint_id)
        .where(CompensationGrant.created_at >= since)
        .group_by(Complaint.category)
        .order_by(spent.desc(), Complaint.category)
    ).all()
    return [
        {"category": category, "grants": int(count), **operators.money(int(total), "granted")}
        for category, total, count in rows
    ]


def _moment(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
