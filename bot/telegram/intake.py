"""Taking Telegram updates in: each is checked, written down before Telegram is told it
arrived (``bot.telegram.inbox``), and either taken on or skipped; updates a stopped gateway
left unanswered are taken on later. What was decided for an update (``Admission``) stays "in
hand" until its handler has finished, so a redelivery meanwhile is skipped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.constants import ChatType

from bot.api._http import BadInput
from bot.telegram import inbox
from bot.telegram.inbound import (
    Admission,
    AdmittingQueue,
    NotRecorded,
    counts_towards_limit,
    customer_text,
    storable,
    text_to_check,
)
from bot.transactions import in_transaction
from redress.clock import utcnow

logger = logging.getLogger("redress.gateway.telegram")

# How often to look for updates a stopped gateway left unanswered (inbox.RESUME_AFTER).
RESUME_EVERY_SECONDS = 30
# Update ids are positive and fit the records' 64-bit column.
MAX_UPDATE_ID = 2**63 - 1


class RateLimit(Protocol):
    """``bot.shared_state``'s limiters: None when a message may pass now (and counts it),
    else seconds until one may."""

    async def check(self, key: str) -> int | None: ...


def read_update(data: dict[str, Any], bot: Bot) -> Update:
    """A decoded body as an update; raises whatever the library raises for one it cannot
    read, and ValueError for an update id that cannot be one."""
    update = Update.de_json(data, bot)
    if update is None or not isinstance(update.update_id, int):
        raise ValueError("no update_id")
    if not 0 < update.update_id <= MAX_UPDATE_ID:
        raise ValueError("update_id out of range")
    return update


class Intake:
    """Decides about each update before it is acknowledged, and remembers the decision while
    the update is in hand. ``tell`` sends a line to a chat outside any conversation."""

    def __init__(
        self,
        database_url: str,
        *,
        max_message_chars: int,
        rate_limit: RateLimit | None,
        tell: Callable[[int, str], Awaitable[Any]],
    ) -> None:
        self._database_url = database_url
        self._max_chars = max_message_chars
        self._rate_limit = rate_limit  # per chat; None: no limit
        self._tell = tell
        self._in_hand: dict[int, Admission] = {}
        self._background: set[asyncio.Task[Any]] = set()

    def admission(self, update: Update) -> Admission:
        """What was decided when ``update`` was taken in."""
        return self._in_hand.get(update.update_id) or Admission()

    async def admit(self, update: Update) -> bool:
        """Decides whether to answer an update, writing it down first: called before Telegram
        is told it arrived. False for one answered before, in hand, or refused."""
        update_id = update.update_id
        if update_id in self._in_hand:
            logger.info("Telegram update %s is being answered already; skipped", update_id)
            return False
        refusal = self._refusal(update)
        if refusal is not None:
            logger.warning("refused Telegram update %s: %s", update_id, refusal.message)
            self._tell_about(update, refusal)
            return False
        self._in_hand[update_id] = Admission()  # before any await: one admission per update
        try:
            taken = await in_transaction(
                self._database_url, inbox.take_in, update_id, storable(update.to_dict())
            )
        except SQLAlchemyError as error:
            del self._in_hand[update_id]
            # The error's class only: its text would carry the update's content to the log.
            reason = f"could not write update {update_id} down ({error.__class__.__name__})"
            raise NotRecorded(reason) from error
        if taken == inbox.SEEN:
            del self._in_hand[update_id]
            logger.info("Telegram update %s was delivered before; skipped", update_id)
            return False
        again = taken == inbox.AGAIN
        if again:
            logger.info("Telegram update %s was never answered; answering it now", update_id)
        too_fast = not again and await self._over_limit(update)
        self._in_hand[update_id] = Admission(again, too_fast, self._checked_text(update))
        return True

    async def finished(self, update: Update, *, answered: bool) -> None:
        """The update's handler is done: answered, or failed (it stays unanswered, to be
        tried again, ``inbox.MAX_ATTEMPTS`` times in all)."""
        try:
            if answered:
                await in_transaction(self._database_url, inbox.mark_answered, update.update_id)
        finally:
            self._in_hand.pop(update.update_id, None)

    def _refusal(self, update: Update) -> BadInput | None:
        """Why an update cannot be taken in, or None: it holds nothing the gateway answers,
        or its text (or button data) is not a string, is empty, or is too long."""
        if not (update.message or update.edited_message or update.callback_query):
            return BadInput(400, "nothing_to_answer", "it holds no message and no button press.")
        try:
            self._checked_text(update)
        except BadInput as refused:
            return refused
        return None

    def _checked_text(self, update: Update) -> str | None:
        raw = text_to_check(update)
        return None if raw is None else customer_text(raw, self._max_chars)

    def _tell_about(self, update: Update, refusal: BadInput) -> None:
        """A message too long to take in: the customer hears the limit (recorded nowhere, as
        the message is not). Other refusals are not for a customer to fix."""
        chat = update.effective_chat
        if refusal.code != "text_too_long" or chat is None or chat.type != ChatType.PRIVATE:
            return
        task = asyncio.create_task(self._tell(chat.id, refusal.message))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _over_limit(self, update: Update) -> bool:
        """Whether a customer message goes over its chat's limit (button presses never do)."""
        if self._rate_limit is None or not counts_towards_limit(update):
            return False
        chat = update.effective_chat
        assert chat is not None  # a message always has its chat
        wait = await self._rate_limit.check(f"telegram:{chat.id}")
        if wait is not None:
            logger.info("chat %s is over its limit for %d s more", chat.id, wait)
        return wait is not None

    # Updates left behind -------------------------------------------------------------------

    async def resume_left_behind(self, queue: AdmittingQueue, bot: Bot) -> None:
        """Takes on, now and every RESUME_EVERY_SECONDS, the updates a gateway wrote down and
        stopped before answering (Telegram never delivers an acknowledged update again)."""
        while True:
            try:
                await self._resume_once(queue, bot)
            except SQLAlchemyError as error:
                logger.warning("could not look for unanswered Telegram updates: %s", error)
            await asyncio.sleep(RESUME_EVERY_SECONDS)

    async def _resume_once(self, queue: AdmittingQueue, bot: Bot) -> None:
        waiting = await in_transaction(self._database_url, inbox.waiting, utcnow())
        for left in waiting:
            if left.update_id in self._in_hand:
                continue
            self._in_hand[left.update_id] = Admission(again=True)
            if not await in_transaction(self._database_url, inbox.claim, left):
                del self._in_hand[left.update_id]  # another gateway took it on
                continue
            try:
                update = read_update(left.payload, bot)
                admission = Admission(again=True, text=self._checked_text(update))
            except Exception as problem:  # it was read once; whatever broke now, skip it
                del self._in_hand[left.update_id]
                logger.error("could not read Telegram update %s again: %r", left.update_id, problem)
                continue
            self._in_hand[left.update_id] = admission
            logger.info(
                "answering Telegram update %s, left unanswered by a gateway that stopped",
                left.update_id,
            )
            await queue.put_admitted(update)
