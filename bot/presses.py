"""Button presses: a button answers the question it came with, once (docs/architecture.md,
"Web chat API"). A stale or second press reaches nobody; the customer hears it expired and
gets the open question again."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from bot.shown import message_json, neutralise_slash
from redress.conversations import records as conversations
from redress.db.models import Conversation

BUTTON_TOKEN = re.compile(r"^btn_[A-Za-z0-9_-]{16}$")
EXPIRED_CHOICE = "That choice has expired, so I haven't acted on it."
EXPIRED_NO_QUESTION = "If you still want it, just tell me here in your own words."


def read_press(
    session: Session, conversation_id: str, text: str
) -> tuple[str, str, dict[str, Any]]:
    """What a message shows and what the assistant gets: a live button's title and payload,
    an expired button's title (and nothing for the assistant), or the typed text."""
    shown, sent, details = text, neutralise_slash(text), {}
    token = text.strip()
    if BUTTON_TOKEN.match(token):
        pressed = conversations.pressed_button(session, conversation_id, token)
        if pressed is not None and pressed[0] == conversations.LIVE:
            shown, sent, details = pressed[1]["title"], pressed[1]["payload"], {"button": token}
        elif pressed is not None:
            shown, sent, details = pressed[1]["title"], "", {"expired_button": token}
    if sent and sent != shown:
        details["sent_to_assistant"] = sent
    return shown, sent, details


def expired_choice(session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    """Says a stale or second press changed nothing, and puts the open question again."""
    question = conversations.open_question(session, conversation.id)
    said = [conversations.record_message(session, conversation, "bot", EXPIRED_CHOICE)]
    if question is not None:
        again = [{"title": b["title"], "payload": b["payload"]} for b in question.buttons or []]
        said.append(
            conversations.record_message(
                session,
                conversation,
                "bot",
                question.text,
                buttons=conversations.with_button_tokens(again),
                details=question.details,
            )
        )
    else:
        said.append(conversations.record_message(session, conversation, "bot", EXPIRED_NO_QUESTION))
    return [message_json(message) for message in said]
