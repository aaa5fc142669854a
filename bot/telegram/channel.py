"""The Telegram channel: python-telegram-bot's ``Application`` and the handlers that translate
Telegram updates to and from the relay.

How an update flows::

    webhook POST ─┐                      group -1                 group 0 (each a task)
                  ├─► update_queue ─► remember_update ──first──► edited?      → ignore_edit
    getUpdates ───┘   (in order)        │                         group chat?  → decline_group
                                        └─seen before─► stop      /start /help → welcome, help
                                                                  /status      → status
                                                                  text         → on_text
                                                                  anything else→ on_attachment
                                                                  button press → on_button

The application takes updates one at a time, so the duplicate check runs in delivery order;
the handlers then run as tasks, so a slow answer in one chat never holds up another, and a
per-chat lock keeps each chat's replies in the order its messages came.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.relay import Relay
from bot.telegram.sender import TelegramSender
from redress.business import Brand
from redress.conversations import records as conversations
from redress.db.session import unit_of_work
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


def file_api_url(api_url: str) -> str:
    """Telegram serves files from /file/bot<token>/ beside /bot<token>/."""
    if api_url.endswith("/bot"):
        return api_url[: -len("bot")] + "file/bot"
    return api_url.rstrip("/") + "/file/bot"


def build_application(settings: TelegramSettings) -> Application:
    """The PTB application; webhook mode has no updater, the gateway's server receives."""
    builder = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.api_url)
        .base_file_url(file_api_url(settings.api_url))
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


class TelegramChannel:
    """Receives Telegram updates (webhook or long polling) and answers through the relay."""

    def __init__(
        self, settings: TelegramSettings, database_url: str, relay: Relay, brand: Brand
    ) -> None:
        # The Bot API carries the token in every URL, and httpx logs URLs at INFO.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.settings = settings
        self.application = build_application(settings)
        self.sender = TelegramSender(self.application.bot, relay, database_url)
        self._relay = relay
        self._brand = brand
        self._database_url = database_url
        self._chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._declined_chats: set[int] = set()
        self._starting: asyncio.Task[None] | None = None
        relay.register_sender(CHANNEL, self.sender.push)
        self._add_handlers()

    @property
    def webhook_secret(self) -> str | None:
        return self.settings.webhook_secret if self.settings.mode == "webhook" else None

    def _add_handlers(self) -> None:
        private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
        app = self.application
        app.add_handler(TypeHandler(Update, self.remember_update), group=-1)
        for handler in (
            MessageHandler(filters.UpdateType.EDITED, self.ignore_edit),
            MessageHandler(~filters.ChatType.PRIVATE, self.decline_group),
            CommandHandler("start", self.welcome, filters=private),
            CommandHandler("help", self.help, filters=private),
            CommandHandler("status", self.status, filters=private),
            MessageHandler(private & filters.TEXT, self.on_text),
            MessageHandler(private & ~filters.StatusUpdate.ALL, self.on_attachment),
            CallbackQueryHandler(self.on_button),
        ):
            handler.block = False
            app.add_handler(handler)
        app.add_error_handler(self.on_error)

    # Starting and stopping ----------------------------------------------------------------

    async def start(self) -> None:
        """Connects to Telegram in the background, so an outage never stops the gateway."""
        self._starting = asyncio.create_task(self._start_until_connected())

    async def stop(self) -> None:
        """Finishes the updates in hand, then disconnects."""
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except TelegramError as error:
            logger.warning("Telegram did not shut down cleanly: %s", error.message)

    async def receive(self, data: dict[str, Any]) -> None:
        """Queues one update from the webhook; the application processes it in order."""
        update = Update.de_json(data, self.application.bot)
        if update is None or not isinstance(update.update_id, int):
            raise ValueError("not a Telegram update")
        await self.application.update_queue.put(update)

    async def _start_until_connected(self) -> None:
        for attempt in itertools.count():
            try:
                await self._connect()
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

    # Handlers ------------------------------------------------------------------------------

    async def remember_update(self, update: Update, context: Context) -> None:
        """Lets each update through once, even when Telegram delivers it again after a restart."""
        if not await run_in_threadpool(self._first_sighting, update.update_id):
            logger.info("Telegram update %s was delivered before; skipped", update.update_id)
            raise ApplicationHandlerStop

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
        message = update.effective_message
        await self._converse_in(
            message.chat_id, "/status", external_id=str(message.message_id), command="/ask_update"
        )

    async def on_text(self, update: Update, context: Context) -> None:
        """Any other text goes to the assistant; the relay makes typed slashes plain text."""
        await self._converse(update, update.effective_message.text or "")

    async def on_attachment(self, update: Update, context: Context) -> None:
        """A photo, voice note, sticker or file: recorded as such and answered politely."""
        message = update.effective_message
        async with self._chat_locks[message.chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(message.chat_id))
            outcome = await self._relay.attachment(
                conversation_id,
                attachment_kind(message),
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
        if message is None or query.data is None or message.chat.type != ChatType.PRIVATE:
            return
        try:  # the choice is made; take the buttons away so it is not made twice
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError as error:
            logger.debug("could not remove the buttons: %s", error.message)
        await self._converse_in(message.chat.id, query.data, external_id=None)

    async def on_error(self, update: object, context: Context) -> None:
        """Logs whatever went wrong while handling an update; the next update goes on."""
        logger.error("error handling Telegram update", exc_info=context.error)

    # Helpers -------------------------------------------------------------------------------

    async def _converse(self, update: Update, text: str) -> None:
        message = update.effective_message
        await self._converse_in(message.chat_id, text, external_id=str(message.message_id))

    async def _converse_in(
        self, chat_id: int, text: str, *, external_id: str | None, command: str | None = None
    ) -> None:
        async with self._chat_locks[chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(chat_id))
            outcome = await self._relay.handle(
                conversation_id, text, CHANNEL, external_id=external_id, command=command
            )
            await self.sender.send(conversation_id, chat_id, outcome.replies)

    async def _answer_command(self, update: Update, reply: str) -> None:
        message = update.effective_message
        async with self._chat_locks[message.chat_id]:
            conversation_id = await self._relay.conversation_for(CHANNEL, str(message.chat_id))
            await run_in_threadpool(
                self._record_command, conversation_id, message.text or "", message.message_id
            )
            await self._relay.push(conversation_id, "bot", reply)

    def _record_command(self, conversation_id: str, text: str, telegram_id: int) -> None:
        with unit_of_work(self._database_url) as session:
            conversation = conversations.get_conversation(session, conversation_id)
            assert conversation is not None  # conversation_for created it
            conversations.record_message(
                session, conversation, "customer", text,
                details={"command": text.split()[0]}, external_id=str(telegram_id),
            )  # fmt: skip

    def _first_sighting(self, update_id: int) -> bool:
        with unit_of_work(self._database_url) as session:
            return conversations.first_sighting_of_telegram_update(session, update_id)
