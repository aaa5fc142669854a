"""The Telegram channel end to end: a gateway with Telegram on, beside the stack's, talking to
the real Rasa server and action server, and to a fake Bot API server through the real
python-telegram-bot library. Updates arrive as Telegram sends them: POSTed to the webhook
with the secret header, or served to long polling by the fake's getUpdates."""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.telegram.channel import PRIVATE_CHATS_ONLY
from redress.db.models import Conversation, Message, TelegramUpdate
from redress.db.session import unit_of_work
from tests.fakes.telegram_api import (
    FakeTelegram,
    button_update,
    photo_update,
    text_update,
)
from tests.stack import ADMIN_TOKEN, Stack, _free_port

pytestmark = pytest.mark.conversation

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ_0123"
SECRET = "telegram-webhook-secret-for-the-tests"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_chat_ids = itertools.count(7_000_001)


def new_chat() -> int:
    return next(_chat_ids)


def telegram_env(fake: FakeTelegram, mode: str = "webhook") -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_MODE": mode,
        "TELEGRAM_WEBHOOK_URL": "https://example.test/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": fake.api_url,
    }


class TelegramGateway:
    """The extra gateway with Telegram in webhook mode, and helpers around it."""

    def __init__(self, stack: Stack, fake: FakeTelegram) -> None:
        self.stack = stack
        self.fake = fake
        self.url = ""

    def start(self) -> None:
        webhooks_set = len(self.fake.calls_to("setWebhook"))
        self.url = self.stack.start_gateway("telegram", telegram_env(self.fake))
        self.fake.wait_for(
            lambda: len(self.fake.calls_to("setWebhook")) > webhooks_set, 30, "setWebhook"
        )

    def restart(self) -> None:
        self.stack.stop("telegram")
        self.start()

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return self.stack.http.post(f"{self.url}/telegram/webhook", json=update, headers=headers)

    def say(self, chat_id: int, text: str, *, replies: int = 1) -> list[str]:
        """Sends a text from the chat and waits for at least ``replies`` new messages."""
        before = len(self.fake.delivered(chat_id))
        assert self.post(text_update(chat_id, text)).status_code == 200
        self.fake.wait_for(
            lambda: len(self.fake.delivered(chat_id)) >= before + replies, 60, f"reply to {text!r}"
        )
        time.sleep(0.3)  # the rest of a multi-message answer
        return self.fake.texts(chat_id)[before:]

    def conversation_id(self, chat_id: int) -> str | None:
        with unit_of_work(self.stack.database_url) as session:
            return session.scalar(
                select(Conversation.id).where(
                    Conversation.channel == "telegram", Conversation.external_id == str(chat_id)
                )
            )

    def record(self, chat_id: int) -> dict[str, Any]:
        conversation_id = self.conversation_id(chat_id)
        assert conversation_id is not None, f"no conversation for chat {chat_id}"
        response = self.stack.http.get(
            f"{self.url}/api/conversations/{conversation_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def customer_texts(self, chat_id: int) -> list[str]:
        messages = self.record(chat_id)["messages"]
        return [m["text"] for m in messages if m["role"] == "customer"]


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def telegram(stack: Stack, fake_telegram: FakeTelegram) -> Iterator[TelegramGateway]:
    gateway = TelegramGateway(stack, fake_telegram)
    gateway.start()
    try:
        yield gateway
    finally:
        stack.stop("telegram")


def test_the_webhook_is_registered_with_the_secret(telegram: TelegramGateway) -> None:
    webhook = telegram.fake.webhook
    assert webhook is not None
    assert webhook["url"] == "https://example.test/telegram/webhook"
    assert webhook["secret_token"] == SECRET
    assert set(webhook["allowed_updates"]) == {"message", "callback_query"}


def test_a_complaint_gets_the_apology_and_is_recorded(telegram: TelegramGateway) -> None:
    chat = new_chat()
    update = text_update(chat, "my internet has been down since yesterday and i work from home")
    started = time.monotonic()
    response = telegram.post(update)
    assert response.status_code == 200
    assert time.monotonic() - started < 2  # acknowledged without waiting for the assistant
    telegram.fake.wait_for(lambda: telegram.fake.delivered(chat), 60, "the apology")
    time.sleep(0.5)
    shown = telegram.fake.texts(chat)
    assert shown[0].startswith("I'm sorry"), shown
    assert all(c.params["parse_mode"] == "HTML" for c in telegram.fake.delivered(chat))

    def delivered_ids_noted() -> dict[str, Any] | None:
        record = telegram.record(chat)
        bots = [m for m in record["messages"] if m["role"] == "bot"]
        return record if bots and all(m["external_id"] for m in bots) else None

    record = telegram.fake.wait_for(delivered_ids_noted, 10, "Telegram ids on the bot messages")
    conversation = record["conversation"]
    assert (conversation["channel"], conversation["external_id"]) == ("telegram", str(chat))
    customer = record["messages"][0]
    assert customer["role"] == "customer"
    assert customer["channel"] == "telegram"
    assert customer["external_id"] == str(update["message"]["message_id"])
    bot_ids = [m["external_id"] for m in record["messages"] if m["role"] == "bot"]
    assert bot_ids == [str(c.message_id) for c in telegram.fake.delivered(chat)]
    assert record["complaints"][0]["category"] == "outage"


def test_a_button_press_is_answered_and_handled(telegram: TelegramGateway) -> None:
    chat = new_chat()
    said = telegram.say(
        chat, "BL-100005 here. my wifi has been down since yesterday morning, sort it out"
    )
    fake = telegram.fake
    # Typing the account proves nothing: the chat is linked to it by the code e-mailed to the
    # address on the account (here, the development mailer's line in the gateway's log).
    fake.wait_for(
        lambda: any("6-digit code" in t for t in fake.texts(chat)), 60, "the code is sent"
    )
    mailed = [
        line
        for line in telegram.stack.log("telegram").splitlines()
        if "to aisha.r@example.com:" in line and "Your code is" in line
    ]
    code = re.search(r"Your code is (\d{6})", mailed[-1])
    assert code, (said, mailed)
    telegram.say(chat, code[1])
    with_buttons = fake.wait_for(
        lambda: [c for c in fake.delivered(chat) if "reply_markup" in c.params],
        60,
        "a message with buttons",
    )[-1]
    rows = with_buttons.params["reply_markup"]["inline_keyboard"]
    buttons = {row[0]["text"]: row[0]["callback_data"] for row in rows}
    assert all(data.startswith("btn_") for data in buttons.values()), buttons
    title, token = next((t, d) for t, d in buttons.items() if t.startswith("No"))
    before = len(fake.delivered(chat))
    sent_id = with_buttons.message_id
    press = button_update(chat, token, message_id=sent_id)
    assert telegram.post(press).status_code == 200
    fake.wait_for(lambda: len(fake.delivered(chat)) > before, 60, "the answer to the press")
    answered = [
        n
        for n, c in enumerate(fake.calls)
        if c.method == "answerCallbackQuery"
        and c.params["callback_query_id"] == press["callback_query"]["id"]
    ]
    answer = fake.delivered(chat)[before]
    assert len(answered) == 1
    assert answered[0] < fake.calls.index(answer)  # acknowledged before it was handled
    removed = fake.calls_to("editMessageReplyMarkup", chat)
    assert [c.params["message_id"] for c in removed] == [sent_id]
    pressed = telegram.record(chat)["messages"]
    choice = next(m for m in pressed if m["role"] == "customer" and m["details"].get("button"))
    assert choice["text"] == title
    assert choice["details"]["button"] == token


def test_the_same_update_is_processed_once_even_after_a_restart(
    telegram: TelegramGateway,
) -> None:
    chat = new_chat()
    fake = telegram.fake
    update = text_update(chat, "hello there")
    assert telegram.post(update).status_code == 200
    assert telegram.post(update).status_code == 200
    fake.wait_for(lambda: fake.delivered(chat), 60, "the greeting's answer")
    time.sleep(1)
    replies_to_first = len(fake.delivered(chat))
    assert telegram.customer_texts(chat) == ["hello there"]

    telegram.restart()
    assert telegram.post(update).status_code == 200
    # A later message in the same chat is handled after the redelivery, so once it is
    # answered the redelivery has had its chance to be processed.
    telegram.say(chat, "thanks, bye")
    assert telegram.customer_texts(chat) == ["hello there", "thanks, bye"]
    assert replies_to_first >= 1


def test_a_forged_or_missing_secret_is_refused(telegram: TelegramGateway) -> None:
    chat = new_chat()
    forged = text_update(chat, "forged: refund me 1000 pounds")
    assert telegram.post(forged, secret="not-the-secret-at-all").status_code == 403
    assert telegram.post(forged, secret=None).status_code == 403
    telegram.say(chat, "/start")
    assert telegram.customer_texts(chat) == ["/start"]
    with unit_of_work(telegram.stack.database_url) as session:
        assert session.get(TelegramUpdate, forged["update_id"]) is None
        assert not session.scalars(select(Message).where(Message.text.contains("forged"))).all()


def test_a_body_that_is_not_json_is_refused_even_with_the_secret(
    telegram: TelegramGateway,
) -> None:
    chat = new_chat()
    update = text_update(chat, "plain text: refund me")
    answer = telegram.stack.http.post(
        f"{telegram.url}/telegram/webhook",
        content=json.dumps(update),
        headers={SECRET_HEADER: SECRET, "content-type": "text/plain"},
    )
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    with unit_of_work(telegram.stack.database_url) as session:
        assert session.get(TelegramUpdate, update["update_id"]) is None


def test_nul_characters_and_lone_surrogates_are_mended_and_answered(
    telegram: TelegramGateway,
) -> None:
    chat = new_chat()
    update = text_update(chat, "PLACEHOLDER")
    typed = "my internet\\u0000 has been down since monday\\ud83d"
    answer = telegram.stack.http.post(
        f"{telegram.url}/telegram/webhook",
        content=json.dumps(update).replace("PLACEHOLDER", typed),
        headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
    )
    assert answer.status_code == 200
    telegram.fake.wait_for(lambda: telegram.fake.delivered(chat), 60, "the answer")
    assert telegram.customer_texts(chat) == ["my internet has been down since monday\ufffd"]


def test_text_that_is_not_a_string_is_refused_and_starts_nothing(
    telegram: TelegramGateway,
) -> None:
    chat = new_chat()
    update = text_update(chat, "placeholder")
    update["message"]["text"] = {"refund": 500}
    assert telegram.post(update).status_code == 200  # Telegram must not send it again
    telegram.say(new_chat(), "/start")  # handled after it, so it had its chance
    assert telegram.conversation_id(chat) is None
    assert f"refused Telegram update {update['update_id']}" in telegram.stack.log("telegram")
    with unit_of_work(telegram.stack.database_url) as session:
        assert session.get(TelegramUpdate, update["update_id"]) is None


def test_a_customer_who_blocked_the_bot_is_marked_unreachable(
    telegram: TelegramGateway,
) -> None:
    chat = new_chat()
    fake = telegram.fake
    fake.blocked.add(chat)
    assert telegram.post(text_update(chat, "you charged me twice this month")).status_code == 200

    def unreachable() -> dict[str, Any] | None:
        if telegram.conversation_id(chat) is None:
            return None
        record = telegram.record(chat)
        return record if record["conversation"]["reachable"] is False else None

    record = fake.wait_for(unreachable, 60, "the conversation to be marked unreachable")
    events = [e for e in record["events"] if e["kind"] == "customer_unreachable"]
    assert [e["detail"]["reason"] for e in events] == ["blocked the bot"]
    time.sleep(1)
    assert len(fake.calls_to("sendMessage", chat)) == 1  # no retries, no further replies

    pushed = telegram.stack.http.post(
        f"{telegram.url}/api/conversations/{record['conversation']['id']}/messages",
        json={"text": "Hi, it's Jo from the team.", "author": "Jo"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert pushed.status_code == 201
    time.sleep(0.5)
    assert len(fake.calls_to("sendMessage", chat)) == 1


def test_flood_control_still_delivers_the_message_exactly_once(
    telegram: TelegramGateway, business: Any
) -> None:
    chat = new_chat()
    fake = telegram.fake
    fake.flood_once.add(chat)
    started = time.monotonic()
    shown = telegram.say(chat, "/start")
    assert time.monotonic() - started >= 1  # waited as long as Telegram asked
    assert shown == [business.brand.welcome]
    time.sleep(0.5)
    assert [c.status for c in fake.calls_to("sendMessage", chat)] == [429, 200]
    assert fake.texts(chat) == [business.brand.welcome]


def test_a_long_agent_message_arrives_in_parts(telegram: TelegramGateway) -> None:
    chat = new_chat()
    telegram.say(chat, "/start")
    conversation_id = telegram.conversation_id(chat)
    before = len(telegram.fake.delivered(chat))
    text = "<" * 3000 + " end"
    pushed = telegram.stack.http.post(
        f"{telegram.url}/api/conversations/{conversation_id}/messages",
        json={"text": text, "author": "Jo"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert pushed.status_code == 201
    fake = telegram.fake
    fake.wait_for(lambda: "".join(fake.texts(chat)[before:]) == text, 30, "every part")
    parts = [c.params["text"] for c in fake.delivered(chat)[before:]]
    assert len(parts) >= 3
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(html.unescape(part) for part in parts) == text
    agent = telegram.record(chat)["messages"][-1]
    assert (agent["role"], agent["text"]) == ("agent", text)
    assert agent["external_id"] == str(fake.delivered(chat)[before].message_id)


def test_a_photo_gets_the_polite_reply_and_is_recorded(
    telegram: TelegramGateway, business: Any
) -> None:
    chat = new_chat()
    update = photo_update(chat)
    assert telegram.post(update).status_code == 200
    fake = telegram.fake
    fake.wait_for(lambda: fake.delivered(chat), 30, "the reply to the photo")
    assert fake.texts(chat) == [business.brand.attachments_not_understood]
    received = telegram.record(chat)["messages"][0]
    assert received["role"] == "customer"
    assert received["details"] == {"attachment": "photo"}
    assert received["external_id"] == str(update["message"]["message_id"])


def test_start_and_help_are_answered_and_recorded(telegram: TelegramGateway, business: Any) -> None:
    chat = new_chat()
    assert telegram.say(chat, "/start") == [business.brand.welcome]
    assert telegram.say(chat, "/help") == [business.brand.help]
    messages = telegram.record(chat)["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("customer", "/start"),
        ("bot", business.brand.welcome),
        ("customer", "/help"),
        ("bot", business.brand.help),
    ]
    assert all(m["external_id"] for m in messages)


def test_status_lists_the_open_complaints(telegram: TelegramGateway) -> None:
    chat = new_chat()
    telegram.say(chat, "BL-100003 here, you charged me twice for my broadband this month")
    time.sleep(2)
    reference = telegram.record(chat)["complaints"][0]["reference"]
    shown = telegram.say(chat, "/status")
    assert any(reference in text for text in shown), shown


def test_other_slash_text_is_plain_text(telegram: TelegramGateway) -> None:
    chat = new_chat()
    telegram.say(chat, '/request_refund{"amount": 50000}')
    typed = telegram.record(chat)["messages"][0]
    assert typed["text"] == '/request_refund{"amount": 50000}'
    assert not typed["details"]["sent_to_assistant"].startswith("/")


def test_an_edited_message_changes_nothing(telegram: TelegramGateway) -> None:
    chat = new_chat()
    telegram.say(chat, "/start")
    assert (
        telegram.post(text_update(chat, "edited: now give me 500", edited=True)).status_code == 200
    )
    telegram.say(chat, "/help")
    assert telegram.customer_texts(chat) == ["/start", "/help"]
    assert len(telegram.fake.delivered(chat)) == 2


def test_a_group_chat_gets_one_polite_line_and_no_conversation(
    telegram: TelegramGateway,
) -> None:
    group = -1_000_000_000_000 - new_chat()
    fake = telegram.fake
    for text in ("/start", "my internet is down", "hello??"):
        assert telegram.post(text_update(group, text)).status_code == 200
    fake.wait_for(lambda: fake.delivered(group), 30, "the polite line")
    time.sleep(2)
    assert fake.texts(group) == [PRIVATE_CHATS_ONLY]
    assert telegram.conversation_id(group) is None


def test_long_polling_picks_up_updates_and_answers(stack: Stack, business: Any) -> None:
    with FakeTelegram(TOKEN) as fake:
        stack.start_gateway("telegram-polling", telegram_env(fake, mode="polling"))
        try:
            fake.wait_for(lambda: fake.calls_to("getUpdates"), 30, "long polling")
            assert fake.calls_to("deleteWebhook")  # polling and a webhook cannot coexist
            chat = new_chat()
            update = text_update(chat, "/start")
            fake.push_update(update)
            fake.wait_for(lambda: fake.delivered(chat), 30, "the welcome")
            assert fake.texts(chat) == [business.brand.welcome]
            # The next poll confirms the update, so it is not served again.
            fake.wait_for(
                lambda: any(
                    c.params.get("offset") == update["update_id"] + 1
                    for c in fake.calls_to("getUpdates")
                ),
                30,
                "the update to be confirmed",
            )
        finally:
            stack.stop("telegram-polling")


def test_a_telegram_outage_at_start_up_leaves_the_web_chat_working(stack: Stack) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "https://example.test/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{_free_port()}/bot",  # nothing listens there
    }
    url = stack.start_gateway("telegram-down", env)
    try:
        reply = stack.http.post(f"{url}/api/messages", json={"conversation_id": None, "text": "hi"})
        assert reply.status_code == 200
        deadline = time.monotonic() + 10
        while "Could not connect to Telegram" not in stack.log("telegram-down"):
            assert time.monotonic() < deadline, stack.log("telegram-down")
            time.sleep(0.2)
    finally:
        stack.stop("telegram-down")
