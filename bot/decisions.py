"""A compensation decision taken by an operator, wherever they take it (the admin API or the
console): the decision in one transaction, retried once when two people approve at the same
moment, then the customer shown the message it recorded, on their own channel."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import State

from bot.relay import message_json
from bot.transactions import in_transaction
from redress import audit
from redress.clock import utcnow
from redress.compensation import operators

logger = logging.getLogger("redress.gateway")


async def decide(
    state: State,
    work: Callable[[Session], operators.Decided],
    who: audit.Actor,
    action: str,
) -> operators.Decided | operators.OverApprovalLimit:
    """Runs ``work`` (an approve or a reject) and shows the customer what it recorded. An
    offer beyond ``who``'s limit is returned, refused, with nothing changed but the audit
    entry saying it was tried. ``UnknownOffer`` and ``NotGrantable`` pass through."""

    def attempt(session: Session) -> operators.Decided | operators.OverApprovalLimit:
        try:
            decided = work(session)
        except operators.OverApprovalLimit as over:
            operators.record_refusal(session, who, over, action, utcnow())
            return over
        if decided.message is not None:
            session.expunge(decided.message)
        return decided

    database_url = state.settings.database_url
    try:
        outcome = await in_transaction(database_url, attempt)
    except IntegrityError:
        # Two people approved at the same moment and the other grant won the unique key
        # (SQLite takes no row locks): run again, and find the grant already made.
        outcome = await in_transaction(database_url, attempt)
    if isinstance(outcome, operators.Decided):
        await _carry_out(state, outcome)
    return outcome


async def _carry_out(state: State, decided: operators.Decided) -> None:
    if decided.grant is not None and decided.grant["fulfilment"] is not None:
        state.scheduler.wake_fulfilment()
    if decided.message is None or decided.channel is None:
        return
    shown = message_json(decided.message)
    try:
        if decided.reachable:
            await state.relay.deliver(decided.conversation_id, decided.channel, shown)
        else:
            state.hub.publish(decided.conversation_id, shown)
    except Exception:  # recorded already: the customer sees it when the chat next loads
        logger.exception("showing the decision on %s failed", decided.conversation_id)
