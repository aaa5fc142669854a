"""The desk without Slack: the real gateway (``create_app`` with no Slack app configured, as
``make run`` starts it) and a web chat customer, worked from the console's desk
(``bot.console.desk.ConsoleDesk``) on SQLite and PostgreSQL. A tiny local server speaks
Rasa's REST webhook (the assistant is not under test) and counts what reaches it. Time comes
from a clock the tests move on; background work is awaited with ``idle``, never with sleeps.

Waiting counts opening hours (business/hours.yml: Monday to Friday 08:00-20:00, Europe/London).
Every date here is in the past, so messages queued for customers are due at once."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from actions import context as action_context
from actions import replies as action_replies
from bot.app import create_app
from bot.console.desk import (
    CASE_LOGGED,
    CUSTOMER_MESSAGE,
    FOLLOW_UP_CHOSEN,
    HANDOFF_REQUESTED,
    TAKEN_OVER,
    ConsoleDesk,
    ConsoleRefused,
    Subscription,
)
from bot.slack.desk.case_texts import CLAIMED, PROMISED_CALL, REASSIGNED
from bot.slack.desk.texts import HANDED_BACK, JOINED
from redress import audit
from redress.business import Business
from redress.cases import records as cases
from redress.complaints import records as complaint_records
from redress.complaints import status
from redress.conversations import records as conversations
from redress.db.models import Complaint, Conversation, Handoff
from redress.db.session import unit_of_work
from redress.delivery import outbox
from redress.handoff import feedback
from redress.handoff import records as handoff_records
from redress.handoff import waits as handoff_waits
from redress.handoff.reply_times import NO_DESK
from redress.operators import accounts
from redress.settings import TelegramSettings
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.integration.api.chat import WebChat
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings
from tests.integration.slack.test_slack_desk import (
    DESK_CHANNEL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    open_gateway,
)

# A Monday, mid-morning (GMT in November): the team is open.
MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
TEAM = "customer care team"
PASSWORD = "a long enough password 42"
SAM = audit.Actor("Sam Carter", audit.CONSOLE, audit.AGENT, id="console:sam")
ALEX = audit.Actor("Alex Moore", audit.CONSOLE, audit.AGENT, id="console:alex")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Console:
    """The gateway with no Slack, its console desk, and what the tests need around it."""

    client: TestClient
    rasa: FakeRasa
    clock: Clock
    database_url: str

    @property
    def desk(self) -> ConsoleDesk:
        return self.client.app.state.console_desk  # type: ignore[attr-defined,no-any-return]

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Runs one of the desk's methods in the gateway's event loop, then waits for the
        background work it started."""
        result = self.client.portal.call(functools.partial(method, *args, **kwargs))
        self.client.portal.call(self.desk.idle)
        return result

    def subscribe(self) -> Subscription:
        return self.client.portal.call(self.desk.subscribe)  # type: ignore[no-any-return]

    def events(self, feed: Subscription) -> list[dict[str, Any]]:
        return self.client.portal.call(feed.pending)  # type: ignore[no-any-return]

    def say(self, chat: WebChat, text: str) -> dict[str, Any]:
        response = chat.say(text)
        assert response.status_code == 200, response.text
        self.client.portal.call(self.desk.idle)
        return response.json()  # type: ignore[no-any-return]

    def request_person(self, conversation_id: str, reason: str = "customer_asked") -> int:
        """What the assistant's action does when the customer asks for a person."""
        with unit_of_work(self.database_url) as session:
            handoff = handoff_records.request_handoff(session, conversation_id, reason)
            handoff.created_at = self.clock.now
            return handoff.id

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/conversations/{conversation_id}",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def texts(self, conversation_id: str, role: str) -> list[str]:
        return [m["text"] for m in self.record(conversation_id)["messages"] if m["role"] == role]

    def deliver(self) -> None:
        """Runs the outbox delivery now (the scheduler would within seconds), until every
        queued message is sent: a run the desk woke may hold some of them meanwhile."""
        delivery = self.client.app.state.delivery  # type: ignore[attr-defined]
        for _ in range(200):
            self.client.portal.call(delivery.deliver_due)
            with unit_of_work(self.database_url) as session:
                if outbox.counts(session).keys() <= {outbox.SENT}:
                    return
            self.client.portal.call(asyncio.sleep, 0.05)
        raise AssertionError("the outbox was not delivered")


def quiet(business: Business) -> Business:
    """The scheduler's own waiting checks an hour apart: the tests' explicit checks act."""
    waiting = business.handoff.waiting.model_copy(update={"check_every_seconds": 3600})
    return replace(business, handoff=business.handoff.model_copy(update={"waiting": waiting}))


def add_operator(database_url: str, username: str = "sam", name: str = "Sam Carter") -> None:
    with unit_of_work(database_url) as session:
        accounts.add(session, username, name, "agent", None, PASSWORD, MONDAY_10AM)


@contextmanager
def open_console(
    database_url: str,
    business: Business,
    *,
    operator: bool = True,
    telegram: FakeTelegram | None = None,
) -> Iterator[Console]:
    if operator:
        add_operator(database_url)
    clock = Clock(MONDAY_10AM)
    rasa = FakeRasa()
    settings = replace(
        gateway_settings(database_url, rasa.url),
        outbox_poll_seconds=60,
        telegram=None
        if telegram is None
        else TelegramSettings(
            token=TELEGRAM_TOKEN,
            mode="webhook",
            webhook_url="https://example.test/telegram/webhook",
            webhook_secret=TELEGRAM_SECRET,
            api_url=telegram.api_url,
        ),
    )
    assert settings.slack is None
    try:
        with TestClient(create_app(settings, quiet(business), clock=clock)) as client:
            yield Console(client, rasa, clock, database_url)
    finally:
        rasa.close()


@pytest.fixture
def console(database_url: str, business: Business) -> Iterator[Console]:
    with open_console(database_url, business) as c:
        yield c


@pytest.fixture
def sqlite_console(sqlite_url: str, business: Business) -> Iterator[Console]:
    with open_console(sqlite_url, business) as c:
        yield c


def open_case(database_url: str, business: Business, conversation_id: str) -> int:
    """A complaint logged in the conversation, its case opened as filing opens it."""
    with unit_of_work(database_url) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="high",
            severity_reasons=[],
            summary="I was charged twice this month.",
            facts={"logged": True},
        )
        promise = cases.open_case(session, complaint, business, MONDAY_10AM)
        status.keep_promise(complaint, promise.due_at)
        return complaint.id


def console_audit(database_url: str) -> list[tuple[str, str, str]]:
    """(action, actor, subject) of every console entry, oldest first."""
    with unit_of_work(database_url) as session:
        found = audit.entries(session, limit=500)
        return [(e.action, e.actor, e.subject) for e in reversed(found) if e.via == audit.CONSOLE]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


# The whole cycle -----------------------------------------------------------------------------


def test_a_person_asked_for_takes_over_replies_hands_back_and_resolves_from_the_console(
    console: Console,
) -> None:
    c = console
    feed = c.subscribe()
    chat = WebChat(c.client)
    first = c.say(chat, "my broadband keeps dropping out")
    conversation_id = chat.conversation_id
    assert conversation_id is not None
    assert [r["text"] for r in first["replies"]] == ["I hear you: my broadband keeps dropping out"]

    # The customer asks for a person: the console's pages hear of it after the turn.
    handoff_id = c.request_person(conversation_id)
    c.say(chat, "can I talk to a person please")
    [requested] = [e for e in c.events(feed) if e["kind"] == HANDOFF_REQUESTED]
    assert requested["handoff_id"] == handoff_id
    assert requested["conversation_id"] == conversation_id
    assert set(requested) >= {"kind", "conversation_id", "handoff_id", "complaint_id", "at"}

    # The queue shows it with what the card shows.
    c.clock.now = MONDAY_10AM + timedelta(minutes=4)
    queue = c.call(c.desk.queue)
    [waiting] = queue.handoffs
    assert (waiting.handoff_id, waiting.conversation_id) == (handoff_id, conversation_id)
    assert (waiting.status, waiting.reason, waiting.channel) == (
        "requested",
        "customer_asked",
        "web",
    )
    assert waiting.waited_minutes == 4 and waiting.agent_name is None
    assert queue.as_json()["handoffs"][0]["waiting_since"].startswith("2026-11-16T10:00")

    # Sam takes it over from the console: the customer's open chat shows who joined, then
    # Sam's reply under Sam's name.
    seen = max(m["id"] for m in c.record(conversation_id)["messages"])
    with chat.live(after=seen) as live:
        done = c.call(c.desk.take_over, handoff_id, SAM)
        joined = live.receive_json()
        assert joined["text"] == JOINED.format(agent="Sam Carter", team=TEAM)
        assert done.sent is not None and done.sent["id"] == joined["id"]
        c.call(c.desk.reply, conversation_id, "  Hello, I'm checking your line now.  ", SAM)
        reply = live.receive_json()
        assert (reply["role"], reply["text"]) == ("agent", "Hello, I'm checking your line now.")
        assert reply["author"] == "Sam Carter"
    assert TAKEN_OVER in kinds(c.events(feed))

    # While Sam has it the assistant stays silent: the message goes to the desk only.
    asked_before = len(c.rasa.messages(conversation_id))
    silent = c.say(chat, "thanks, it dropped again just now")
    assert silent["replies"] == []
    assert len(c.rasa.messages(conversation_id)) == asked_before
    [heard] = [e for e in c.events(feed) if e["kind"] == CUSTOMER_MESSAGE]
    assert heard["conversation_id"] == conversation_id and heard["message_id"]

    # A note is kept for colleagues and never reaches the customer.
    c.call(c.desk.note, "Line test booked for 2pm.", SAM, conversation_id=conversation_id)
    record = c.record(conversation_id)
    assert all("Line test booked" not in m["text"] for m in record["messages"])
    notes = [e for e in record["events"] if e["kind"] == "agent_note"]
    assert notes and notes[-1]["detail"]["text"] == "Line test booked for 2pm."

    # Handed back: the assistant says so and answers again.
    c.call(c.desk.hand_back, handoff_id, SAM)
    assert c.texts(conversation_id, "bot")[-1] == HANDED_BACK
    answered = c.say(chat, "one more thing")
    assert [r["text"] for r in answered["replies"]] == ["I hear you: one more thing"]

    # Asked for a person again, taken over and resolved: "is it fixed?" with its buttons.
    second = c.request_person(conversation_id)
    c.call(c.desk.take_over, second, SAM)
    c.call(c.desk.resolve, SAM, handoff_id=second)
    last = c.record(conversation_id)["messages"][-1]
    asked = feedback.ask_fixed("Sam Carter")
    assert last["text"] == asked.text
    assert [b["title"] for b in last["buttons"]] == [b["title"] for b in asked.buttons]
    with unit_of_work(c.database_url) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == handoff_records.RESOLVED
    assert c.call(c.desk.queue).handoffs == []

    assert console_audit(c.database_url) == [
        ("take_over", "Sam Carter (console)", str(handoff_id)),
        ("reply", "Sam Carter (console)", conversation_id),
        ("note", "Sam Carter (console)", conversation_id),
        ("hand_back", "Sam Carter (console)", str(handoff_id)),
        ("take_over", "Sam Carter (console)", str(second)),
        ("resolve", "Sam Carter (console)", str(second)),
    ]
    feed.close()


# Refusals ------------------------------------------------------------------------------------


def test_what_the_desk_refuses_says_why_and_changes_nothing(sqlite_console: Console) -> None:
    c = sqlite_console
    chat = WebChat(c.client)
    c.say(chat, "my bill is wrong")
    conversation_id = chat.conversation_id
    assert conversation_id is not None
    handoff_id = c.request_person(conversation_id)

    def refused(method: Any, *args: Any, **kwargs: Any) -> str:
        with pytest.raises(ConsoleRefused) as error:
            c.call(method, *args, **kwargs)
        return str(error.value)

    assert "Take the conversation over first" in refused(c.desk.reply, conversation_id, "hi", SAM)
    c.call(c.desk.take_over, handoff_id, SAM)
    assert refused(c.desk.take_over, handoff_id, SAM) == "You already have this conversation."
    assert refused(c.desk.take_over, handoff_id, ALEX).startswith(
        "Sam Carter has this conversation"
    )
    assert refused(c.desk.reply, conversation_id, "hi", ALEX).startswith(
        "Sam Carter has this conversation"
    )
    assert "empty" in refused(c.desk.reply, conversation_id, "   ", SAM)
    assert "4,001 characters" in refused(c.desk.reply, conversation_id, "x" * 4001, SAM)
    assert refused(c.desk.take_over, 999_999, SAM) == "There is no handoff 999999."
    assert refused(c.desk.reply, "no-such-conversation", "hi", SAM).startswith(
        "There is no conversation"
    )
    assert "say which one" in refused(c.desk.note, "a note", SAM)
    assert "say which one" in refused(c.desk.resolve, SAM)
    assert refused(c.desk.claim, 999_999, SAM) == "There is no case 999999."

    # Alex may take it from Sam when they mean to; then Sam's replies are refused.
    c.call(c.desk.take_over, handoff_id, ALEX, take_from=True)
    assert refused(c.desk.reply, conversation_id, "hi", SAM).startswith("Alex Moore has")
    c.call(c.desk.resolve, ALEX, handoff_id=handoff_id)
    assert "already resolved" in refused(c.desk.take_over, handoff_id, SAM)
    assert "already resolved" in refused(c.desk.hand_back, handoff_id, SAM)
    assert "not with the desk" in refused(c.desk.reply, conversation_id, "hi", ALEX)

    # Nothing the refusals tried reached the customer.
    assert c.texts(conversation_id, "agent") == []
    assert [a for a, _, _ in console_audit(c.database_url)] == ["take_over", "take_over", "resolve"]


# Cases without a handoff ---------------------------------------------------------------------


def test_a_case_is_claimed_replied_to_promised_and_resolved_from_the_console(
    console: Console, business: Business
) -> None:
    c = console
    feed = c.subscribe()
    chat = WebChat(c.client)
    c.say(chat, "I was charged twice")
    conversation_id = chat.conversation_id
    assert conversation_id is not None
    complaint_id = open_case(c.database_url, business, conversation_id)
    c.call(c.desk.check_news)
    assert [e["complaint_id"] for e in c.events(feed) if e["kind"] == CASE_LOGGED] == [complaint_id]
    [case] = c.call(c.desk.queue).cases
    assert (case.complaint_id, case.category, case.severity) == (complaint_id, "billing", "high")
    assert [p.kind for p in case.promises_due] == ["reply_by"]

    with pytest.raises(ConsoleRefused, match="Claim the case"):
        c.call(c.desk.reply, conversation_id, "Hello", SAM)
    c.call(c.desk.claim, complaint_id, SAM)
    with unit_of_work(c.database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        reference, team = complaint.reference, business.team(complaint.team).name
    assert c.texts(conversation_id, "bot")[-1] == CLAIMED.format(
        agent="Sam Carter", team=team, reference=reference
    )
    assert c.call(c.desk.queue).cases == []

    # The owner replies from the case (no handoff): it keeps the promised reply.
    c.call(c.desk.reply, conversation_id, "I've found the second charge.", SAM)
    assert c.texts(conversation_id, "agent") == ["I've found the second charge."]
    due = datetime(2026, 11, 17, 10, 0, tzinfo=timezone.utc)
    c.call(c.desk.promise, complaint_id, "callback", "call you about the refund", due, SAM)
    assert c.texts(conversation_id, "bot")[-1] == PROMISED_CALL.format(
        agent="Sam Carter", team=team, when="10am tomorrow"
    )
    c.call(c.desk.set_status, complaint_id, "waiting_on_customer", SAM)
    with pytest.raises(ConsoleRefused, match="already set"):
        c.call(c.desk.set_status, complaint_id, "waiting_on_customer", SAM)
    with pytest.raises(ConsoleRefused, match="There is no team"):
        c.call(c.desk.reassign, complaint_id, "no_such_team", SAM)

    # The customer writes: the case waits on us again (no Slack desk to do it).
    c.say(chat, "ok, here is my account number")
    with unit_of_work(c.database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None and complaint.desk_status == "waiting_on_us"

    c.call(c.desk.resolve, SAM, complaint_id=complaint_id)
    last = c.record(conversation_id)["messages"][-1]
    assert last["text"] == feedback.ask_fixed("Sam Carter").text
    with pytest.raises(ConsoleRefused, match="already resolved"):
        c.call(c.desk.reassign, complaint_id, "network", SAM)

    subjects = {(a, s) for a, _, s in console_audit(c.database_url)}
    assert {"claim", "reply", "promise", "set_status", "resolve"} <= {a for a, _ in subjects}
    assert ("reply", reference) in subjects


def test_a_case_reassigned_from_the_console_tells_the_customer_which_team(
    sqlite_console: Console, business: Business
) -> None:
    c = sqlite_console
    chat = WebChat(c.client)
    c.say(chat, "my bill is wrong")
    assert chat.conversation_id is not None
    complaint_id = open_case(c.database_url, business, chat.conversation_id)
    c.call(c.desk.reassign, complaint_id, "network", SAM)
    with unit_of_work(c.database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None and complaint.team == "network"
        reference = complaint.reference
    assert c.texts(chat.conversation_id, "bot")[-1] == REASSIGNED.format(
        team=business.team("network").name, reference=reference
    )


def test_a_reply_from_the_console_reaches_a_telegram_customer_under_the_agents_name(
    sqlite_url: str, business: Business
) -> None:
    with (
        FakeTelegram(TELEGRAM_TOKEN) as telegram,
        open_console(sqlite_url, business, telegram=telegram) as c,
    ):
        telegram.wait_for(lambda: telegram.calls_to("setWebhook"), 30, "setWebhook")
        chat_id = 9_300_001
        with unit_of_work(sqlite_url) as session:
            conversation_id = conversations.conversation_on_channel(
                session, "telegram", str(chat_id)
            ).id
        handoff_id = c.request_person(conversation_id)
        [waiting] = c.call(c.desk.queue).handoffs
        assert (waiting.channel, waiting.channel_name) == ("telegram", "Telegram")
        c.call(c.desk.take_over, handoff_id, SAM)
        c.call(c.desk.reply, conversation_id, "Hi, I'm looking at your line now.", SAM)
        assert telegram.texts(chat_id) == [
            JOINED.format(agent="Sam Carter", team=TEAM),
            "Sam Carter: Hi, I'm looking at your line now.",
        ]

        # The customer answers on Telegram: recorded for the desk; the assistant is not asked.
        webhook = c.client.post(
            "/telegram/webhook",
            json=text_update(chat_id, "thanks, the light is green now"),
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert webhook.status_code == 200
        telegram.wait_for(
            lambda: c.texts(conversation_id, "customer"), 30, "the customer's message recorded"
        )
        assert c.texts(conversation_id, "customer") == ["thanks, the light is green now"]
        assert c.rasa.messages(conversation_id) == []
        assert len(telegram.texts(chat_id)) == 2


# Waiting for a person ------------------------------------------------------------------------


def test_a_customer_nobody_picks_up_is_updated_then_offered_a_follow_up_without_slack(
    console: Console,
) -> None:
    c = console
    feed = c.subscribe()
    assert {"handoff-waits", "console-news"} <= set(c.client.app.state.scheduler.job_ids())  # type: ignore[attr-defined]
    chat = WebChat(c.client)
    c.say(chat, "my broadband keeps dropping out")
    conversation_id = chat.conversation_id
    assert conversation_id is not None
    c.request_person(conversation_id)

    c.clock.now = MONDAY_10AM + timedelta(minutes=9)
    assert c.call(c.desk.check_waits) == 0

    c.clock.now = MONDAY_10AM + timedelta(minutes=10)
    assert c.call(c.desk.check_waits) == 1
    c.deliver()
    assert c.texts(conversation_id, "bot")[-1] == handoff_waits.STILL_WAITING.format(team=TEAM)
    c.clock.now = MONDAY_10AM + timedelta(minutes=20)
    assert c.call(c.desk.check_waits) == 0

    c.clock.now = MONDAY_10AM + timedelta(minutes=30)
    assert c.call(c.desk.check_waits) == 1
    c.deliver()
    offer = c.record(conversation_id)["messages"][-1]
    assert offer["text"] == handoff_waits.OFFER_FOLLOW_UP.format(where="in this chat")
    assert [b["title"] for b in offer["buttons"]] == [
        handoff_waits.YES_BUTTON,
        handoff_waits.NO_BUTTON,
    ]
    assert [e.get("step") for e in c.events(feed) if e["kind"] == "wait_step"] == [
        handoff_waits.UPDATE,
        handoff_waits.FOLLOW_UP,
    ]

    # The customer answers yes: the queue and the pages know.
    answer = c.say(chat, "yes please")
    assert answer["replies"][0]["text"] == handoff_waits.FOLLOW_UP_YES_TEXT["web"]
    assert [e["follow_up_wanted"] for e in c.events(feed) if e["kind"] == FOLLOW_UP_CHOSEN] == [
        True
    ]
    [waiting] = c.call(c.desk.queue).handoffs
    assert waiting.follow_up_wanted is True


def test_with_nobody_to_answer_waiting_customers_are_not_told_someone_is_busy(
    sqlite_url: str, business: Business
) -> None:
    with open_console(sqlite_url, business, operator=False) as c:
        chat = WebChat(c.client)
        c.say(chat, "my broadband keeps dropping out")
        assert chat.conversation_id is not None
        c.request_person(chat.conversation_id)
        c.clock.now = MONDAY_10AM + timedelta(minutes=45)
        assert c.call(c.desk.check_waits) == 0
        c.deliver()
        assert handoff_waits.STILL_WAITING.format(team=TEAM) not in c.texts(
            chat.conversation_id, "bot"
        )
        with unit_of_work(sqlite_url) as session:
            handoff = session.scalars(select(Handoff)).one()
            assert handoff.reminded_at is None and handoff.follow_up_offered_at is None


# What the assistant promises ------------------------------------------------------------------


def test_the_assistant_promises_a_reply_time_only_when_the_console_desk_can_answer(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_ENABLED", "SLACK_BOT_TOKEN", "REDRESS_BUSINESS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setattr(action_context, "clock", lambda: MONDAY_10AM)
    action_context.settings.cache_clear()
    action_context.business.cache_clear()
    try:
        assert action_context.settings().slack is None
        assert action_replies.when_reply() == NO_DESK
        add_operator(sqlite_url)
        assert action_replies.when_reply() == "We're open now, so someone should reply here soon."
        with unit_of_work(sqlite_url) as session:
            accounts.remove(session, "sam", MONDAY_10AM)
        assert action_replies.when_reply() == NO_DESK
    finally:
        action_context.settings.cache_clear()
        action_context.business.cache_clear()


def test_a_note_on_a_complaint_that_is_not_a_case_is_refused(
    sqlite_url: str, business: Business
) -> None:
    """A complaint with no team is not a case yet: a note on it is refused plainly."""
    with unit_of_work(sqlite_url) as session:
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="low",
            severity_reasons=[],
            summary="Not a case yet.",
            facts={},
        )
        complaint_id = complaint.id
    refused = pytest.raises(ConsoleRefused, match=f"There is no case {complaint_id}")
    with open_console(sqlite_url, business) as c, refused:
        c.call(c.desk.note, "a note", SAM, complaint_id=complaint_id)


# Beside Slack --------------------------------------------------------------------------------


def test_with_slack_too_both_desks_hear_the_customer_and_the_console_can_act(
    sqlite_url: str, business: Business
) -> None:
    add_operator(sqlite_url)
    with open_gateway(sqlite_url, quiet(business)) as g:
        desk: ConsoleDesk = g.client.app.state.console_desk  # type: ignore[attr-defined]
        assert desk.slack is True
        feed = g.client.portal.call(desk.subscribe)
        conversation_id = g.say(None, "my internet has been down since monday")["conversation_id"]
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        with unit_of_work(sqlite_url) as session:
            handoff_id = session.scalars(select(Handoff.id)).one()

        # Taken over from the console: the customer hears it as from Slack.
        g.client.portal.call(desk.take_over, handoff_id, SAM)
        assert g.record(conversation_id)["messages"][-1]["text"] == JOINED.format(
            agent="Sam Carter", team=TEAM
        )

        # The customer writes: the Slack thread shows it and the console hears of it.
        reply = g.say(conversation_id, "hello, is anyone there")
        assert reply["replies"] == []
        mirrored = g.slack.thread(DESK_CHANNEL, thread)[-1]
        assert "hello, is anyone there" in mirrored.get("text", "")
        events = g.client.portal.call(feed.pending)
        assert CUSTOMER_MESSAGE in kinds(events)

        # The console answers; the Slack desk keeps the waiting steps to itself.
        g.client.portal.call(desk.reply, conversation_id, "Yes, Sam here.", SAM)
        assert [
            m["text"] for m in g.record(conversation_id)["messages"] if m["role"] == "agent"
        ] == ["Yes, Sam here."]
        assert g.client.portal.call(desk.check_waits) == 0
        feed.close()
