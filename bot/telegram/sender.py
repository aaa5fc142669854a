"""Sending to Telegram: the one place that escapes, splits, retries and notes what arrived.

Direct replies and later messages (agent replies, updates pushed through the relay) both go
through ``TelegramSender``, so every message gets the same treatment:

- text is sent in HTML parse mode with every character escaped, so nothing a customer or
  agent typed can turn into formatting or a link;
- a message longer than Telegram's 4,096 characters once escaped is split at line, then
  word, boundaries, and the parts joined give back exactly the original text;
- ``RetryAfter`` (flood control) waits as long as Telegram asks and tries again, a bounded
  number of times; a timeout or network error is retried with backoff, then logged;
- ``Forbidden`` (the customer blocked the bot) marks the conversation unreachable and sends
  nothing more to that chat, since every retry would fail the same way.
"""

from __future__ import annotations

import asyncio
import html
import logging
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram import Message as TelegramMessage
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.relay import Relay
from redress.conversations import records as conversations
from redress.db.session import unit_of_work

logger = logging.getLogger("redress.gateway.telegram.sender")

MAX_TEXT_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
UNREACHABLE_REASON = "blocked the bot"


def escape(text: str) -> str:
    """Text as Telegram's HTML parse mode shows it literally: ``&``, ``<`` and ``>`` escaped
    (quotes need no escaping outside tags)."""
    return html.escape(text, quote=False)


def escaped_length(text: str) -> int:
    """Length of ``text`` once escaped, in UTF-16 code units as Telegram counts them (an
    emoji outside the basic plane counts twice)."""
    escaped = escape(text)
    return len(escaped) + sum(1 for character in escaped if ord(character) > 0xFFFF)


def split_for_telegram(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Splits ``text`` into parts whose escaped length is at most ``limit``.

    Parts break after a line end when there is one in the second half of the part, else
    after a space, else mid-word. Nothing is dropped or added: ``"".join(parts) == text``.
    Escaping happens after splitting, so an entity like ``&lt;`` is never cut in two.
    """
    parts: list[str] = []
    rest = text
    while escaped_length(rest) > limit:
        end = _longest_prefix(rest, limit)
        cut = _boundary(rest, end)
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest or not parts:
        parts.append(rest)
    return parts


def _longest_prefix(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` once escaped (at least one)."""
    used = 0
    for index, character in enumerate(text):
        used += escaped_length(character)
        if used > limit:
            return max(index, 1)
    return len(text)


def _boundary(text: str, end: int) -> int:
    """Where to cut ``text[:end]``: after a line end, else after a space, else at ``end``."""
    half = end // 2
    newline = text.rfind("\n", 0, end)
    if newline >= half:
        return newline + 1
    space = max(text.rfind(" ", 0, end), text.rfind("\t", 0, end))
    if space >= half:
        return space + 1
    return end


def keyboard(buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup | None:
    """One inline button per row; pressing it sends back the token the server issued."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["title"], callback_data=b["payload"])] for b in buttons]
    )


class ChatUnreachable(Exception):
    """Telegram refused to deliver to this chat (the customer blocked the bot)."""


class TelegramSender:
    """Delivers recorded messages to Telegram chats, in order, one batch per chat at a time."""

    def __init__(
        self,
        bot: Bot,
        relay: Relay,
        database_url: str,
        *,
        network_attempts: int = 4,
        first_backoff_seconds: float = 0.5,
        flood_retries: int = 3,
        longest_flood_wait_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._relay = relay
        self._database_url = database_url
        self._network_attempts = network_attempts
        self._first_backoff = first_backoff_seconds
        self._flood_retries = flood_retries
        self._longest_flood_wait = longest_flood_wait_seconds
        self._sleep = sleep
        self._chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def push(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """The relay's sender for Telegram: finds the chat and delivers later messages."""
        chat_id = await run_in_threadpool(self._chat_of, conversation_id)
        if chat_id is None:
            logger.warning("conversation %s has no Telegram chat; not sent", conversation_id)
            return
        await self.send(conversation_id, chat_id, messages)

    async def send(
        self, conversation_id: str, chat_id: int, messages: list[dict[str, Any]]
    ) -> None:
        """Sends recorded messages (``id``, ``text``, ``buttons``) to a chat, in order, and
        keeps each one's Telegram message id. Stops at the first refusal from the chat."""
        async with self._chat_locks[chat_id]:
            for message in messages:
                try:
                    delivered = await self._send_message(chat_id, message)
                except ChatUnreachable:
                    await self._relay.mark_unreachable(conversation_id, UNREACHABLE_REASON)
                    logger.info("chat for %s blocked the bot; stopped sending", conversation_id)
                    return
                if delivered is not None and "id" in message:
                    await self._relay.note_delivered(message["id"], str(delivered))

    async def send_text(self, chat_id: int, text: str) -> int | None:
        """Sends a text that is not part of any conversation (the line for group chats)."""
        try:
            return await self._send_message(chat_id, {"text": text, "buttons": []})
        except ChatUnreachable:
            return None

    async def _send_message(self, chat_id: int, message: dict[str, Any]) -> int | None:
        """Sends one message, split if long, buttons on the last part. Returns the Telegram
        id of the first part, or None when it could not be sent."""
        # A part that is only whitespace (a run of 4,096 spaces) would be refused as empty.
        parts = [p for p in split_for_telegram(message["text"]) if p.strip()]
        markup = keyboard(message.get("buttons") or [])
        if not parts and markup is not None:
            parts = ["…"]  # buttons need a text to hang on
        first: int | None = None
        for number, part in enumerate(parts, start=1):
            sent = await self._send_part(
                chat_id, escape(part), markup if number == len(parts) else None
            )
            if sent is None:
                return first
            first = first if first is not None else sent.message_id
        return first

    async def _send_part(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> TelegramMessage | None:
        """One sendMessage, retried on flood control and network trouble, within bounds."""
        floods = 0
        failures = 0
        while True:
            try:
                return await self._bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            except Forbidden as refused:
                logger.info("Telegram refused chat %s: %s", chat_id, refused.message)
                raise ChatUnreachable(str(chat_id)) from refused
            except RetryAfter as flood:
                wait = retry_after_seconds(flood)
                floods += 1
                if floods > self._flood_retries or wait > self._longest_flood_wait:
                    logger.error("flood control on chat %s (wait %.0fs); gave up", chat_id, wait)
                    return None
                logger.warning("flood control on chat %s: waiting %.1fs", chat_id, wait)
                await self._sleep(wait)
            except BadRequest as bad:  # a NetworkError subclass, but retrying cannot help
                logger.error("Telegram rejected a message to chat %s: %s", chat_id, bad.message)
                return None
            except NetworkError as trouble:  # TimedOut included
                failures += 1
                if failures >= self._network_attempts:
                    logger.error(
                        "could not reach Telegram for chat %s after %d tries: %s",
                        chat_id, failures, trouble.message,
                    )  # fmt: skip
                    return None
                await self._sleep(self._first_backoff * 2 ** (failures - 1))

    def _chat_of(self, conversation_id: str) -> int | None:
        with unit_of_work(self._database_url) as session:
            conversation = conversations.get_conversation(session, conversation_id)
            if conversation is None or conversation.external_id is None:
                return None
            return int(conversation.external_id)


def retry_after_seconds(flood: RetryAfter) -> float:
    """Seconds Telegram asked us to wait; PTB 22 gives an int or a timedelta (and warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait = flood.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
