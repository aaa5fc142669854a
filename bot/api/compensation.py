"""The compensation API, for operators (the role each needs in brackets):

GET  /api/compensation/offers[?status=pending_approval|review_requested|all|<status>] (agent)
POST /api/compensation/offers/{reference}/approve   {"by": "<name>"}                  (approver)
POST /api/compensation/offers/{reference}/reject    {"by": "<name>", "reason": "<why>"} (approver)
GET  /api/compensation/grants[?account=BL-100001]                                     (agent)
GET  /api/compensation/spend                                                          (agent)

An approver's token decides offers up to its own limit: above it, a 403
``over_approval_limit`` naming the limit, and nothing changes (the attempt is in the audit
log). ``by`` names the person for the admin token, which everyone shares; an operator's
token names them itself, so ``by`` may be left out and the decision is in the token's name.
Every decision is written to the audit log in the same transaction.

Approving grants an offer waiting for a person through the ledger (every limit checked
again), then tells the customer in their conversation: the message is recorded in the
granting transaction and shown on their channel at once. Approving again returns the same
grant and sends nothing new. A refusal is a 409 whose ``reason`` says why (over a limit,
declined, still waiting for the customer's own answer...), and nothing changes. Rejecting
keeps the reason in the offer's explanation (the customer is not shown it), tells the customer
honestly, and asks for a person to follow up. With ``FULFILMENT_WEBHOOK_URL`` set, each grant
is also queued for the billing webhook (``bot/fulfilment.py``).
Amounts are integer pence with a display string beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import decisions
from bot.api._http import (
    BadInput,
    actor,
    bounded_body,
    error,
    in_transaction,
    json_object,
    requires,
)
from redress import audit
from redress.clock import utcnow
from redress.compensation import operators
from redress.compensation import spend as spending
from redress.compensation.ledger import NotGrantable
from redress.compensation.policy import show_money

MAX_BODY_BYTES = 16 * 1024
MAX_LIMIT = 1000


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "200")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


@requires(audit.AGENT)
async def list_offers(request: Request) -> Response:
    which = request.query_params.get("status", operators.PENDING_APPROVAL)
    if which not in operators.OFFER_FILTERS:
        return error(
            400,
            "invalid_status",
            f"status must be one of: {', '.join(operators.OFFER_FILTERS)}.",
        )
    limit = _limit(request)
    return await _run(
        request,
        lambda session: {"offers": operators.list_offers(session, which, limit=limit)},
    )


@requires(audit.AGENT)
async def list_grants(request: Request) -> Response:
    account = request.query_params.get("account")
    limit = _limit(request)
    return await _run(
        request,
        lambda session: {"grants": operators.list_grants(session, account, limit=limit)},
    )


@requires(audit.AGENT)
async def spend(request: Request) -> Response:
    policy = request.app.state.business.compensation
    return await _run(request, lambda session: spending.spend(session, policy, utcnow()))


def _name(body: dict[str, Any], field: str, what: str, max_chars: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(400, f"invalid_{field}", f"{field} is required: {what}.")
    if len(value.strip()) > max_chars:
        raise BadInput(400, f"invalid_{field}", f"{field} must be at most {max_chars} characters.")
    return value.strip()


async def _decision_body(request: Request, fields: dict[str, str]) -> dict[str, str]:
    """The decision's fields. ``by`` names the person deciding: needed with the shared admin
    token; an operator's own token names them itself, so ``by`` may be left out and the
    decision is kept in the token's name (with ``by`` beside it when it names someone else)."""
    body = json_object(await bounded_body(request, MAX_BODY_BYTES), "{" + ", ".join(fields) + "}")
    if unknown := sorted(set(body) - set(fields)):
        raise BadInput(
            400, "unknown_field", f"{unknown[0]} is not a field here; send {', '.join(fields)}."
        )
    limits = {"by": operators.MAX_NAME, "reason": operators.MAX_REASON}
    who = actor(request)
    if who.via == audit.OPERATOR_TOKEN and body.get("by") is None:
        body["by"] = who.name
    found = {name: _name(body, name, what, limits[name]) for name, what in fields.items()}
    if who.via == audit.OPERATOR_TOKEN:
        given = found["by"]
        found["by"] = who.label if given == who.name else f"{given} (token {who.name})"
    return found


@requires(audit.APPROVER)
async def approve(request: Request) -> Response:
    body = await _decision_body(request, {"by": "the name of the person approving"})
    who = actor(request)
    policy = request.app.state.business.compensation
    reference = request.path_params["reference"]
    # A delivery row only when this gateway has a webhook to send it to.
    sends_grants = request.app.state.fulfilment is not None

    def work(session: Session) -> operators.Decided:
        return operators.approve(
            session,
            reference,
            body["by"],
            policy,
            utcnow(),
            fulfil=sends_grants,
            actor=who,
        )

    return await _decide(request, work, "approve")


@requires(audit.APPROVER)
async def reject(request: Request) -> Response:
    body = await _decision_body(
        request,
        {
            "by": "the name of the person rejecting",
            "reason": "why, for the record (the customer is not shown it)",
        },
    )
    reference = request.path_params["reference"]
    who = actor(request)

    def work(session: Session) -> operators.Decided:
        return operators.reject(session, reference, body["by"], body["reason"], utcnow(), actor=who)

    return await _decide(request, work, "reject")


async def _decide(
    request: Request, work: Callable[[Session], operators.Decided], action: str
) -> Response:
    """Runs the decision in one transaction, then shows the customer the recorded message
    (bot/decisions.py). An offer beyond the actor's limit is refused with nothing changed
    but the audit entry saying it was tried."""
    who = actor(request)
    try:
        decided = await decisions.decide(request.app.state, work, who, action)
        if isinstance(decided, operators.OverApprovalLimit):
            return _over_limit(decided, who, action)
    except operators.UnknownOffer:
        return _unknown_offer()
    except NotGrantable as refused:
        return error(
            409,
            "not_grantable",
            f"This offer cannot be changed that way: {refused.reason}.",
            reason=refused.reason,
        )
    return JSONResponse(
        {
            "offer": decided.offer,
            "grant": decided.grant,
            "already_decided": decided.already,
            "customer_message": decided.text,
        }
    )


def _over_limit(over: operators.OverApprovalLimit, who: audit.Actor, action: str) -> Response:
    limit = over.limit_pence
    if limit is None:  # the role check lets no such token this far
        return error(403, "forbidden", "This needs a token with the approver role.")
    return error(
        403,
        "over_approval_limit",
        f"This token ({who.name}) may {action} offers up to {show_money(limit)}; "
        f"{over.reference} is for {show_money(over.amount_pence)}. Nothing has changed: ask an "
        "approver with a higher limit or an administrator.",
        **operators.money(limit, "approve_up_to"),
        **operators.money(over.amount_pence),
    )


def _unknown_offer() -> Response:
    return error(404, "unknown_offer", "There is no offer with that reference.")


async def _run(request: Request, work: Callable[[Session], dict[str, Any]]) -> Response:
    """Runs ``work`` in one transaction off the event loop, mapping refusals to JSON errors."""
    try:
        result = await in_transaction(request, work)
    except operators.UnknownAccount:
        return error(404, "unknown_account", "There is no customer with that account number.")
    return JSONResponse(result)
