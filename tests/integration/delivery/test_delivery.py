"""Delivering incident notices, end to end on SQLite and PostgreSQL: the gateway's
``Delivery`` with a real relay and live hub, and Telegram through the fake Bot API server.
Time comes from a clock the tests move on; a restart is a new ``Delivery``."""

from __future__ import annotations

import asyncio
import html
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.jobs.delivery import Delivery
from bot.live import LiveHub
from bot.rasa_client import RasaClient
from bot.relay import Relay
from bot.telegram.sender import TelegramSender
from redress.db.models import Conversation, ConversationEvent, Message, OutboxMessage
from redress.db.session import session_factory, unit_of_work
from redress.delivery import outbox
from redress.incidents import notices as incident_notices
from redress.incidents import records as incidents_records
from redress.incidents.model import Change
from redress.incidents.notices import DECLINED, OFFERED, SUBSCRIBED, holding_text
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.incidents.test_incident_notices import (
    INCIDENT,
    NOW,
    ZONE,
    add_customer,
    add_customers,
    alerts,
    open_incident,
    outbox_rows,
    update,
)

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ_0123"
LEASE = timedelta(minutes=2)
_chat_ids = itertools.count(8_000_001)

# PTB's own RetryAfter and friends read deprecated attributes; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Clock:
    """The time the gateway sees; tests move it on instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Crash(BaseException):
    """The gateway process stopping dead: not an error it catches and handles."""


async def no_sleep(seconds: float) -> None:
    return None


@dataclass
class Gateway:
    """What one gateway process holds for delivery: its relay, live hub and Telegram sender.
    Building another one with the same database is a restart (or a second gateway)."""

    database_url: str
    clock: Clock
    hub: LiveHub = field(default_factory=LiveHub)
    telegram: FakeTelegram | None = None
    read_timeout: float = 5.0
    network_attempts: int = 2
    max_attempts: int = 8
    batch: int = 50
    wrap_sender: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        # Delivery never asks the assistant anything; nothing listens at this address.
        self.rasa = RasaClient("http://127.0.0.1:9", 1)
        self.relay = Relay(self.database_url, self.rasa, self.hub, "Sorry, I'm not available.")
        self.requests: list[HTTPXRequest] = []
        if self.telegram is not None:
            self.requests = [
                HTTPXRequest(read_timeout=self.read_timeout, connection_pool_size=4),
                HTTPXRequest(),  # for getUpdates, which delivery never calls
            ]
            bot = Bot(
                TOKEN,
                base_url=self.telegram.api_url,
                request=self.requests[0],
                get_updates_request=self.requests[1],
            )
            sender = TelegramSender(
                bot,
                self.relay,
                self.database_url,
                network_attempts=self.network_attempts,
                first_backoff_seconds=0,
                sleep=no_sleep,
            )
            push = sender.push if self.wrap_sender is None else self.wrap_sender(sender.push)
            self.relay.register_sender("telegram", push)
        self.delivery = Delivery(
            self.database_url,
            self.relay,
            ZONE,
            clock=self.clock,
            lease=LEASE,
            max_attempts=self.max_attempts,
            batch=self.batch,
        )

    async def close(self) -> None:
        await self.rasa.close()
        for request in self.requests:
            await request.shutdown()


def listen(hub: LiveHub, conversation_ids: list[str]) -> dict[str, asyncio.Queue[dict[str, Any]]]:
    return {conversation_id: hub.subscribe(conversation_id) for conversation_id in conversation_ids}


def drain(queues: dict[str, asyncio.Queue[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    heard: dict[str, list[dict[str, Any]]] = {}
    for conversation_id, queue in queues.items():
        heard[conversation_id] = []
        while not queue.empty():
            heard[conversation_id].append(queue.get_nowait())
    return heard


def transcript(database_url: str, conversation_id: str) -> list[Message]:
    """The bot's messages in the conversation's record, oldest first."""
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.role == "bot")
                .order_by(Message.id)
            )
        )


def add_telegram_customers(database_url: str, count: int) -> dict[int, str]:
    """Subscribed Telegram customers: conversation id by chat id."""
    chats: dict[int, str] = {}
    with unit_of_work(database_url) as session:
        for _ in range(count):
            chat_id = next(_chat_ids)
            chats[chat_id] = add_customer(session, SUBSCRIBED, chat_id=chat_id)
    return chats


def conversation(database_url: str, conversation_id: str) -> Conversation:
    with unit_of_work(database_url) as session:
        found = session.get(Conversation, conversation_id)
        assert found is not None
        return found


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(scenario())


# Web chats ----------------------------------------------------------------------------------


def test_web_chats_get_the_update_recorded_once_and_shown_live(database_url: str) -> None:
    open_incident(database_url)
    people = add_customers(database_url, [SUBSCRIBED, DECLINED, SUBSCRIBED, OFFERED, SUBSCRIBED])
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)
    (queued_text,) = {row.text for row in outbox_rows(database_url)}

    async def scenario() -> tuple[int, int, dict[str, list[dict[str, Any]]]]:
        gateway = Gateway(database_url, Clock(at + timedelta(seconds=1)))
        queues = listen(gateway.hub, [c for ids in people.values() for c in ids])
        delivered = await gateway.delivery.deliver_due()
        again = await gateway.delivery.deliver_due()
        await gateway.close()
        return delivered, again, drain(queues)

    delivered, again, heard = run(scenario)
    assert (delivered, again) == (3, 0)
    for conversation_id in people[SUBSCRIBED]:
        (message,) = transcript(database_url, conversation_id)
        assert message.text == queued_text
        assert message.details is not None and message.details["kind"] == "incident_update"
        # The open chat page got exactly that message, live.
        assert [(m["id"], m["text"]) for m in heard[conversation_id]] == [(message.id, queued_text)]
    for conversation_id in people[DECLINED] + people[OFFERED]:
        assert transcript(database_url, conversation_id) == []
        assert heard[conversation_id] == []
    rows = outbox_rows(database_url)
    assert {(row.status, row.attempts) for row in rows} == {(outbox.SENT, 1)}
    assert {row.sent_at for row in rows} == {at + timedelta(seconds=1)}
    assert all(row.message_id is not None for row in rows)


# Telegram -----------------------------------------------------------------------------------


class FlakyTelegram(FakeTelegram):
    """The fake Bot API, plus chats whose sendMessage fails with a server error, or answers
    too late for the bot to wait."""

    SLOW_SECONDS = 3.0

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.failing: set[int] = set()
        self.slow: set[int] = set()

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        if method == "sendMessage" and chat_id in self.failing:
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        if method == "sendMessage" and chat_id in self.slow:
            time.sleep(self.SLOW_SECONDS)
            return 504, {"ok": False, "error_code": 504, "description": "Gateway Timeout"}
        return super()._answer(method, params)


def test_telegram_customers_get_the_closing_question_with_its_buttons(database_url: str) -> None:
    open_incident(database_url)
    chats = add_telegram_customers(database_url, 3)
    ok_chat, other_chat, blocked_chat = chats
    at = NOW + timedelta(hours=2)
    with unit_of_work(database_url) as session:
        incidents_records.resolve_incident(session, INCIDENT, "All lines are back.", at, ZONE)

    with FakeTelegram(TOKEN) as fake:
        fake.blocked.add(blocked_chat)

        async def first() -> int:
            gateway = Gateway(database_url, Clock(at), telegram=fake)
            delivered = await gateway.delivery.deliver_due()
            await gateway.close()
            return delivered

        assert run(first) == 2

        for chat_id in (ok_chat, other_chat):
            (call,) = fake.delivered(chat_id)
            (message,) = transcript(database_url, chats[chat_id])
            assert html.unescape(call.params["text"]) == message.text
            assert message.text.endswith("Is everything working for you now?")
            # The buttons carry the tokens issued for this message, never the payloads.
            assert message.buttons is not None
            assert [(b["title"], b["payload"]) for b in message.buttons] == [
                ("Yes, it's working", "/affirm"),
                ("No, still not right", "/deny"),
            ]
            assert call.params["reply_markup"] == {
                "inline_keyboard": [
                    [{"text": b["title"], "callback_data": b["token"]}] for b in message.buttons
                ]
            }
            assert message.external_id == str(call.message_id)

        # The customer who blocked the bot: nothing arrived, and we stop trying.
        assert fake.delivered(blocked_chat) == []
        assert len(fake.calls_to("sendMessage", blocked_chat)) == 1
        blocked = chats[blocked_chat]
        assert not conversation(database_url, blocked).reachable
        with unit_of_work(database_url) as session:
            events = session.scalars(
                select(ConversationEvent.kind).where(ConversationEvent.conversation_id == blocked)
            ).all()
            assert events == ["customer_unreachable"]
        statuses = {row.conversation_id: row.status for row in outbox_rows(database_url)}
        assert statuses == {
            chats[ok_chat]: outbox.SENT,
            chats[other_chat]: outbox.SENT,
            blocked: outbox.UNDELIVERABLE,
        }

        # A later message for the blocked chat is not even tried.
        with unit_of_work(database_url) as session:
            incident_notices.enqueue(
                session,
                conversation_id=blocked,
                kind="incident_update",
                text="One more thing.",
                dedupe_key="later-for-blocked",
                now=at,
            )

        async def second() -> int:
            gateway = Gateway(database_url, Clock(at + timedelta(minutes=1)), telegram=fake)
            delivered = await gateway.delivery.deliver_due()
            await gateway.close()
            return delivered

        assert run(second) == 0
        assert len(fake.calls_to("sendMessage", blocked_chat)) == 1
        assert outbox_rows(database_url)[-1].status == outbox.UNDELIVERABLE


def test_telegram_trouble_is_retried_later_then_operators_are_told(database_url: str) -> None:
    open_incident(database_url)
    chats = add_telegram_customers(database_url, 3)
    down_chat, flaky_chat, slow_chat = chats
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)
    row_of = {row.conversation_id: row.id for row in outbox_rows(database_url)}

    def state(chat_id: int) -> tuple[str, int, datetime]:
        with unit_of_work(database_url) as session:
            row = session.get(OutboxMessage, row_of[chats[chat_id]])
            assert row is not None
            return row.status, row.attempts, row.next_attempt_at

    with FlakyTelegram(TOKEN) as fake:
        fake.failing |= {down_chat, flaky_chat}
        fake.slow.add(slow_chat)
        clock = Clock(at)

        async def attempt() -> int:
            gateway = Gateway(
                database_url,
                clock,
                telegram=fake,
                read_timeout=1.0,  # the slow chat's answer comes later than this
                network_attempts=1,  # the sender gives up at once; the outbox retries
                max_attempts=3,
            )
            delivered = await gateway.delivery.deliver_due()
            await gateway.close()
            return delivered

        # First try: a server error for two chats, no answer in time from the third.
        assert run(attempt) == 0
        first_retry = at + outbox.FIRST_RETRY
        for chat_id in chats:
            assert state(chat_id) == (outbox.PENDING, 1, first_retry)
        with unit_of_work(database_url) as session:
            row = session.get(OutboxMessage, row_of[chats[down_chat]])
            assert row is not None and row.last_error == "telegram did not accept it"
        tries = len(fake.calls_to("sendMessage", down_chat))
        assert tries == 1

        # Not due yet: nothing is tried.
        clock.now = at + timedelta(seconds=10)
        assert run(attempt) == 0
        assert len(fake.calls_to("sendMessage", down_chat)) == tries
        assert state(down_chat)[:2] == (outbox.PENDING, 1)

        # Second try: two chats are fine again; the first is still failing, and waits longer.
        fake.failing.discard(flaky_chat)
        fake.slow.discard(slow_chat)
        clock.now = first_retry
        assert run(attempt) == 2
        assert state(down_chat) == (outbox.PENDING, 2, first_retry + 2 * outbox.FIRST_RETRY)
        for chat_id in (flaky_chat, slow_chat):
            assert state(chat_id)[:2] == (outbox.SENT, 2)
            assert len(fake.delivered(chat_id)) == 1
        assert alerts(database_url) == []

        # Third and last try fails too: the message is given up and operators hear of it.
        clock.now = first_retry + 2 * outbox.FIRST_RETRY
        assert run(attempt) == 0
        assert state(down_chat)[:2] == (outbox.FAILED, 3)
        (alert,) = alerts(database_url)
        assert alert.kind == "delivery_failed"
        assert alert.incident_id == INCIDENT
        assert chats[down_chat] in alert.summary and "after 3 tries" in alert.summary

        # Nothing more is tried, however long we wait.
        tries = len(fake.calls_to("sendMessage", down_chat))
        clock.now += timedelta(days=1)
        assert run(attempt) == 0
        assert len(fake.calls_to("sendMessage", down_chat)) == tries
        assert fake.delivered(down_chat) == []
    for chat_id in (flaky_chat, slow_chat):
        assert len(transcript(database_url, chats[chat_id])) == 1


def test_a_telegram_update_is_not_marked_sent_by_a_gateway_without_telegram(
    database_url: str,
) -> None:
    open_incident(database_url)
    chats = add_telegram_customers(database_url, 1)
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)

    async def scenario() -> int:
        gateway = Gateway(database_url, Clock(at))  # Telegram not configured
        delivered = await gateway.delivery.deliver_due()
        await gateway.close()
        return delivered

    assert run(scenario) == 0
    (row,) = outbox_rows(database_url)
    assert (row.status, row.attempts) == (outbox.PENDING, 1)
    assert row.next_attempt_at > at

    # Once a gateway with Telegram picks it up, the customer gets it, once.
    with FakeTelegram(TOKEN) as fake:

        async def with_telegram() -> int:
            gateway = Gateway(database_url, Clock(row.next_attempt_at), telegram=fake)
            delivered = await gateway.delivery.deliver_due()
            await gateway.close()
            return delivered

        assert run(with_telegram) == 1
        (chat_id,) = chats
        assert len(fake.delivered(chat_id)) == 1
    assert len(transcript(database_url, chats[chat_id])) == 1


# Exactly once, whatever the crashes ----------------------------------------------------------


class CrashingHub(LiveHub):
    """A live hub in a process that dies while showing one conversation its message."""

    def __init__(self, crash_on: str) -> None:
        super().__init__()
        self.crash_on = crash_on

    def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        if conversation_id == self.crash_on:
            raise Crash(f"stopped while publishing to {conversation_id}")
        super().publish(conversation_id, message)


def crash_after_sending_to(conversation_id: str) -> Callable[[Any], Any]:
    """A gateway that dies after Telegram confirmed the message, before noting it sent."""

    def wrap(push: Any) -> Any:
        async def push_then_crash(target: str, messages: list[dict[str, Any]]) -> None:
            await push(target, messages)
            if target == conversation_id:
                raise Crash(f"stopped after sending to {target}")

        return push_then_crash

    return wrap


def test_every_customer_gets_the_update_exactly_once_across_crashes(database_url: str) -> None:
    open_incident(database_url)
    web: list[str] = []
    chats: dict[int, str] = {}
    with unit_of_work(database_url) as session:
        for _ in range(6):
            web.append(add_customer(session, SUBSCRIBED))
            chat_id = next(_chat_ids)
            chats[chat_id] = add_customer(session, SUBSCRIBED, chat_id=chat_id)
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)
    (queued_text,) = {row.text for row in outbox_rows(database_url)}
    telegram_ids = list(chats.values())

    with FakeTelegram(TOKEN) as fake:
        clock = Clock(at)

        async def scenario() -> None:
            # 1. Dies after recording the message for the third web chat, before showing it.
            first = Gateway(database_url, clock, hub=CrashingHub(web[2]), telegram=fake)
            with pytest.raises(Crash):
                await first.delivery.deliver_due()
            await first.close()
            (recorded,) = transcript(database_url, web[2])
            assert recorded.text == queued_text
            with unit_of_work(database_url) as session:
                # Two web chats and two Telegram chats were done; the rest stay claimed.
                assert outbox.counts(session) == {outbox.SENT: 4, outbox.SENDING: 8}

            # 2. Restarted at once: the dead gateway's claim still holds, nothing is taken.
            clock.now = at + LEASE / 2
            early = Gateway(database_url, clock, telegram=fake)
            assert await early.delivery.deliver_due() == 0
            await early.close()

            # 3. After the claim lapses: dies again, after Telegram took the fifth chat's copy.
            clock.now = at + LEASE + timedelta(seconds=1)
            second = Gateway(
                database_url,
                clock,
                telegram=fake,
                wrap_sender=crash_after_sending_to(telegram_ids[4]),
            )
            with pytest.raises(Crash):
                await second.delivery.deliver_due()
            await second.close()

            # 4. Runs to the end.
            clock.now = at + 2 * LEASE + timedelta(seconds=2)
            third = Gateway(database_url, clock, telegram=fake)
            await third.delivery.deliver_due()
            await third.close()

        run(scenario)

        for conversation_id in web + telegram_ids:
            assert [m.text for m in transcript(database_url, conversation_id)] == [queued_text]
        for chat_id, conversation_id in chats.items():
            (call,) = fake.delivered(chat_id)
            assert html.unescape(call.params["text"]) == queued_text
            (message,) = transcript(database_url, conversation_id)
            assert message.external_id == str(call.message_id)
    assert {row.status for row in outbox_rows(database_url)} == {outbox.SENT}
    assert alerts(database_url) == []


def test_a_slow_gateway_and_a_second_one_never_both_send_a_message(database_url: str) -> None:
    """A gateway takes longer than the lease over its batch (Telegram was slow), so a
    second gateway takes over the messages it had not reached. Each is sent once."""
    open_incident(database_url)
    chats = add_telegram_customers(database_url, 4)
    first_chat, second_chat = list(chats)[:2]
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)
    clock = Clock(at)

    with FakeTelegram(TOKEN) as fake:

        async def scenario() -> tuple[int, int]:
            other = Gateway(database_url, clock, telegram=fake)
            other_delivered: list[int] = []

            def slow_then_overlapping(push: Any) -> Any:
                async def push_slowly(target: str, messages: list[dict[str, Any]]) -> None:
                    if target == chats[first_chat]:
                        await push(target, messages)
                        clock.now = at + LEASE + timedelta(seconds=1)  # that took a while
                        return
                    if target == chats[second_chat]:
                        # While this one is on its way, the second gateway runs.
                        other_delivered.append(await other.delivery.deliver_due())
                    await push(target, messages)

                return push_slowly

            slow = Gateway(database_url, clock, telegram=fake, wrap_sender=slow_then_overlapping)
            delivered = await slow.delivery.deliver_due()
            await slow.close()
            await other.close()
            return delivered, sum(other_delivered)

        delivered, other_delivered = run(scenario)
        for chat_id, conversation_id in chats.items():
            assert len(fake.delivered(chat_id)) == 1, chat_id
            assert len(transcript(database_url, conversation_id)) == 1
        assert other_delivered > 0  # the second gateway did take some over
        assert delivered + other_delivered == 4
    assert {row.status for row in outbox_rows(database_url)} == {outbox.SENT}


def test_a_gateway_that_fell_behind_leaves_alone_what_another_took_over(
    database_url: str,
) -> None:
    """While the first gateway is stuck on one message past its lease, a second one takes
    over the rest of the batch and starts sending. When the first one gets going again it
    must not send those too."""
    open_incident(database_url)
    chats = add_telegram_customers(database_url, 4)
    first_chat, second_chat = list(chats)[:2]
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)
    clock = Clock(at)

    with FakeTelegram(TOKEN) as fake:

        async def scenario() -> int:
            stuck_long_enough = asyncio.Event()
            other_is_sending = asyncio.Event()
            first_is_done = asyncio.Event()

            def stuck_on_the_first(push: Any) -> Any:
                async def push_slowly(target: str, messages: list[dict[str, Any]]) -> None:
                    await push(target, messages)
                    if target == chats[first_chat]:
                        clock.now = at + LEASE + timedelta(seconds=1)
                        stuck_long_enough.set()
                        await other_is_sending.wait()

                return push_slowly

            def sending_slowly(push: Any) -> Any:
                async def push_later(target: str, messages: list[dict[str, Any]]) -> None:
                    if target == chats[second_chat]:
                        other_is_sending.set()
                        await first_is_done.wait()
                    await push(target, messages)

                return push_later

            first = Gateway(database_url, clock, telegram=fake, wrap_sender=stuck_on_the_first)
            other = Gateway(database_url, clock, telegram=fake, wrap_sender=sending_slowly)
            first_run = asyncio.create_task(first.delivery.deliver_due())
            await stuck_long_enough.wait()
            other_run = asyncio.create_task(other.delivery.deliver_due())
            await first_run
            first_is_done.set()
            other_delivered: int = await other_run
            await first.close()
            await other.close()
            return other_delivered

        other_delivered = run(scenario)
        for chat_id, conversation_id in chats.items():
            assert len(fake.delivered(chat_id)) == 1, chat_id
            assert len(transcript(database_url, conversation_id)) == 1
        assert other_delivered >= 3  # the second gateway did take the rest over
    assert {row.status for row in outbox_rows(database_url)} == {outbox.SENT}


# Promises -----------------------------------------------------------------------------------


def test_a_missed_promise_is_owned_once_per_promise(database_url: str) -> None:
    open_incident(database_url)  # next update promised at NOW + 3h
    promised = NOW + timedelta(hours=3)
    people = add_customers(database_url, [SUBSCRIBED, DECLINED, SUBSCRIBED, SUBSCRIBED, OFFERED])
    subscribed = people[SUBSCRIBED]
    clock = Clock(promised - timedelta(seconds=1))

    async def check() -> list[str]:
        gateway = Gateway(database_url, clock)  # a new gateway each time: a restart
        handled = await gateway.delivery.check_promises()
        await gateway.close()
        return handled

    async def deliver() -> int:
        gateway = Gateway(database_url, clock)
        delivered = await gateway.delivery.deliver_due()
        await gateway.close()
        return delivered

    # Before the promised time: nothing.
    assert run(check) == []
    assert outbox_rows(database_url) == [] and alerts(database_url) == []

    # Just after: one honest holding message each, and one alert.
    clock.now = promised + timedelta(minutes=1)
    assert run(check) == [INCIDENT]
    expected = holding_text(
        "Our engineers are on site and joining the cable back together.",
        promised,
        clock.now,
        ZONE,
    )
    assert expected.startswith("We said we'd update you by 3pm today.")
    for conversation_id in subscribed:
        assert [m.text for m in transcript(database_url, conversation_id)] == [expected]
    for conversation_id in people[DECLINED] + people[OFFERED]:
        assert transcript(database_url, conversation_id) == []
    (alert,) = alerts(database_url)
    assert (alert.kind, alert.incident_id) == ("promise_missed", INCIDENT)
    assert alert.detail["subscribers"] == 3

    # Checking again, or after a restart, an hour on: nothing more.
    assert run(check) == []
    clock.now = promised + timedelta(hours=1)
    assert run(check) == []
    assert len(outbox_rows(database_url)) == 3
    assert len(alerts(database_url)) == 1

    # The operator posts an update with a new promise; customers get it.
    new_promise = clock.now + timedelta(hours=2)
    words = "Our engineers have found a second cut and are joining it now."
    update(database_url, Change(what_we_are_doing=words, next_update_by=new_promise), clock.now)
    assert run(deliver) == 3
    clock.now = new_promise - timedelta(seconds=1)
    assert run(check) == []

    # That promise passes too: handled again, once.
    clock.now = new_promise + timedelta(seconds=1)
    assert run(check) == [INCIDENT]
    assert run(check) == []
    for conversation_id in subscribed:
        texts = [m.text for m in transcript(database_url, conversation_id)]
        assert len(texts) == 3
        assert texts[0] == expected
        assert words in texts[1]
        assert texts[2].startswith("We said we'd update you by 6pm today.") and words in texts[2]
    assert [a.kind for a in alerts(database_url)] == ["promise_missed", "promise_missed"]

    # A resolved incident makes no promises.
    with unit_of_work(database_url) as session:
        incidents_records.resolve_incident(session, INCIDENT, "Fixed.", clock.now, ZONE)
    clock.now += timedelta(days=1)
    assert run(check) == []


# Two gateways at once --------------------------------------------------------------------------


def test_two_gateways_deliver_each_message_exactly_once(database_url: str) -> None:
    """Two gateways (or the promise check and the regular run in one) deliver the same
    outbox at the same moment: PostgreSQL skips locked rows; on SQLite, whose reads lock
    nothing, a message is only claimed and sent by whoever takes it first."""
    open_incident(database_url)
    web = add_customers(database_url, [SUBSCRIBED] * 40)[SUBSCRIBED]
    chats = add_telegram_customers(database_url, 20)
    everyone = web + list(chats.values())
    at = NOW + timedelta(hours=1)
    update(database_url, Change(status="monitoring"), at)

    with FakeTelegram(TOKEN) as fake:

        async def scenario() -> tuple[int, list[dict[str, list[dict[str, Any]]]]]:
            gateways = [
                Gateway(database_url, Clock(at + timedelta(microseconds=n)), telegram=fake, batch=5)
                for n in range(2)
            ]
            queues = [listen(g.hub, everyone) for g in gateways]
            counts = await asyncio.gather(*(g.delivery.deliver_due() for g in gateways))
            for gateway in gateways:
                await gateway.close()
            return sum(counts), [drain(q) for q in queues]

        delivered, heard = run(scenario)
        for chat_id in chats:
            assert len(fake.delivered(chat_id)) == 1
    for conversation_id in everyone:
        assert len(transcript(database_url, conversation_id)) == 1
        # Shown live by one gateway only.
        assert sum(len(h[conversation_id]) for h in heard) == 1
    assert delivered == 60
    assert {row.status for row in outbox_rows(database_url)} == {outbox.SENT}


@pytest.mark.postgres
def test_a_claim_in_progress_is_skipped_not_waited_for(postgres_url: str) -> None:
    open_incident(postgres_url)
    add_customers(postgres_url, [SUBSCRIBED] * 10)
    at = NOW + timedelta(hours=1)
    update(postgres_url, Change(status="monitoring"), at)

    holding = session_factory(postgres_url)()
    try:
        first = outbox.claim_due(holding, at, limit=4)  # its transaction stays open
        with unit_of_work(postgres_url) as other:
            # Were the rows waited for instead of skipped, this would fail, not hang.
            other.execute(text("SET LOCAL lock_timeout = '5s'"))
            second = outbox.claim_due(other, at, limit=50)
        holding.commit()
    finally:
        holding.close()
    assert len(first) == 4 and len(second) == 6
    assert set(first).isdisjoint(second)
    assert {row.status for row in outbox_rows(postgres_url)} == {outbox.SENDING}
