"""What comes in from Telegram, checked before anything is written down: the customer's text,
held to the web chat's rules, and the queue that writes each update down before it is
acknowledged."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.hidden import hide
from bot.message_text import valid_text

LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class NotRecorded(TelegramError):
    """An update could not be written down (the database is unreachable), so it must not be
    acknowledged. A TelegramError, so long polling asks for the same updates again after a
    pause instead of giving up."""


@dataclass(frozen=True)
class Admission:
    """What the gateway decided about an update when it took it in."""

    # Written down before and never answered: a redelivery, or left by a gateway that stopped.
    again: bool = False
    # Over the chat's limit: recorded, answered with one "slow down" per burst, not passed on.
    too_fast: bool = False
    # The customer's text or button data, checked; None for anything else.
    text: str | None = None


def mended(value: str) -> str:
    """``value`` without NUL characters, and with each lone surrogate (which no UTF-8 text
    can hold) replaced by U+FFFD: what a Telegram customer sent, made storable."""
    return LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def storable(value: Any) -> Any:
    """A decoded update with every string in it ``mended``, so the records can keep it, and
    card details and passwords masked, so they are never kept (bot/hidden.py)."""
    if isinstance(value, str):
        return hide(mended(value)).text
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def customer_text(value: Any, max_chars: int) -> str:
    """A customer's text by the web chat's rules, once mended (a Telegram customer cannot be
    told "400"); raises BadInput when it is not a string, is empty or only invisible
    characters, or is too long."""
    return valid_text(mended(value) if isinstance(value, str) else value, max_chars)


def text_to_check(update: Update) -> Any | None:
    """The part of an update a customer typed or chose (a private message's text, a button's
    data), as it arrived; None when there is none."""
    if update.callback_query is not None:
        return update.callback_query.data
    message = update.message
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None
    return message.text


def counts_towards_limit(update: Update) -> bool:
    """A customer message in a private chat. Button presses do not count: each answers a
    question the assistant asked, and its buttons go once pressed."""
    message = update.message
    return message is not None and message.chat.type == ChatType.PRIVATE


class AdmittingQueue(asyncio.Queue[object]):
    """The application's update queue, which writes each update down (``admit``) before it
    joins. Long polling confirms a batch of updates to Telegram by asking for the next only
    after putting every one of them here, and the webhook answers 200 only after its put;
    so nothing is acknowledged that is not in the records. Updates ``admit`` refuses (seen
    before, invalid) never join."""

    def __init__(self, admit: Callable[[Update], Awaitable[bool]]) -> None:
        super().__init__()
        self._admit = admit

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and not await self._admit(item):
            return
        await super().put(item)

    async def put_admitted(self, update: Update) -> None:
        """Queues an update already written down and taken on (one left unanswered)."""
        await super().put(update)
