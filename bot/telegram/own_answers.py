"""What the gateway records for Telegram messages it answers by itself, without the
assistant: /start and /help with their replies, a message over the chat's limit with one
"slow down" per burst, and what an earlier attempt at an update recorded but never sent.
Functions take a session, so the caller decides what one transaction is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.relay import message_json
from redress.conversations import records as conversations
from redress.db.models import Conversation, Message

# Details on a customer message recorded but not passed on, and on the reply that says why.
RATE_LIMITED = "rate_limited"
SLOW_DOWN = "slow_down"
# How far back to look for the "slow down" of the current burst.
BURST_LOOKBACK = 100


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = conversations.get_conversation(session, conversation_id)
    assert conversation is not None  # conversation_for made it; conversations are not deleted
    return conversation


def record_command(
    session: Session, conversation_id: str, text: str, telegram_id: str, reply: str
) -> list[dict[str, Any]]:
    """/start or /help and the gateway's reply, recorded together; returns the reply."""
    conversation = _conversation(session, conversation_id)
    conversations.record_message(
        session, conversation, "customer", text,
        details={"command": text.split()[0]}, external_id=telegram_id,
    )  # fmt: skip
    answer = conversations.record_message(session, conversation, "bot", reply)
    return [message_json(answer)]


def record_too_fast(
    session: Session,
    conversation_id: str,
    shown: str,
    *,
    details: dict[str, Any],
    telegram_id: str,
    client_message_id: str,
    slow_down: str,
) -> list[dict[str, Any]]:
    """Records a message over the chat's limit, marked as not passed on, and the "slow down"
    when it is the first of its burst; returns what to send (the notice, or nothing)."""
    conversation = _conversation(session, conversation_id)
    told = told_in_this_burst(session, conversation_id)
    conversations.record_message(
        session,
        conversation,
        "customer",
        shown,
        details={**details, RATE_LIMITED: True},
        external_id=telegram_id,
        client_message_id=client_message_id,
    )
    if told:
        return []
    notice = conversations.record_message(
        session, conversation, "bot", slow_down, details={SLOW_DOWN: True}
    )
    return [message_json(notice)]


def told_in_this_burst(session: Session, conversation_id: str) -> bool:
    """Whether the customer has had the "slow down" since their last message that was let
    through: a burst gets it once, however long it goes on."""
    recent = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(BURST_LOOKBACK)
    )
    for message in recent:
        details = message.details or {}
        if message.role == "bot" and details.get(SLOW_DOWN):
            return True
        if message.role == "customer" and not details.get(RATE_LIMITED):
            return False
    return False


def earlier_attempt(
    session: Session, conversation_id: str, telegram_id: str
) -> list[dict[str, Any]] | None:
    """What an earlier attempt at a Telegram message recorded: None when it recorded nothing;
    else the replies recorded after it (up to the customer's next message) that Telegram has
    not confirmed, to send now."""
    first = session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.role == "customer",
            Message.external_id == telegram_id,
        )
    )
    if first is None:
        return None
    later = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > first.id)
        .order_by(Message.id)
        .limit(50)
    )
    unsent: list[dict[str, Any]] = []
    for message in later:
        if message.role == "customer":
            break
        if message.external_id is None:
            unsent.append(message_json(message))
    return unsent


def unsent(session: Session, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded replies Telegram has not confirmed yet (an earlier attempt may have sent
    some before its gateway stopped)."""
    ids = [reply["id"] for reply in replies if "id" in reply]
    if not ids:
        return replies
    sent = set(
        session.scalars(
            select(Message.id).where(Message.id.in_(ids), Message.external_id.is_not(None))
        )
    )
    return [reply for reply in replies if reply.get("id") not in sent]
