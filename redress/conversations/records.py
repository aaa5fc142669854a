"""Conversations, their messages, the buttons the server issued, and conversation events.
Functions take a session from ``unit_of_work`` so the caller decides what one transaction is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redress.clock import utcnow
from redress.db.models import Conversation, ConversationEvent, Message

ROLES = ("customer", "bot", "agent")


def new_conversation_id() -> str:
    """Random and unguessable: the id is what lets a web visitor back into a conversation."""
    return secrets.token_urlsafe(24)


def start_conversation(session: Session, channel: str) -> Conversation:
    conversation = Conversation(id=new_conversation_id(), channel=channel)
    session.add(conversation)
    session.flush()
    return conversation


def issue_client_token(conversation: Conversation) -> str:
    """The secret that lets the web chat client that started ``conversation`` back into it.
    Returned once; only its hash is kept, so the records cannot give it away."""
    token = secrets.token_urlsafe(32)
    conversation.client_token_hash = _token_hash(token)
    return token


def client_token_matches(conversation: Conversation, token: object) -> bool:
    """True when ``token`` is the one issued for this conversation. Conversations without
    one (on another channel, or started before tokens) match nothing."""
    if not isinstance(token, str) or conversation.client_token_hash is None:
        return False
    return hmac.compare_digest(conversation.client_token_hash, _token_hash(token))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def conversation_on_channel(session: Session, channel: str, external_id: str) -> Conversation:
    """The conversation for a chat on an outside channel (a Telegram chat), started on first
    contact. A customer who blocked the bot and comes back is reachable again."""
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id
        )
    )
    if conversation is None:
        conversation = Conversation(
            id=new_conversation_id(), channel=channel, external_id=external_id
        )
        session.add(conversation)
        session.flush()
    conversation.reachable = True
    return conversation


def mark_unreachable(session: Session, conversation_id: str, reason: str) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.reachable:
        conversation.reachable = False
        record_event(session, conversation_id, "customer_unreachable", {"reason": reason})


def add_once(session: Session, row: Any) -> bool:
    """Adds ``row`` unless a unique key says it is already there (another request, another
    gateway, a retry); True when it was added. Only the savepoint is rolled back, so the
    caller's transaction carries on either way."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def ensure_conversation(session: Session, conversation_id: str, channel: str) -> Conversation:
    """The conversation, created when the assistant is reached without the gateway
    (for example from ``rasa shell``) so its actions still have somewhere to record."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=channel)
        session.add(conversation)
        session.flush()
    return conversation


def record_message(
    session: Session,
    conversation: Conversation,
    role: str,
    text: str,
    *,
    buttons: list[dict[str, str]] | None = None,
    details: dict[str, Any] | None = None,
    external_id: str | None = None,
    client_message_id: str | None = None,
    flush: bool = True,
) -> Message:
    """Adds a message to the conversation. ``flush=False`` leaves the insert to the next
    flush, so several messages recorded together go to the database in one round trip."""
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}")
    message = Message(
        conversation_id=conversation.id,
        role=role,
        channel=conversation.channel,
        text=text,
        buttons=buttons or None,
        details=details or None,
        external_id=external_id,
        client_message_id=client_message_id,
    )
    session.add(message)
    conversation.updated_at = utcnow()
    if flush:
        session.flush()
    return message


def with_button_tokens(buttons: list[dict[str, str]]) -> list[dict[str, str]]:
    """Buttons with the random tokens channels show instead of their payloads: only a token
    the server issued in the conversation can reach the assistant as an intent."""
    return [{**button, "token": f"btn_{secrets.token_urlsafe(12)}"} for button in buttons]


def last_bot_details(session: Session, conversation_id: str) -> dict[str, Any]:
    """The details of the latest bot message: what kind of notice it was, or what it asked."""
    details = session.scalar(
        select(Message.details)
        .where(Message.conversation_id == conversation_id, Message.role == "bot")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return details or {}


LIVE, EXPIRED = "live", "expired"


def pressed_button(
    session: Session, conversation_id: str, token: str
) -> tuple[str, dict[str, str]] | None:
    """The button with this token, if the server issued it in this conversation, and whether
    it is still ``live``: it belongs to the newest question with buttons, and none of that
    question's buttons has been pressed yet. Otherwise it has ``expired``: a button answers
    the question it came with, once."""
    for position, message in enumerate(_with_buttons(session, conversation_id)):
        for button in message.buttons or []:
            if secrets.compare_digest(str(button.get("token", "")), token):
                fresh = position == 0 and not _pressed_after(session, conversation_id, message.id)
                return (LIVE if fresh else EXPIRED), button
    return None


def open_question(session: Session, conversation_id: str) -> Message | None:
    """The newest message with buttons, while none of its buttons has been pressed."""
    newest = next(iter(_with_buttons(session, conversation_id)), None)
    if newest is None or _pressed_after(session, conversation_id, newest.id):
        return None
    return newest


def _with_buttons(session: Session, conversation_id: str) -> list[Message]:
    """The conversation's latest messages that carry buttons, newest first."""
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role != "customer")
        .order_by(Message.id.desc())
        .limit(200)
    )
    return [message for message in rows if message.buttons][:50]


def _pressed_after(session: Session, conversation_id: str, message_id: int) -> bool:
    """Whether the customer pressed a button after message ``message_id``."""
    later = session.scalars(
        select(Message.details).where(
            Message.conversation_id == conversation_id,
            Message.role == "customer",
            Message.id > message_id,
        )
    )
    return any((details or {}).get("button") for details in later)


def repeat_of(
    session: Session, conversation_id: str, client_message_id: str
) -> tuple[Message, list[Message]] | None:
    """The customer message a client already sent with this id, and the messages that
    answered it (up to the customer's next message); None when it is new."""
    first = session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.client_message_id == client_message_id,
        )
    )
    if first is None:
        return None
    answers = answers_after(session, conversation_id, first.id)
    return first, answers


def started_by(
    session: Session, channel: str, client_message_id: str, text: str, since: datetime
) -> Conversation | None:
    """The conversation on ``channel`` that a customer message with this client id and text
    started since ``since`` (its first message), if there is one."""
    message = session.scalar(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.client_message_id == client_message_id,
            Message.role == "customer",
            Message.text == text,
            Message.created_at >= since,
            Conversation.channel == channel,
        )
        .order_by(Message.id)
        .limit(1)
    )
    if message is None:
        return None
    earlier = session.scalar(
        select(Message.id).where(
            Message.conversation_id == message.conversation_id,
            Message.role == "customer",
            Message.id < message.id,
        )
    )
    return None if earlier is not None else session.get(Conversation, message.conversation_id)


def answers_after(session: Session, conversation_id: str, message_id: int) -> list[Message]:
    """The messages that answered customer message ``message_id``: those after it, up to the
    customer's next message."""
    after = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > message_id)
        .order_by(Message.id)
        .limit(50)
    )
    answers: list[Message] = []
    for message in after:
        if message.role == "customer":
            break
        answers.append(message)
    return answers


def record_event(
    session: Session, conversation_id: str, kind: str, detail: dict[str, Any] | None = None
) -> ConversationEvent:
    event = ConversationEvent(conversation_id=conversation_id, kind=kind, detail=detail or {})
    session.add(event)
    session.flush()
    return event
