"""The Slack agent desk end to end, on SQLite and PostgreSQL: the real gateway
(``bot.app.create_app``) with the real slack_bolt and slack_sdk, talking to a fake Slack Web
API (``tests.fakes.slack_api``) and receiving requests signed as Slack signs them
(``tests.fakes.slack_requests``). A tiny local server speaks Rasa's REST webhook where the
assistant is not under test, and counts what reaches it. Time comes from a clock the tests
move on; background work is awaited with ``Desk.idle``, never with sleeps."""

from __future__ import annotations

import html
import itertools
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import create_app
from bot.slack.desk import Desk
from bot.slack.desk.texts import HANDED_BACK, JOINED
from redress.business import Business
from redress.conversations import records as conversations
from redress.db.models import Conversation, DeskEvent, Handoff, Message, OperatorAlert
from redress.db.session import unit_of_work
from redress.handoff import posting as handoff_posting
from redress.handoff import records as handoff_records
from redress.handoff.feedback import ASK_RATING_FIXED, THANKS_FIXED
from redress.settings import SlackSettings, TelegramSettings
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import AGENT_DISPLAY_NAME, AGENT_ID, DESK_CHANNEL, FakeSlack
from tests.fakes.slack_requests import SlackRequest, block_action, event_callback, url_verification
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings

SECRET = "slack-signing-secret-for-the-tests-0123456789"
START = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
TELEGRAM_TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ_0123"
TELEGRAM_SECRET = "telegram-webhook-secret-for-the-tests"
TEAM = "customer care team"
SOCKET_APP_TOKEN = "xapp-1-A0REDRESS-1-0123456789-abcdefabcdefabcdef"
_chats = itertools.count(9_100_001)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk_:
    """The gateway with the desk on, and what the tests need around it."""

    client: TestClient
    slack: FakeSlack
    rasa: FakeRasa
    clock: Clock
    database_url: str
    telegram: FakeTelegram | None = None
    seen: dict[str, int] = field(default_factory=dict)
    # Each web chat's conversation_token, kept from the reply that started it.
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def desk(self) -> Desk:
        return self.client.app.state.slack.desk  # type: ignore[attr-defined]

    def settle(self) -> None:
        """Waits for the desk's background work (after Slack was answered) to finish."""
        self.client.portal.call(self.desk.idle)  # type: ignore[union-attr]

    def post_due(self) -> int:
        return self.client.portal.call(self.desk.post_due)  # type: ignore[union-attr]

    def send(self, request: SlackRequest, **signing: Any) -> Any:
        response = self.client.post(
            "/slack/events", content=request.body, headers=request.headers(SECRET, **signing)
        )
        self.settle()
        return response

    def say(self, conversation_id: str | None, text: str) -> dict[str, Any]:
        token = self.tokens.get(conversation_id or "")
        response = self.client.post(
            "/api/messages",
            json={"conversation_id": conversation_id, "conversation_token": token, "text": text},
        )
        assert response.status_code == 200, response.text
        self.settle()
        body = response.json()
        if "conversation_token" in body:
            self.tokens[body["conversation_id"]] = body["conversation_token"]
        return body

    def request_person(self, conversation_id: str, reason: str = "customer_asked") -> None:
        with unit_of_work(self.database_url) as session:
            handoff_records.request_handoff(session, conversation_id, reason)

    def card(self, conversation_id: str) -> str:
        """Posts the due cards and returns the thread of this conversation's open handoff."""
        self.post_due()
        with unit_of_work(self.database_url) as session:
            handoff = session.scalars(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id.desc())
            ).first()
            assert handoff is not None and handoff.desk_thread, "the card was not posted"
            return handoff.desk_thread

    def press(self, action_id: str, value: str, thread: str, **extra: Any) -> Any:
        """Presses the button ``action_id`` on the card in ``thread`` with ``value``; Take
        over, Hand back and Resolve with the value the card gives them (their handoff)."""
        if action_id.startswith("handoff_"):
            card = self.slack.message(DESK_CHANNEL, thread) or {}
            shown = [
                element.get("value")
                for block in card.get("blocks") or []
                if block.get("type") == "actions"
                for element in block.get("elements") or []
                if element.get("action_id") == action_id
            ]
            value = shown[0] if shown else value  # pressed after the card lost its buttons
        return self.send(
            block_action(action_id, value, channel=DESK_CHANNEL, message_ts=thread), **extra
        )

    def agent_says(self, thread: str, text: str, user: str = AGENT_ID) -> SlackRequest:
        event = self.slack.post_as_user(DESK_CHANNEL, user, text, thread_ts=thread)
        request = event_callback(event=event)
        assert self.send(request).status_code == 200
        return request

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/conversations/{conversation_id}",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
        return response.json()

    def thread_texts(self, thread: str) -> list[str]:
        return [m.get("text", "") for m in self.slack.thread(DESK_CHANNEL, thread)[1:]]


def desk_settings(
    slack: FakeSlack, channel: str = DESK_CHANNEL, mode: str = "http"
) -> SlackSettings:
    return SlackSettings(
        bot_token=slack.token,
        mode=mode,
        signing_secret=SECRET if mode == "http" else None,
        app_token=SOCKET_APP_TOKEN if mode == "socket" else None,
        escalation_channel=channel,
        api_url=slack.base_url,
    )


@pytest.fixture
def gateway(database_url: str, business: Business) -> Iterator[Desk_]:
    with open_gateway(database_url, business) as g:
        yield g


@pytest.fixture
def sqlite_gateway(sqlite_url: str, business: Business) -> Iterator[Desk_]:
    with open_gateway(sqlite_url, business) as g:
        yield g


@contextmanager
def open_gateway(
    database_url: str,
    business: Business,
    *,
    channel: str = DESK_CHANNEL,
    telegram: FakeTelegram | None = None,
    mode: str = "http",
) -> Iterator[Desk_]:
    clock = Clock(START)
    rasa = FakeRasa()
    with FakeSlack() as slack:
        settings = replace(
            gateway_settings(database_url, rasa.url),
            slack=desk_settings(slack, channel, mode),
            # The scheduler's own runs stay out of the way; tests post cards when they choose.
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
        try:
            with TestClient(create_app(settings, business, clock=clock)) as client:
                yield Desk_(client, slack, rasa, clock, database_url, telegram)
        finally:
            rasa.close()


def customer_texts(record: dict[str, Any], role: str) -> list[str]:
    return [m["text"] for m in record["messages"] if m["role"] == role]


def conversation_status(database_url: str, conversation_id: str) -> str:
    with unit_of_work(database_url) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.status


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# The whole cycle ------------------------------------------------------------------------------


def test_a_handoff_from_card_to_rating(gateway: Desk_) -> None:
    g = gateway
    first = g.say(None, "my internet has been down since monday")
    conversation_id = first["conversation_id"]
    assert g.rasa.messages(conversation_id) == ["my internet has been down since monday"]

    # Handoff requested → one card, with the buttons, in the escalation channel.
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    posts = g.slack.calls("chat.postMessage")
    assert len(posts) == 1 and posts[0].params["channel"] == DESK_CHANNEL
    card = g.slack.message(DESK_CHANNEL, thread)
    assert card is not None
    assert action_ids(card["blocks"]) == [
        "handoff_take_over",
        "handoff_hand_back",
        "handoff_resolve",
    ]
    assert "my internet has been down since monday" in json.dumps(card["blocks"])
    assert g.post_due() == 0  # posted once

    # Take over: the assistant goes silent, the customer hears who joined, the card says so.
    assert g.press("handoff_take_over", conversation_id, thread).status_code == 200
    assert conversation_status(g.database_url, conversation_id) == "with_agent"
    joined = JOINED.format(agent=AGENT_DISPLAY_NAME, team=TEAM)
    assert customer_texts(g.record(conversation_id), "bot")[-1] == joined
    card = g.slack.message(DESK_CHANNEL, thread)
    assert card is not None and "Taken over by alex" in json.dumps(card["blocks"])
    assert any("Taken over by alex" in t for t in g.thread_texts(thread))

    # The customer writes: it appears in the thread, and Rasa is not asked.
    reply = g.say(conversation_id, "hello? <!channel> is anyone there")
    assert reply["replies"] == []
    assert g.rasa.messages(conversation_id) == ["my internet has been down since monday"]
    mirrored = g.slack.thread(DESK_CHANNEL, thread)[-1]
    assert "hello? &lt;!channel&gt; is anyone there" in json.dumps(mirrored["blocks"])

    # The agent replies in the thread: the customer gets it live, as plain text, under the
    # agent's display name.
    last_id = g.record(conversation_id)["messages"][-1]["id"]
    with g.client.websocket_connect(
        f"/api/conversations/{conversation_id}/live?after={last_id}"
        f"&token={g.tokens[conversation_id]}"
    ) as live:
        g.agent_says(
            thread,
            "*Good news*: I've fixed <https://brightline.example/status|the line> :tada:",
        )
        pushed = live.receive_json()
    plain = "Good news: I've fixed the line (https://brightline.example/status) 🎉"
    assert (pushed["role"], pushed["text"], pushed["author"]) == ("agent", plain, "alex")
    agent_messages = [m for m in g.record(conversation_id)["messages"] if m["role"] == "agent"]
    assert [(m["text"], m["details"]["author"]) for m in agent_messages] == [(plain, "alex")]

    # A note stays internal: recorded, never sent.
    g.agent_says(thread, "note: she has called three times this week")
    record = g.record(conversation_id)
    assert [m["text"] for m in record["messages"] if m["role"] == "agent"] == [plain]
    assert [(n["author"], n["text"]) for n in record["agent_notes"]] == [
        ("alex", "note: she has called three times this week")
    ]

    # Hand back: the assistant picks up where it was, with one line, and answers again.
    g.press("handoff_hand_back", conversation_id, thread)
    assert conversation_status(g.database_url, conversation_id) == "open"
    assert customer_texts(g.record(conversation_id), "bot")[-1] == HANDED_BACK
    answer = g.say(conversation_id, "actually one more thing")
    assert answer["replies"][0]["text"] == "I hear you: actually one more thing"
    assert g.rasa.messages(conversation_id)[-1] == "actually one more thing"
    card = g.slack.message(DESK_CHANNEL, thread)
    assert card is not None and action_ids(card["blocks"]) == []  # closed at the desk

    # A second handoff opens a second thread; Resolve asks the customer about it.
    g.request_person(conversation_id, "still_broken_after_fix")
    second = g.card(conversation_id)
    assert second != thread
    g.press("handoff_take_over", conversation_id, second)
    g.press("handoff_resolve", conversation_id, second)
    assert conversation_status(g.database_url, conversation_id) == "resolved"
    question = g.record(conversation_id)["messages"][-1]
    assert question["text"].startswith("alex has marked your problem as dealt with")
    yes = next(b for b in question["buttons"] if b["title"] == "Yes, it's sorted")

    asked = g.say(conversation_id, yes["payload"])
    assert asked["replies"][0]["text"] == ASK_RATING_FIXED
    assert [b["title"] for b in asked["replies"][0]["buttons"]] == ["1", "2", "3", "4", "5"]
    thanked = g.say(conversation_id, "4")
    assert thanked["replies"][0]["text"] == THANKS_FIXED
    rasa_before = len(g.rasa.messages(conversation_id))
    assert rasa_before == 2  # none of the answers went to the assistant

    record = g.record(conversation_id)
    assert (record["conversation"]["fixed"], record["conversation"]["rating"]) == (True, 4)
    assert record["conversation"]["status"] == "resolved"
    first_handoff, second_handoff = record["handoffs"]
    assert first_handoff["status"] == "handed_back"
    assert second_handoff["status"] == "resolved"
    for handoff in (first_handoff, second_handoff):
        assert handoff["agent_id"] == AGENT_ID and handoff["agent_name"] == "alex"
        assert handoff["desk_channel"] == DESK_CHANNEL and handoff["taken_over_at"]
        assert handoff["posted_at"] and handoff["ended_at"]
    kinds = [e["kind"] for e in record["events"]]
    for kind in (
        "handoff_requested",
        "handoff_posted",
        "handoff_taken_over",
        "agent_note",
        "handoff_handed_back",
        "handoff_resolved",
        "fix_confirmed",
        "rated",
    ):
        assert kind in kinds, kind

    # Writing again later: the assistant has the conversation again.
    g.say(conversation_id, "my bill is wrong now")
    assert g.rasa.messages(conversation_id)[-1] == "my bill is wrong now"
    assert conversation_status(g.database_url, conversation_id) == "open"


def test_the_desk_sees_personal_data_masked_and_the_records_keep_it(gateway: Desk_) -> None:
    """business/privacy.yml lets agents see e-mail addresses and postcodes; a phone number
    or bank details a customer gives are masked on the card and in the thread."""
    g = gateway
    typed = "no internet since monday, ring me on 07700 900123 or mail sam@example.com"
    conversation_id = g.say(None, typed)["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    card = json.dumps(g.slack.message(DESK_CHANNEL, thread), ensure_ascii=False)
    assert "900123" not in card and "sam@example.com" in card
    assert g.press("handoff_take_over", conversation_id, thread).status_code == 200
    g.say(conversation_id, "refund to sort code 20-00-00 account 12345678, or call 07700 900123")
    mirrored = json.dumps(g.slack.thread(DESK_CHANNEL, thread)[-1], ensure_ascii=False)
    for hidden in ("20-00-00", "12345678", "900123"):
        assert hidden not in mirrored
    assert "••••••78" in mirrored
    # The records keep what the complaint needs, as the customer gave it.
    assert typed in customer_texts(g.record(conversation_id), "customer")


def test_replies_before_take_over_or_by_others_stay_internal(sqlite_gateway: Desk_) -> None:
    g = sqlite_gateway
    conversation_id = g.say(None, "you charged me twice")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)

    g.agent_says(thread, "looking at this one")
    assert customer_texts(g.record(conversation_id), "agent") == []
    assert "Take over" in g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]

    g.press("handoff_take_over", conversation_id, thread)
    g.slack.add_user("U0OTHER1", "Sam Other", "sam")
    g.agent_says(thread, "I can do this one if you like", user="U0OTHER1")
    record = g.record(conversation_id)
    assert customer_texts(record, "agent") == []
    assert [n["author"] for n in record["agent_notes"]] == ["alex", "sam"]
    assert "alex" in g.slack.ephemerals(DESK_CHANNEL, "U0OTHER1")[-1]["text"]

    # Pressing Take over again by the same agent changes nothing.
    joined_before = customer_texts(g.record(conversation_id), "bot").count(
        JOINED.format(agent="alex", team=TEAM)
    )
    g.press("handoff_take_over", conversation_id, thread)
    assert (
        customer_texts(g.record(conversation_id), "bot").count(
            JOINED.format(agent="alex", team=TEAM)
        )
        == joined_before
        == 1
    )


def test_slack_never_carries_the_conversation_id(gateway: Desk_) -> None:
    """Everyone in the workspace sees the card and every payload Slack sends back: the card
    and its buttons name the handoff, never the conversation."""
    g = gateway
    conversation_id = g.say(None, "my internet has been down since monday")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    card = g.slack.message(DESK_CHANNEL, thread)
    assert card is not None
    with unit_of_work(g.database_url) as session:
        handoff = handoff_records.open_handoff(session, conversation_id)
        assert handoff is not None
        handoff_id = handoff.id
    values = {
        element["value"]
        for block in card["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }
    assert values == {f"handoff-{handoff_id}"}
    assert conversation_id not in json.dumps([c.params for c in g.slack.calls()], default=str)

    # A press Slack sends from a message that is not the card's thread still finds the
    # handoff, by the button's value alone.
    press = block_action(
        "handoff_take_over", f"handoff-{handoff_id}", channel=DESK_CHANNEL, message_ts="1.000009"
    )
    assert g.send(press).status_code == 200
    assert conversation_status(g.database_url, conversation_id) == "with_agent"
    assert conversation_id not in json.dumps([c.params for c in g.slack.calls()], default=str)


# Requests that must not be acted on ------------------------------------------------------------


def test_forged_stale_and_tampered_requests_are_refused(gateway: Desk_) -> None:
    g = gateway
    conversation_id = g.say(None, "no signal at all")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    press = block_action(
        "handoff_take_over", conversation_id, channel=DESK_CHANNEL, message_ts=thread
    )

    forged = g.client.post(
        "/slack/events", content=press.body, headers=press.headers("not-the-signing-secret-at-all")
    )
    stale = g.client.post(
        "/slack/events",
        content=press.body,
        headers=press.headers(SECRET, timestamp=int(time.time()) - 10 * 60),
    )
    tampered = g.client.post(
        "/slack/events",
        content=press.tampered(user={"id": "U0EVIL", "username": "evil", "name": "evil"}).body,
        headers=press.headers(SECRET),
    )
    unsigned = g.client.post(
        "/slack/events", content=press.body, headers={"content-type": press.content_type}
    )
    not_a_time = g.client.post(
        "/slack/events",
        content=press.body,
        headers={**press.headers(SECRET), "X-Slack-Request-Timestamp": "yesterday"},
    )
    junk = g.client.post("/slack/events", content=b"\x00\xff{{{", headers={"content-type": "x/y"})
    g.settle()
    refused = (forged, stale, tampered, unsigned, not_a_time, junk)
    assert [r.status_code for r in refused] == [401] * 6
    # Refused before anything read them, in the gateway's own error shape.
    assert not_a_time.json()["error"]["code"] == junk.json()["error"]["code"] == "unauthorised"
    assert conversation_status(g.database_url, conversation_id) == "open"
    with unit_of_work(g.database_url) as session:
        assert session.scalar(select(func.count()).select_from(DeskEvent)) == 0

    challenge = g.send(url_verification("the-challenge"))
    assert challenge.status_code == 200 and "the-challenge" in challenge.text


def test_retries_and_duplicates_are_processed_once(gateway: Desk_) -> None:
    g = gateway
    conversation_id = g.say(None, "router is broken")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)

    press = block_action(
        "handoff_take_over", conversation_id, channel=DESK_CHANNEL, message_ts=thread
    )
    assert g.send(press).status_code == 200
    assert g.send(press).status_code == 200  # the same press delivered twice
    joined = JOINED.format(agent="alex", team=TEAM)
    assert customer_texts(g.record(conversation_id), "bot").count(joined) == 1

    event = g.slack.post_as_user(
        DESK_CHANNEL, AGENT_ID, "Sorry about that, on it now", thread_ts=thread
    )
    request = event_callback(event=event)
    responses = [
        g.send(request),
        g.send(request, retry_num=1, retry_reason="http_timeout"),
        g.send(request, retry_num=2, retry_reason="http_error"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert customer_texts(g.record(conversation_id), "agent") == ["Sorry about that, on it now"]

    # A different event with the same text is a new message.
    g.agent_says(thread, "Sorry about that, on it now")
    assert len(customer_texts(g.record(conversation_id), "agent")) == 2


def test_the_bots_own_messages_are_ignored(sqlite_gateway: Desk_) -> None:
    g = sqlite_gateway
    conversation_id = g.say(None, "slow again")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    g.press("handoff_take_over", conversation_id, thread)
    own = event_callback(
        channel=DESK_CHANNEL,
        user=g.slack.bot_user_id,
        text="Customer: slow again",
        thread_ts=thread,
        bot_id=g.slack.bot_id,
    )
    assert g.send(own).status_code == 200
    assert customer_texts(g.record(conversation_id), "agent") == []


# Slack failing ---------------------------------------------------------------------------------


def test_a_rate_limited_card_is_posted_after_retry_after(gateway: Desk_) -> None:
    g = gateway
    conversation_id = g.say(None, "internet keeps dropping")["conversation_id"]
    g.request_person(conversation_id)
    g.slack.fail_next("chat.postMessage", "ratelimited", retry_after=7)

    assert g.post_due() == 0
    with unit_of_work(g.database_url) as session:
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.last_error == "ratelimited" and handoff.desk_thread is None
        assert handoff.next_post_at == START + timedelta(seconds=7)

    g.clock.now = START + timedelta(seconds=6)
    assert g.post_due() == 0
    assert len(g.slack.calls("chat.postMessage")) == 1  # not tried before Slack said
    g.clock.now = START + timedelta(seconds=7)
    assert g.post_due() == 1
    assert [c.status for c in g.slack.calls("chat.postMessage")] == [429, 200]
    with unit_of_work(g.database_url) as session:
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.desk_thread and handoff.post_attempts == 2 and handoff.last_error is None
        assert session.scalar(select(func.count()).select_from(OperatorAlert)) == 0


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth"])
def test_a_desk_that_cannot_post_alerts_operators(
    sqlite_url: str, business: Business, error: str
) -> None:
    channel = "C0NOSUCH01" if error == "channel_not_found" else DESK_CHANNEL
    with open_gateway(sqlite_url, business, channel=channel) as g:
        conversation_id = g.say(None, "nobody is helping me")["conversation_id"]
        g.request_person(conversation_id)
        if error == "invalid_auth":
            g.slack.fail_next("chat.postMessage", "invalid_auth", times=5)
        assert g.post_due() == 0
        assert g.post_due() == 0  # not due again yet

        with unit_of_work(g.database_url) as session:
            alerts = session.scalars(select(OperatorAlert)).all()
            assert [(a.kind, a.detail["error"]) for a in alerts] == [("agent_desk", error)]
            handoff = session.scalars(select(Handoff)).one()
            assert handoff.status == "requested" and handoff.desk_thread is None
            assert handoff.last_error == error and handoff.next_post_at > START
        record = g.record(conversation_id)
        assert not any("joined" in text for text in customer_texts(record, "bot"))
        assert conversation_status(g.database_url, conversation_id) == "open"
        # The assistant still answers the customer meanwhile.
        assert g.say(conversation_id, "hello?")["replies"]


def test_replies_reach_a_telegram_customer(sqlite_url: str, business: Business) -> None:
    with (
        FakeTelegram(TELEGRAM_TOKEN) as telegram,
        open_gateway(sqlite_url, business, telegram=telegram) as g,
    ):
        telegram.wait_for(lambda: telegram.calls_to("setWebhook"), 30, "setWebhook")
        chat_id = next(_chats)
        with unit_of_work(sqlite_url) as session:
            conversation_id = conversations.conversation_on_channel(
                session, "telegram", str(chat_id)
            ).id
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        g.press("handoff_take_over", conversation_id, thread)
        g.agent_says(thread, "Hi, I'm _looking_ at your line now &amp; will update you")

        texts = [html.unescape(t) for t in telegram.texts(chat_id)]
        assert texts == [
            JOINED.format(agent="alex", team=TEAM),
            "alex: Hi, I'm looking at your line now & will update you",
        ]
        with unit_of_work(sqlite_url) as session:
            delivered = session.scalars(
                select(Message).where(
                    Message.conversation_id == conversation_id, Message.role == "agent"
                )
            ).one()
            assert delivered.external_id  # Telegram's message id: it arrived

        # The customer answers on Telegram: it goes to the thread, not to the assistant.
        webhook = g.client.post(
            "/telegram/webhook",
            json=text_update(chat_id, "thanks, the light is <b>green</b> now"),
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert webhook.status_code == 200
        slack = g.slack
        slack.wait_for(
            lambda: any("green" in t for t in g.thread_texts(thread)), 30, "the mirrored message"
        )
        mirrored = slack.thread(DESK_CHANNEL, thread)[-1]
        assert "*Customer* · Telegram" in json.dumps(mirrored["blocks"], ensure_ascii=False)
        assert "&lt;b&gt;green&lt;/b&gt;" in mirrored["text"]
        assert g.rasa.messages(conversation_id) == []
        assert len(telegram.texts(chat_id)) == 2  # and the assistant said nothing


# Socket Mode ------------------------------------------------------------------------------------


class _SocketClient:
    """Stands in for the Socket Mode connection: keeps the acknowledgements sent back."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.socket_mode")
        self.acknowledged: list[str] = []

    async def send_socket_mode_response(self, response: Any) -> None:
        self.acknowledged.append(response.envelope_id)


def test_socket_mode_needs_no_public_endpoint(sqlite_url: str, business: Business) -> None:
    with open_gateway(sqlite_url, business, mode="socket") as g:
        # It connects out to Slack (the fake has no Socket Mode server: it only logs and waits).
        slack = g.slack
        slack.wait_for(lambda: slack.calls("apps.connections.open"), 10, "a connection")
        assert g.client.post("/slack/events", content=b"{}").status_code in (404, 405)

        conversation_id = g.say(None, "the engineer never came")["conversation_id"]
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        press = block_action(
            "handoff_take_over", conversation_id, channel=DESK_CHANNEL, message_ts=thread
        )
        connection = _SocketClient()
        app = g.client.app.state.slack.app  # type: ignore[attr-defined]

        async def deliver(
            handler: AsyncSocketModeHandler, envelope: str, retry: int | None = None
        ) -> None:
            request = SocketModeRequest(
                type="interactive", envelope_id=envelope, payload=press.payload, retry_attempt=retry
            )
            await handler.handle(connection, request)  # type: ignore[arg-type]
            await desk.idle()

        async def socket_handler() -> AsyncSocketModeHandler:
            return AsyncSocketModeHandler(app, SOCKET_APP_TOKEN, web_client=desk.client)

        desk = g.desk
        portal = g.client.portal
        assert portal is not None
        handler = portal.call(socket_handler)
        portal.call(deliver, handler, "envelope-1")
        portal.call(deliver, handler, "envelope-1", 1)
        portal.call(handler.close_async)
        assert connection.acknowledged == ["envelope-1", "envelope-1"]
        assert conversation_status(g.database_url, conversation_id) == "with_agent"
        joined = JOINED.format(agent="alex", team=TEAM)
        assert customer_texts(g.record(conversation_id), "bot").count(joined) == 1


# The records underneath --------------------------------------------------------------------------


def test_one_open_handoff_per_conversation_and_one_poster_per_card(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        first = handoff_records.request_handoff(session, conversation.id, "customer_asked")
        conversation_id, first_id = conversation.id, first.id
    with unit_of_work(database_url) as session:
        # Two gateways try the same card at once: one gets it.
        assert handoff_posting.claim_for_posting(session, first_id, START)
        assert not handoff_posting.claim_for_posting(session, first_id, START)
        handoff_posting.note_posted(session, first_id, DESK_CHANNEL, "1.000001", START)
        handoff_records.take_over(session, first_id, AGENT_ID, "alex", START)
    with unit_of_work(database_url) as session:
        # Asking again while a person has it is the same request, not a second card.
        again = handoff_records.request_handoff(session, conversation_id, "abuse")
        assert again.id == first_id
        assert handoff_posting.due_for_posting(session, START) == []
        handoff_records.hand_back(session, first_id, AGENT_ID, "alex", START)
    with unit_of_work(database_url) as session:
        later = handoff_records.request_handoff(session, conversation_id, "customer_asked")
        assert later.id != first_id
        assert handoff_posting.due_for_posting(session, START) == [later.id]
        assert handoff_records.hand_back(session, first_id, AGENT_ID, "alex", START).outcome == (
            "already_closed"
        )


def test_a_rate_limited_thread_message_waits_and_goes_through(sqlite_gateway: Desk_) -> None:
    g = sqlite_gateway
    conversation_id = g.say(None, "my bill doubled")["conversation_id"]
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    g.press("handoff_take_over", conversation_id, thread)

    g.slack.fail_next("chat.postMessage", "ratelimited", retry_after=1)
    g.say(conversation_id, "any news?")
    tries = [c for c in g.slack.calls("chat.postMessage") if c.params.get("thread_ts") == thread]
    assert [c.status for c in tries][-2:] == [429, 200]
    assert "any news?" in g.thread_texts(thread)[-1]
