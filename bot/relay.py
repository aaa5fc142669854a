"""The path every customer message takes, whatever the channel: record it, pass it to the
assistant, record and return the replies. Channels only translate to and from it."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from bot.live import LiveHub
from bot.rasa_client import AssistantReply, AssistantUnavailable, RasaClient
from redress import records
from redress.db.models import Message
from redress.db.session import unit_of_work

BUTTON_TOKEN = re.compile(r"^btn_[A-Za-z0-9_-]{16}$")


class UnknownConversation(LookupError):
    pass


@dataclass(frozen=True)
class Outcome:
    conversation_id: str
    replies: list[dict[str, Any]]
    assistant_available: bool = True


def message_json(message: Message) -> dict[str, Any]:
    """A recorded message as channels show it; button payloads are the issued tokens."""
    return {
        "id": message.id,
        "role": message.role,
        "text": message.text,
        "buttons": [{"title": b["title"], "payload": b["token"]} for b in message.buttons or []],
        "created_at": message.created_at.isoformat(),
    }


def neutralise_slash(text: str) -> str:
    """Typed text that starts with "/" would reach Rasa as an intent ("/affirm") with
    entities of the sender's choosing. Only server-issued buttons may do that, so typed
    slashes are dropped and the rest goes through language understanding like any text."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    return stripped.lstrip("/").strip() or "slash"


class Relay:
    def __init__(
        self, database_url: str, rasa: RasaClient, hub: LiveHub, unavailable_text: str
    ) -> None:
        self._database_url = database_url
        self._rasa = rasa
        self._hub = hub
        self._unavailable_text = unavailable_text
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def handle(self, conversation_id: str | None, text: str, channel: str) -> Outcome:
        """Records the customer's message, gets the assistant's answer, records that too."""
        conversation_id, sent, customer_message = await run_in_threadpool(
            self._record_customer, conversation_id, text, channel
        )
        self._hub.publish(conversation_id, customer_message)
        # One message at a time per conversation, so replies keep their order.
        async with self._locks[conversation_id]:
            try:
                replies = await self._rasa.send(conversation_id, sent, {"channel": channel})
                available = True
            except AssistantUnavailable as error:
                replies = [AssistantReply(self._unavailable_text)]
                available = False
                reason = str(error)
        recorded = await run_in_threadpool(
            self._record_replies, conversation_id, replies, None if available else reason
        )
        for message in recorded:
            self._hub.publish(conversation_id, message)
        return Outcome(
            conversation_id=conversation_id,
            replies=[{"text": m["text"], "buttons": m["buttons"]} for m in recorded],
            assistant_available=available,
        )

    def _record_customer(
        self, conversation_id: str | None, text: str, channel: str
    ) -> tuple[str, str, dict[str, Any]]:
        with unit_of_work(self._database_url) as session:
            if conversation_id is None:
                conversation = records.start_conversation(session, channel)
            else:
                conversation = records.get_conversation(session, conversation_id)
                if conversation is None:
                    raise UnknownConversation(conversation_id)
            shown, sent, details = text, neutralise_slash(text), {}
            if BUTTON_TOKEN.match(text.strip()):
                button = records.find_issued_button(session, conversation.id, text.strip())
                if button is not None:
                    shown, sent = button["title"], button["payload"]
                    details = {"button": button["token"]}
            if sent != shown:
                details["sent_to_assistant"] = sent
            message = records.record_message(
                session, conversation, "customer", shown, details=details
            )
            return conversation.id, sent, message_json(message)

    def _record_replies(
        self, conversation_id: str, replies: list[AssistantReply], failure: str | None
    ) -> list[dict[str, Any]]:
        with unit_of_work(self._database_url) as session:
            conversation = records.get_conversation(session, conversation_id)
            assert conversation is not None  # recorded a moment ago; conversations are not deleted
            if failure is not None:
                records.record_event(
                    session, conversation_id, "assistant_unavailable", {"error": failure[:500]}
                )
            recorded = [
                records.record_message(
                    session,
                    conversation,
                    "bot",
                    reply.text,
                    buttons=[
                        {**button, "token": f"btn_{secrets.token_urlsafe(12)}"}
                        for button in reply.buttons
                    ],
                )
                for reply in replies
            ]
            return [message_json(message) for message in recorded]
