"""Telegram updates coming in, end to end: the real gateway (``python -m bot``) with Telegram
on, the real python-telegram-bot library against the fake Bot API server, and the fake Rasa
behind it, on SQLite and on PostgreSQL. An update is written down before it is acknowledged
and answered once, even when the gateway is killed in between; text Telegram may carry that
the records cannot (NUL, lone surrogates) is mended, and what is not text is refused with a
200 and one log line; a chat that sends too fast hears "slow down" once per burst."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.telegram.own_answers import RATE_LIMITED, SLOW_DOWN
from redress.business import Business
from redress.clock import utcnow
from redress.db.models import Conversation, Message, TelegramUpdate
from redress.db.session import unit_of_work
from scripts.stack import Stack
from tests.conftest import postgres_database
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import FakeTelegram, next_update_id, text_update

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ_0123"
SECRET = "telegram-webhook-secret-for-the-tests"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PER_MINUTE = 5  # the chat's limit in these gateways
_chat_ids = itertools.count(8_100_001)


def new_chat() -> int:
    return next(_chat_ids)


class Gateway:
    """One gateway process with Telegram in webhook mode, its fakes and its records."""

    def __init__(self, stack: Stack, telegram: FakeTelegram, rasa: FakeRasa, name: str) -> None:
        self.stack, self.telegram, self.rasa, self.name = stack, telegram, rasa, name
        self.url = ""

    def start(self) -> None:
        set_before = len(self.telegram.calls_to("setWebhook"))
        self.url = self.stack.start_gateway(
            self.name,
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_WEBHOOK_URL": "https://example.test/telegram/webhook",
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_API_URL": self.telegram.api_url,
                "RASA_URL": self.rasa.url,
                "RASA_TIMEOUT_SECONDS": "60",
                "WEBCHAT_MESSAGES_PER_MINUTE_PER_CONVERSATION": str(PER_MINUTE),
            },
        )
        self.telegram.wait_for(
            lambda: len(self.telegram.calls_to("setWebhook")) > set_before, 30, "setWebhook"
        )

    def kill(self) -> None:
        """Stops the gateway the hard way: nothing in hand is finished."""
        process = self.stack.processes.pop(self.name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def post(self, body: dict[str, Any] | str | bytes) -> httpx.Response:
        content = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.stack.http.post(
            f"{self.url}/telegram/webhook",
            content=content,
            headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
        )

    def log(self) -> str:
        return (self.stack.workdir / f"{self.name}.log").read_text(errors="replace")

    def texts(self, chat: int) -> list[str]:
        return self.telegram.texts(chat)

    def wait_for_texts(self, chat: int, count: int, what: str) -> list[str]:
        self.telegram.wait_for(lambda: len(self.texts(chat)) >= count, 30, what)
        time.sleep(0.5)  # anything that would wrongly follow
        return self.texts(chat)

    def messages(self, chat: int) -> list[Message]:
        with unit_of_work(self.stack.database_url) as session:
            conversation = self.conversation(session, chat)
            assert conversation is not None, f"no conversation for chat {chat}"
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.id)
            ).all()
            session.expunge_all()
            return list(rows)

    def conversation(self, session: Any, chat: int) -> Conversation | None:
        return session.scalar(
            select(Conversation).where(
                Conversation.channel == "telegram", Conversation.external_id == str(chat)
            )
        )

    def has_conversation(self, chat: int) -> bool:
        with unit_of_work(self.stack.database_url) as session:
            return self.conversation(session, chat) is not None

    def update_row(self, update_id: int) -> TelegramUpdate | None:
        with unit_of_work(self.stack.database_url) as session:
            row = session.get(TelegramUpdate, update_id)
            if row is not None:
                session.expunge(row)
            return row


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('telegram') / 'redress.db'}"
        return
    with postgres_database("redress_telegram") as url:
        yield url


@pytest.fixture(scope="module")
def stack(
    database: str, business: Business, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("gateways"), business, database_url=database)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(stack: Stack, fake_telegram: FakeTelegram) -> Iterator[Gateway]:
    """A gateway for the tests that do not stop it."""
    rasa = FakeRasa()
    running = Gateway(stack, fake_telegram, rasa, "telegram")
    running.start()
    try:
        yield running
    finally:
        stack.stop("telegram")
        rasa.close()


@pytest.fixture
def slow_gateway(stack: Stack, fake_telegram: FakeTelegram) -> Iterator[Gateway]:
    """A gateway of its own whose assistant takes 20 s to answer, for killing mid-answer."""
    rasa = FakeRasa(delay=20)
    running = Gateway(stack, fake_telegram, rasa, "telegram-slow")
    running.start()
    try:
        yield running
    finally:
        stack.stop("telegram-slow")
        rasa.close()


def killed_while_answering(slow: Gateway, chat: int, text: str) -> dict[str, Any]:
    """Posts an update, checks it was written down before the 200, and kills the gateway
    while the assistant is still thinking about it; returns the update."""
    sent = text_update(chat, text)
    assert slow.post(sent).status_code == 200
    row = slow.update_row(sent["update_id"])  # no waiting: it is written down before the 200
    assert row is not None and row.status == "received"
    assert row.payload is not None and row.payload["message"]["text"] == text
    slow.telegram.wait_for(
        lambda: text in [m["message"] for m in slow.rasa.received], 30, "the assistant asked"
    )
    slow.kill()
    slow.rasa.delay = 0
    assert slow.texts(chat) == []
    return sent


# Never lost, never answered twice ----------------------------------------------------------


def test_a_redelivery_after_a_crash_before_answering_is_answered_once(
    slow_gateway: Gateway,
) -> None:
    chat = new_chat()
    sent = killed_while_answering(slow_gateway, chat, "my broadband is down")

    slow_gateway.start()
    assert slow_gateway.post(sent).status_code == 200
    assert slow_gateway.wait_for_texts(chat, 1, "the answer") == [
        "I hear you: my broadband is down"
    ]
    assert slow_gateway.post(sent).status_code == 200  # answered now: a duplicate
    time.sleep(1)
    assert slow_gateway.texts(chat) == ["I hear you: my broadband is down"]
    row = slow_gateway.update_row(sent["update_id"])
    assert row is not None
    assert (row.status, row.attempts, row.payload) == ("answered", 2, None)
    said = [(m.role, m.text) for m in slow_gateway.messages(chat)]
    assert said == [
        ("customer", "my broadband is down"),  # recorded once, though taken in twice
        ("bot", "I hear you: my broadband is down"),
    ]
    assert f"Telegram update {sent['update_id']} was never answered" in slow_gateway.log()


def test_an_update_left_unanswered_is_answered_without_a_redelivery(
    slow_gateway: Gateway,
) -> None:
    chat = new_chat()
    sent = killed_while_answering(slow_gateway, chat, "nobody answered me")
    # Telegram had its 200, so it never sends the update again; once it has waited longer than
    # any gateway takes to answer, a running gateway answers it.
    with unit_of_work(slow_gateway.stack.database_url) as session:
        session.execute(
            update(TelegramUpdate)
            .where(TelegramUpdate.update_id == sent["update_id"])
            .values(received_at=utcnow() - timedelta(minutes=3))
        )

    slow_gateway.start()
    assert slow_gateway.wait_for_texts(chat, 1, "the answer") == ["I hear you: nobody answered me"]
    row = slow_gateway.update_row(sent["update_id"])
    assert row is not None and row.status == "answered"
    assert [m.role for m in slow_gateway.messages(chat)] == ["customer", "bot"]


def test_the_same_update_twice_while_it_is_answered_is_answered_once(
    slow_gateway: Gateway,
) -> None:
    chat = new_chat()
    slow_gateway.rasa.delay = 2
    sent = text_update(chat, "hello twice")
    assert slow_gateway.post(sent).status_code == 200
    assert slow_gateway.post(sent).status_code == 200
    assert slow_gateway.wait_for_texts(chat, 1, "the answer") == ["I hear you: hello twice"]
    time.sleep(2)
    assert slow_gateway.texts(chat) == ["I hear you: hello twice"]
    assert [m["message"] for m in slow_gateway.rasa.received].count("hello twice") == 1


def test_a_slow_answer_is_preceded_by_a_notice_and_each_is_sent_once(
    slow_gateway: Gateway, business: Business
) -> None:
    chat = new_chat()
    slow_gateway.rasa.delay = 8  # the notice is due after 5 s
    assert slow_gateway.post(text_update(chat, "no dial tone")).status_code == 200
    assert slow_gateway.wait_for_texts(chat, 1, "the notice") == [business.brand.taking_longer]
    assert slow_gateway.wait_for_texts(chat, 2, "the answer") == [
        business.brand.taking_longer,
        "I hear you: no dial tone",
    ]
    said = [(m.role, m.text) for m in slow_gateway.messages(chat)]
    assert said == [
        ("customer", "no dial tone"),
        ("bot", business.brand.taking_longer),
        ("bot", "I hear you: no dial tone"),
    ]


def test_card_details_are_masked_in_the_kept_update_and_everywhere_after(
    slow_gateway: Gateway,
) -> None:
    gateway, chat = slow_gateway, new_chat()
    gateway.rasa.delay = 1
    sent = text_update(chat, "refund it to 4111-1111-1111-1111 please")
    assert gateway.post(sent).status_code == 200
    shown = "refund it to •••• •••• •••• 1111 please"
    row = gateway.update_row(sent["update_id"])  # written down before the 200
    assert row is not None and row.payload is not None
    assert row.payload["message"]["text"] == shown
    texts = gateway.wait_for_texts(chat, 2, "the sentence and the answer")
    assert texts[0].startswith("For your safety I've hidden the card details you sent")
    assert texts[1] == f"I hear you: {shown}"
    assert gateway.messages(chat)[0].text == shown
    assert "4111" not in gateway.log()


def test_long_polling_writes_updates_down_before_confirming_them(
    stack: Stack, business: Business
) -> None:
    database_url = stack.database_url
    confirmed_unrecorded: list[int] = []

    class Checking(FakeTelegram):
        """Notes any update confirmed (a later offset asked for) before it was written down."""

        def _take_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
            offset = int(params.get("offset") or 0)
            with self._changed:
                confirmed = [u["update_id"] for u in self._updates if u["update_id"] < offset]
            with unit_of_work(database_url) as session:
                for update_id in confirmed:
                    if session.get(TelegramUpdate, update_id) is None:
                        confirmed_unrecorded.append(update_id)
            return super()._take_updates(params)

    with Checking(TOKEN) as fake:
        rasa = FakeRasa()
        stack.start_gateway(
            "telegram-polling",
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_MODE": "polling",
                "TELEGRAM_API_URL": fake.api_url,
                "RASA_URL": rasa.url,
            },
        )
        try:
            chat = new_chat()
            for n in range(3):
                fake.push_update(text_update(chat, f"message {n}"))
            fake.wait_for(lambda: len(fake.texts(chat)) == 3, 30, "three answers")
            assert fake.texts(chat) == [f"I hear you: message {n}" for n in range(3)]
        finally:
            stack.stop("telegram-polling")
            rasa.close()
    assert confirmed_unrecorded == []


# Text the records cannot hold, and what is not text ----------------------------------------


def test_nul_characters_and_lone_surrogates_are_mended(gateway: Gateway) -> None:
    chat = new_chat()
    sent = text_update(chat, "PLACEHOLDER")
    body = json.dumps(sent).replace("PLACEHOLDER", "my \\u0000router\\ud800 is dead")
    assert gateway.post(body).status_code == 200
    shown = gateway.wait_for_texts(chat, 1, "the answer")
    assert shown == ["I hear you: my router\ufffd is dead"]
    customer = gateway.messages(chat)[0]
    assert (customer.role, customer.text) == ("customer", "my router\ufffd is dead")
    row = gateway.update_row(sent["update_id"])
    assert row is not None and row.status == "answered"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (42, "must be a string"),
        (["hi"], "must be a string"),
        ({"text": "hi"}, "must be a string"),
        ("\u200b\u200d\ufeff  \u2060", "text is empty"),
    ],
    ids=["number", "list", "object", "invisible"],
)
def test_text_that_is_not_text_is_refused_with_200_and_one_line(
    gateway: Gateway, text: Any, reason: str
) -> None:
    chat = new_chat()
    sent = text_update(chat, "placeholder")
    sent["message"]["text"] = text
    answer = gateway.post(sent)
    assert answer.status_code == 200
    time.sleep(0.5)
    lines = [line for line in gateway.log().splitlines() if str(sent["update_id"]) in line]
    assert len(lines) == 1, lines
    assert "refused Telegram update" in lines[0] and reason in lines[0]
    assert "Traceback" not in gateway.log()
    assert not gateway.has_conversation(chat)
    assert gateway.update_row(sent["update_id"]) is None
    assert gateway.texts(chat) == []


def test_text_too_long_to_keep_is_refused_and_the_customer_hears_the_limit(
    gateway: Gateway,
) -> None:
    chat = new_chat()
    assert gateway.post(text_update(chat, "a" * 4050)).status_code == 200
    shown = gateway.wait_for_texts(chat, 1, "the limit")
    assert shown == [
        "Messages can be up to 4000 characters; this one has 4050. "
        "Please shorten it or send it in parts."
    ]
    assert not gateway.has_conversation(chat)


@pytest.mark.parametrize(
    "body",
    [
        '{"update_id": 1, "message": "hello"}',
        '{"update_id": "one"}',
        '{"message": {"text": "no update id"}}',
        '{"update_id": 100000000000000000000000000}',
        "[1, 2, 3]",
        "not json at all",
    ],
    ids=["message-not-an-object", "id-not-a-number", "no-id", "id-too-large", "list", "not-json"],
)
def test_what_is_not_an_update_is_refused_with_200_and_one_line(
    gateway: Gateway, body: str
) -> None:
    before = gateway.log().count("refused a webhook call that is not a Telegram update")
    assert gateway.post(body).status_code == 200
    assert gateway.log().count("refused a webhook call that is not a Telegram update") == before + 1
    assert "Traceback" not in gateway.log()


def test_an_update_with_nothing_to_answer_is_refused_with_200(gateway: Gateway) -> None:
    update_id = next_update_id()
    assert gateway.post({"update_id": update_id}).status_code == 200
    assert f"refused Telegram update {update_id}: it holds no message" in gateway.log()
    assert gateway.update_row(update_id) is None


def test_only_json_is_accepted(gateway: Gateway) -> None:
    sent = text_update(new_chat(), "plain text, please")
    answer = gateway.stack.http.post(
        f"{gateway.url}/telegram/webhook",
        content=json.dumps(sent),
        headers={SECRET_HEADER: SECRET, "content-type": "text/plain"},
    )
    assert answer.status_code == 415
    assert gateway.update_row(sent["update_id"]) is None


# Too fast ------------------------------------------------------------------------------------


def test_a_burst_gets_one_slow_down_and_every_message_is_recorded(
    gateway: Gateway, business: Business
) -> None:
    chat = new_chat()
    burst = [f"are you there {n}" for n in range(PER_MINUTE + 7)]
    for text in burst:
        assert gateway.post(text_update(chat, text)).status_code == 200
    answered = [f"I hear you: {text}" for text in burst[:PER_MINUTE]]
    shown = gateway.wait_for_texts(chat, PER_MINUTE + 1, "the answers and one slow down")
    time.sleep(1)
    assert gateway.texts(chat) == [*answered, business.brand.slow_down]
    asked = [m["message"] for m in gateway.rasa.received]
    assert [text for text in burst if text in asked] == burst[:PER_MINUTE]

    messages = gateway.messages(chat)
    customer = [m for m in messages if m.role == "customer"]
    assert [m.text for m in customer] == burst  # every message recorded, in order
    refused = [m.text for m in customer if (m.details or {}).get(RATE_LIMITED)]
    assert refused == burst[PER_MINUTE:]
    notices = [m for m in messages if (m.details or {}).get(SLOW_DOWN)]
    assert len(notices) == 1 and notices[0].external_id is not None  # sent, once
    assert shown[-1] == business.brand.slow_down


def test_the_limit_is_per_chat(gateway: Gateway) -> None:
    busy, other = new_chat(), new_chat()
    for n in range(PER_MINUTE + 2):
        assert gateway.post(text_update(busy, f"spam {n}")).status_code == 200
    assert gateway.post(text_update(other, "just one question")).status_code == 200
    assert gateway.wait_for_texts(other, 1, "the other chat's answer") == [
        "I hear you: just one question"
    ]
