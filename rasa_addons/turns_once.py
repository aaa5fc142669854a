"""Each recorded customer message is in Rasa's tracker at most once.

The gateway keeps a customer message until its answer is recorded and tries it again when a
turn fails or a gateway stops mid-turn (redress/conversations/pending.py). Two things would
otherwise put it in the tracker twice:

- **A failed turn was saved.** When an action fails (the action server is down, erroring or
  too slow; rasa_addons/action_results.py marks the turn), Rasa still saves the tracker with
  the customer's message and whatever ran before the failure. The gateway does not show that
  turn; it keeps the message and sends it again later. Here a failed turn is not saved, so
  the message is told to the assistant afresh, as if the first try had never reached it.
- **The answer was given but not recorded.** A gateway that stops after Rasa saved the turn
  but before it recorded the answer leaves the message in its queue. When the message is
  sent again (the gateway marks such a send ``kept``, with the recorded message's id in
  ``message_id``), Rasa answers with what it said the first time instead of taking the
  message a second time.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons.action_results import failed_already

logger = logging.getLogger("redress.rasa.turns_once")

# The output channel of the turn this task is running (one asyncio task per message).
_turn_channel: ContextVar[OutputChannel | None] = ContextVar("redress_turn", default=None)

_installed = False


def install() -> None:
    """Wraps ``MessageProcessor.handle_message`` and ``save_tracker`` (once)."""
    global _installed
    if _installed:
        return
    rasas_handle = MessageProcessor.handle_message
    rasas_save = MessageProcessor.save_tracker

    async def handle_message(self: MessageProcessor, message: UserMessage) -> Any:
        channel = message.output_channel
        if isinstance(channel, CollectingOutputChannel) and _sent_again(message):
            tracker = await self.tracker_store.retrieve(message.sender_id)
            said = answers_to(tracker, message.metadata["message_id"]) if tracker else None
            if said is not None:
                logger.info(
                    "Message %s of %s was answered before: the same answer, not a second turn",
                    message.metadata["message_id"],
                    message.sender_id,
                )
                channel.messages.extend(said)
                return channel.messages
        token = _turn_channel.set(channel)
        try:
            return await rasas_handle(self, message)
        finally:
            _turn_channel.reset(token)

    async def save_tracker(self: MessageProcessor, tracker: DialogueStateTracker) -> None:
        if failed_already(_turn_channel.get()):
            logger.warning(
                "A turn of %s failed: it is not saved, and the gateway will send the message again",
                tracker.sender_id,
            )
            return
        await rasas_save(self, tracker)

    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]
    MessageProcessor.save_tracker = save_tracker  # type: ignore[method-assign]
    _installed = True


def _sent_again(message: UserMessage) -> bool:
    metadata = message.metadata or {}
    return bool(metadata.get("kept")) and metadata.get("message_id") is not None


def answers_to(tracker: DialogueStateTracker, message_id: object) -> list[dict[str, Any]] | None:
    """What the assistant said to the recorded message ``message_id`` (from the gateway's
    metadata), in Rasa's REST channel's shape; None when it is not in the tracker, or nothing
    was said to it."""
    said: list[dict[str, Any]] | None = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if said is not None:
                break
            if (event.metadata or {}).get("message_id") == message_id:
                said = []
        elif said is not None and isinstance(event, BotUttered):
            reply = {"recipient_id": tracker.sender_id, "text": event.text, **(event.data or {})}
            said.append({key: value for key, value in reply.items() if value is not None})
    return said or None
