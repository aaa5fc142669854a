"""The Telegram channel: python-telegram-bot's ``Application`` and the handlers that translate
Telegram updates to and from the relay.

How an update flows::

    webhook POST ─┐   admit: checked, written down,          group 0 (each a task)
                  ├─► then acknowledged ─► update_queue ─►  edited?      → ignore_edit
    getUpdates ───┘   │                     (in order)      group chat?  → decline_group
                      ├─ answered before ─► skipped         /start /help → welcome, help
                      └─ invalid ─► one log line            /status      → status
                                                            text         → on_text
        left unanswered by a gateway that                   anything else→ on_attachment
        stopped (intake) ──────► update_queue               button press → on_button
                                                            nothing else → nothing_to_answer

``bot.telegram.intake`` takes each update in: checked, written down (``bot.telegram.inbox``)
before Telegram is told it arrived, and marked answered when its handler finishes; until then
it is in hand, so a redelivery meanwhile is skipped. The application takes updates one at a
time, in delivery order; the handlers then run as tasks, so a slow answer in one chat never
holds up another, and a per-chat lock keeps each chat's replies in the order its messages
came.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.relay import Relay
from bot.telegram import own_answers
from bot.telegram.inbound import Admission, AdmittingQueue
from bot.telegram.intake import Intake, RateLimit, read_update
from bot.telegram.sender import TelegramSender
from bot.transactions import in_transaction
from redress.business import Brand
from redress.settings import TelegramSettings

logger = logging.getLogger("redress.gateway.telegram")

CHANNEL = "telegram"
# Edited messages are not asked for (see ignore_edit); channel posts are not conversations.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
PRIVATE_CHATS_ONLY = (
    "Hi! I can only help in a private chat, so your details stay between us. "
    "Please send me a direct message and I'll help you there."
)
# Checked in this order: an animation also carries a document, a venue also a location.
ATTACHMENT_KINDS = (
    "photo", "voice", "video_note", "video", "audio", "animation", "sticker", "document",
    "venue", "location", "contact", "poll", "dice",
)  # fmt: skip
RETRY_START_SECONDS = (5, 15, 30, 60, 120, 300)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def file_api_url(api_url: str) -> str:
    """Telegram serves files from /file/bot<token>/ beside /bot<token>/."""
    if api_url.endswith("/bot"):
        return api_url[: -len("bot")] + "file/bot"
    return api_url.rstrip("/") + "/file/bot"


def build_application(
    settings: TelegramSettings, admit: Callable[[Update], Awaitable[bool]]
) -> Application:
    """The PTB application; webhook mode has no updater, the gateway's server receives."""
    builder = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.api_url)
        .base_file_url(file_api_url(settings.api_url))
        .update_queue(AdmittingQueue(admit))
    )
    if settings.mode == "webhook":
        builder = builder.updater(None)
    return builder.build()


def attachment_kind(message: Message) -> str:
    """What a non-text message holds, in the words the record uses ("photo", "voice")."""
    for kind in ATTACHMENT_KINDS:
        if getattr(message, kind, None):
            return kind
    return "attachment"


def client_message_id(update: Update) -> str:
    """The relay's id for the customer message an update carries: a redelivery of the update
    is the same message, not a new one."""
    return f"update-{update.update_id}"


class TelegramChannel:
    """Receives Telegram updates (webhook or long polling) and answers through the relay."""

    def __init__(
        self,
        settings: TelegramSettings,
        database_url: str,
        relay: Relay,
        brand: Brand,
        *,
        max_message_chars: int,
        rate_limit: RateLimit | None = None,
    ) -> None:
        # The Bot API carries the token in every URL, and httpx logs URLs at INFO.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.settings = settings
        self.intake = Intake(
            database_url,
            max_message_chars=max_message_chars,
            rate_limit=rate_limit,  # each chat has the web chat's per-conversation limit
            tell=self._tell,
        )
        self.application = build_application(settings, self.intake.admit)
        self.sender = TelegramSender(self.application.bot, relay, database_url)
        self._relay = relay
        self._brand = brand
        self._database_url = database_url
        self._chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._declined_chats: set[int] = set()
        self._starting: asyncio.Task[None] | None = None
        self._resuming: asyncio.Task[None] | None = None
        relay.register_sender(CHANNEL, self.sender.push)
        self._add_handlers()

    @property
    def webhook_secret(self) -> str | None:
        return self.settings.webhook_secret if self.settings.mode == "webhook" else None

    def _add_handlers(self) -> None:
        private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
        app = self.application
        for handler in (
            MessageHandler(filters.UpdateType.EDITED, self._answering(self.ignore_edit)),
            MessageHandler(~filters.ChatType.PRIVATE, self._answering(self.decline_group)),
            CommandHandler("start", self._answering(self.welcome), filters=private),
            CommandHandler("help", self._answering(self.help), filters=private),
            CommandHandler("status", self._answering(self.status), filters=private),
            MessageHandler(private & filters.TEXT, self._answering(self.on_text)),
            MessageHandler(
                private & ~filters.StatusUpdate.ALL, self._answering(self.on_attachment)
            ),
            CallbackQueryHandler(self._answering(self.on_button)),
            TypeHandler(Update, self._answering(self.nothing_to_answer)),
        ):
            handler.block = False
            app.add_handler(handler)
        app.add_error_handler(self.on_error)

    # Starting and stopping ----------------------------------------------------------------

    async def start(self) -> None:
        """Connects to Telegram in the background, so an outage never stops the gateway."""
        self._starting = asyncio.create_task(self._start_until_connected())

    async def stop(self) -> None:
        """Finishes the updates in hand, then disconnects. Updates written down and not yet
        answered are answered by the next gateway to run."""
        for task in (self._starting, self._resuming):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except TelegramError as error:
            logger.warning("Telegram did not shut down cleanly: %s", error.message)

    def read(self, data: dict[str, Any]) -> Update:
        """A webhook body as an update; raises for anything that is not one."""
        return read_update(data, self.application.bot)

    async def receive(self, update: Update) -> None:
        """Takes one update from the webhook: written down (``admit``) and queued when this
        returns, so the webhook may answer 200. Raises NotRecorded when it could not be
        written down, so the webhook must not."""
        await self.application.update_queue.put(update)

    async def _start_until_connected(self) -> None:
        for attempt in itertools.count():
            try:
                await self._connect()
                queue = self.application.update_queue
                assert isinstance(queue, AdmittingQueue)
                self._resuming = asyncio.create_task(
                    self.intake.resume_left_behind(queue, self.application.bot)
                )
                return
            except InvalidToken:
                logger.error(
                    "Telegram rejected TELEGRAM_BOT_TOKEN; the Telegram channel is off. Check the "
                    "token with @BotFather. The web chat keeps working."
                )
                return
            except (TelegramError, OSError) as error:
                wait = RETRY_START_SECONDS[min(attempt, len(RETRY_START_SECONDS) - 1)]
                logger.error(
                    "Could not connect to Telegram (%s: %s). The web chat keeps working; "
                    "trying again in %d s.",
                    error.__class__.__name__, getattr(error, "message", error), wait,
                )  # fmt: skip
                await asyncio.sleep(wait)

    async def _connect(self) -> None:
        app = self.application
        await app.initialize()
        if not app.running:
            await app.start()
        if self.settings.mode == "webhook":
            await app.bot.set_webhook(
                url=self.settings.webhook_url or "",
                secret_token=self.settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            logger.info("Telegram webhook set to %s", self.settings.webhook_url)
        elif app.updater is not None and not app.updater.running:
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            logger.info("Telegram long polling started for @%s", app.bot.username)

    def _answering(self, handler: Handler) -> Handler:
        """``handler``, after which its update is marked answered (unless it failed)."""

        @functools.wraps(handler)
        async def handle(update: Update, context: Context) -> None:
            answered = False
            try:
                await handler(update, context)
                answered = True
            finally:
                await self.intake.finished(update, answered=answered)

        return handle

    def _admission(self, update: Update) -> Admission:
        return self.intake.admission(update)

    # Handlers ------------------------------------------------------------------------------

    async def ignore_edit(self, update: Update, context: Context) -> None:
        """An edited message changes nothing and gets no answer.

        The assistant has already answered the original. Sending the edit on would record a
        second customer message and could open a second complaint or answer twice, and
        rewriting the recorded text would make the record differ from what was answered.
        Customers who want to correct something say so in a new message, which the
        assistant understands ("sorry, it's BL-100004"). Edits are not asked for in
        ``allowed_updates``; this catches any that still arrive.
        """
        logger.debug("ignored an edited message in chat %s", update.effective_chat)

    async def decline_group(self, update: Update, context: Context) -> None:
        """Says once per group (per gateway run) that help is in private chats; records nothing."""
        chat = update.effective_chat
        if chat is None or chat.id in self._declined_chats:
            return
        self._declined_chats.add(chat.id)
        await self.sender.send_text(chat.id, PRIVATE_CHATS_ONLY)

    async def welcome(self, update: Update, context: Context) -> None:
        """/start: the business's welcome, recorded like any other exchange."""
        await self._answer_command(update, self._brand.welcome)

    async def help(self, update: Update, context: Context) -> None:
        """/help: how to talk to the assistant, recorded like any other exchange."""
        await self._answer_command(update, self._brand.help)

    async def status(self, update: Update, context: Context) -> None:
        """/status: the assistant answers with the customer's open complaints."""
        await self._converse(update, "/status", command="/ask_update")

    async def on_text(self, update: Update, context: Context) -> None:
        """Any other text goes to the assistant; the relay makes typed slashes plain text."""
        await self._converse(update, self._admission(update).text or "")

    async def on_attachment(self, update: Update, context: Context) -> None:
        """A photo, voice note, sticker or file: recorded as such and answered politely."""
        message = update.effective_message
        kind = attachment_kind(message)
        async with self._chat_locks[message.chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(message.chat_id))
            if await self._answered_before(update, conversation_id):
                return
            if self._admission(update).too_fast:
                await self._slow_down(update, conversation_id, f"({kind})", {"attachment": kind})
                return
            outcome = await self._relay.attachment(
                conversation_id,
                kind,
                self._brand.attachments_not_understood,
                external_id=str(message.message_id),
            )
            await self.sender.send(conversation_id, message.chat_id, outcome.replies)

    async def on_button(self, update: Update, context: Context) -> None:
        """A button press: acknowledged at once, then handled as if the customer sent it."""
        query = update.callback_query
        try:
            await query.answer()
        except TelegramError as error:
            logger.warning("could not answer a button press: %s", error.message)
        message = query.message
        data = self._admission(update).text
        if message is None or data is None or message.chat.type != ChatType.PRIVATE:
            return
        try:  # the choice is made; take the buttons away so it is not made twice
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError as error:
            logger.debug("could not remove the buttons: %s", error.message)
        await self._converse_in(update, message.chat.id, data, external_id=None)

    async def nothing_to_answer(self, update: Update, context: Context) -> None:
        """A service message in a private chat (a pinned message, say): nothing to say."""
        logger.debug("nothing to answer in Telegram update %s", update.update_id)

    async def on_error(self, update: object, context: Context) -> None:
        """Logs whatever went wrong while handling an update; the next update goes on."""
        logger.error("error handling Telegram update", exc_info=context.error)

    # Helpers -------------------------------------------------------------------------------

    async def _tell(self, chat_id: int, text: str) -> None:
        await self.sender.send_text(chat_id, text)

    async def _converse(self, update: Update, text: str, *, command: str | None = None) -> None:
        message = update.effective_message
        await self._converse_in(
            update, message.chat_id, text, external_id=str(message.message_id), command=command
        )

    async def _converse_in(
        self,
        update: Update,
        chat_id: int,
        text: str,
        *,
        external_id: str | None,
        command: str | None = None,
    ) -> None:
        admission = self._admission(update)
        async with self._chat_locks[chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(chat_id))
            if admission.too_fast:
                await self._slow_down(update, conversation_id, text, {})
                return
            # Sent again, the same client_message_id is the same message: the relay asks the
            # assistant again only if it never answered, and records nothing twice.
            outcome = await self._relay.handle(
                conversation_id,
                text,
                CHANNEL,
                external_id=external_id,
                command=command,
                client_message_id=client_message_id(update),
            )
            replies = outcome.replies
            if admission.again:
                replies = await in_transaction(self._database_url, own_answers.unsent, replies)
            await self.sender.send(conversation_id, chat_id, replies)

    async def _answer_command(self, update: Update, reply: str) -> None:
        message = update.effective_message
        text = self._admission(update).text or ""
        async with self._chat_locks[message.chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(message.chat_id))
            if await self._answered_before(update, conversation_id):
                return
            if self._admission(update).too_fast:
                await self._slow_down(update, conversation_id, text, {})
                return
            said = await in_transaction(
                self._database_url,
                own_answers.record_command,
                conversation_id,
                text,
                str(message.message_id),
                reply,
            )
            await self.sender.send(conversation_id, message.chat_id, said)

    async def _answered_before(self, update: Update, conversation_id: str) -> bool:
        """For an update taken in again: when the earlier attempt recorded the message, sends
        what it recorded and did not send, and says so."""
        message = update.effective_message
        if not self._admission(update).again or message is None:
            return False
        unsent = await in_transaction(
            self._database_url,
            own_answers.earlier_attempt,
            conversation_id,
            str(message.message_id),
        )
        if unsent is None:
            return False
        await self.sender.send(conversation_id, message.chat_id, unsent)
        return True

    async def _slow_down(
        self, update: Update, conversation_id: str, shown: str, details: dict[str, Any]
    ) -> None:
        """A message over the chat's limit: recorded, not passed on; the first of a burst
        gets the business's "slow down"."""
        message = update.effective_message
        said = await in_transaction(
            self._database_url,
            functools.partial(
                own_answers.record_too_fast,
                details=details,
                telegram_id=str(message.message_id),
                client_message_id=client_message_id(update),
                slow_down=self._brand.slow_down,
            ),
            conversation_id,
            shown,
        )
        await self.sender.send(conversation_id, message.chat_id, said)
