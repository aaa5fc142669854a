"""The Slack agent desk in Socket Mode, end to end: the real gateway (``bot.app.create_app``
with ``SLACK_MODE=socket``) connects out with the real slack_bolt ``AsyncSocketModeHandler``
and slack_sdk's aiohttp ``SocketModeClient``. The fake Web API (``tests.fakes.slack_api``)
answers ``apps.connections.open`` with the address of a fake Socket Mode server
(``tests.fakes.slack_socket``), which delivers button presses and thread replies as Slack does,
in envelopes, and records the acknowledgements the gateway sends back.

The helpers around the gateway (the fake Rasa, the clock, the records) are the HTTP-mode
tests' own, from ``test_slack_desk``. Waiting is for conditions, with timeouts; nothing here
measures time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import create_app
from bot.slack.desk.texts import ALREADY_YOURS, JOINED
from redress.business import Business
from redress.db.models import OperatorAlert
from redress.db.session import unit_of_work
from tests.fakes.rasa import FakeRasa
from tests.fakes.slack_api import AGENT_ID, DESK_CHANNEL, FakeSlack
from tests.fakes.slack_requests import block_action, event_callback
from tests.fakes.slack_socket import FakeSocketMode
from tests.integration.conftest import gateway_settings
from tests.integration.slack.test_slack_desk import (
    SOCKET_APP_TOKEN,
    START,
    TEAM,
    Clock,
    Desk_,
    conversation_status,
    customer_texts,
    desk_settings,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WRONG_APP_TOKEN = "xapp-1-A0REDRESS-1-0123456789-notthetokenslackissued0"
T = TypeVar("T")


@dataclass
class SocketDesk(Desk_):
    """The gateway with the desk in Socket Mode, and the Socket Mode server it connects to."""

    socket: FakeSocketMode = field(kw_only=True)

    def deliver_press(self, payload: dict[str, Any]) -> str:
        """Delivers a button press (a ``block_actions`` payload); returns the envelope id."""
        return self.socket.interactive(payload)

    def press_payload(self, action_id: str, conversation_id: str, thread: str) -> dict[str, Any]:
        request = block_action(action_id, conversation_id, channel=DESK_CHANNEL, message_ts=thread)
        return request.payload

    def reply_payload(self, thread: str, text: str, user: str = AGENT_ID) -> dict[str, Any]:
        """An agent writes ``text`` in the card's thread: the Events API body Slack sends."""
        event = self.slack.post_as_user(DESK_CHANNEL, user, text, thread_ts=thread)
        return event_callback(event=event).payload

    def acknowledged(self, envelope_id: str) -> dict[str, Any]:
        """Waits for the gateway's acknowledgement of ``envelope_id``, then for the desk's
        work after it; returns the acknowledgement."""
        ack = self.socket.wait_for_ack(envelope_id)
        self.settle()
        return ack


@contextmanager
def socket_gateway(
    database_url: str, business: Business, *, app_token: str = SOCKET_APP_TOKEN
) -> Iterator[SocketDesk]:
    """The gateway in Socket Mode configured with ``app_token``; the fake Slack accepts only
    ``SOCKET_APP_TOKEN``."""
    clock = Clock(START)
    rasa = FakeRasa()
    with FakeSlack() as slack:
        socket = slack.serve_socket_mode(SOCKET_APP_TOKEN)
        settings = replace(
            gateway_settings(database_url, rasa.url),
            slack=replace(desk_settings(slack, mode="socket"), app_token=app_token),
            outbox_poll_seconds=60,  # the tests post cards when they choose
            telegram=None,
        )
        try:
            with TestClient(create_app(settings, business, clock=clock)) as client:
                yield SocketDesk(client, slack, rasa, clock, database_url, socket=socket)
        finally:
            rasa.close()


def eventually(condition: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Waits until ``condition()`` is truthy (work the gateway does in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def agent_messages(g: Desk_, conversation_id: str) -> list[tuple[str, str]]:
    """What agents said to the customer: (text, author) in order."""
    messages = g.record(conversation_id)["messages"]
    return [(m["text"], m["details"]["author"]) for m in messages if m["role"] == "agent"]


def test_the_gateway_connects_with_the_app_token(sqlite_url: str, business: Business) -> None:
    with socket_gateway(sqlite_url, business) as g:
        connection = g.socket.wait_for_connection()

        opens = g.slack.calls("apps.connections.open")
        assert len(opens) == 1
        assert opens[0].headers["authorization"] == f"Bearer {SOCKET_APP_TOKEN}"
        assert opens[0].ok and f"ticket={connection.ticket}" in opens[0].answer["url"]
        # The bot token is not what opened it: that one is for the Web API calls only.
        assert g.slack.token not in opens[0].headers["authorization"]

        # Slack drops a connection that stops answering its pings; this one answers.
        g.socket.ping(b"are-you-there")
        g.socket.wait_for(lambda: connection.pongs == [b"are-you-there"], what="the pong")
        assert not connection.closed


def test_take_over_and_a_thread_reply_arrive_over_the_socket(
    database_url: str, business: Business
) -> None:
    with socket_gateway(database_url, business) as g:
        conversation_id = g.say(None, "the engineer never came")["conversation_id"]
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        g.socket.wait_for_connection()

        # Take over, pressed on the card: acknowledged by its envelope id, and done.
        press = g.press_payload("handoff_take_over", conversation_id, thread)
        envelope = g.deliver_press(press)
        assert g.acknowledged(envelope) == {"envelope_id": envelope}
        eventually(
            lambda: conversation_status(g.database_url, conversation_id) == "with_agent",
            "the take-over",
        )
        joined = JOINED.format(agent="alex", team=TEAM)
        eventually(
            lambda: joined in customer_texts(g.record(conversation_id), "bot"), "the customer told"
        )
        eventually(
            lambda: "Taken over by alex" in str(g.slack.message(DESK_CHANNEL, thread)),
            "the card showing who has it",
        )

        # The agent replies in the thread: the customer gets it, as plain text, from alex.
        reply = g.reply_payload(thread, "I've booked *a new visit* for tomorrow morning")
        envelope = g.socket.events_api(reply)
        assert g.acknowledged(envelope) == {"envelope_id": envelope}
        said = eventually(lambda: agent_messages(g, conversation_id), "the agent's reply")
        assert said == [("I've booked a new visit for tomorrow morning", "alex")]


def test_a_redelivered_press_or_event_is_processed_once(
    sqlite_url: str, business: Business
) -> None:
    with socket_gateway(sqlite_url, business) as g:
        conversation_id = g.say(None, "router is broken")["conversation_id"]
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        g.socket.wait_for_connection()

        # The same press (same trigger id) delivered twice: both acknowledged, one take-over.
        press = g.press_payload("handoff_take_over", conversation_id, thread)
        first, again = g.deliver_press(press), g.deliver_press(press)
        assert g.acknowledged(first) == {"envelope_id": first}
        assert g.acknowledged(again) == {"envelope_id": again}
        joined = JOINED.format(agent="alex", team=TEAM)
        eventually(
            lambda: joined in customer_texts(g.record(conversation_id), "bot"), "the take-over"
        )
        g.settle()
        assert customer_texts(g.record(conversation_id), "bot").count(joined) == 1
        # Nor is the agent told "you already have it", as a second press of theirs would be.
        assert ALREADY_YOURS not in [e["text"] for e in g.slack.ephemerals(DESK_CHANNEL)]

        # The same event (same event id) again, as Slack retries it: one message to the customer.
        reply = g.reply_payload(thread, "Sorry about that, on it now")
        first = g.socket.events_api(reply)
        assert g.acknowledged(first) == {"envelope_id": first}
        eventually(lambda: agent_messages(g, conversation_id), "the agent's reply")
        retry = g.socket.events_api(reply, retry_attempt=1, retry_reason="timeout")
        assert g.acknowledged(retry) == {"envelope_id": retry}
        assert agent_messages(g, conversation_id) == [("Sorry about that, on it now", "alex")]

        # A new message with the same words is a new event, and goes through.
        later = g.socket.events_api(g.reply_payload(thread, "Sorry about that, on it now"))
        g.acknowledged(later)
        eventually(lambda: len(agent_messages(g, conversation_id)) == 2, "the second reply")


def test_when_slack_asks_it_reconnects_and_keeps_receiving(
    sqlite_url: str, business: Business
) -> None:
    with socket_gateway(sqlite_url, business) as g:
        conversation_id = g.say(None, "no signal at all")["conversation_id"]
        g.request_person(conversation_id)
        thread = g.card(conversation_id)
        first = g.socket.wait_for_connection()

        # Slack refreshes Socket Mode connections every few hours.
        g.socket.disconnect("refresh_requested")
        second = g.socket.wait_for_connection(2)
        g.socket.wait_for(lambda: first.closed, what="the old connection closed")
        opens = g.slack.calls("apps.connections.open")
        assert [c.ok for c in opens] == [True, True]
        assert f"ticket={second.ticket}" in opens[1].answer["url"]

        envelope = g.socket.interactive(
            g.press_payload("handoff_take_over", conversation_id, thread), connection=second
        )
        g.acknowledged(envelope)
        assert {"envelope_id": envelope} in second.received
        eventually(
            lambda: conversation_status(g.database_url, conversation_id) == "with_agent",
            "the take-over",
        )


def test_a_wrong_app_token_is_refused_logged_and_retried(
    sqlite_url: str, business: Business, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with socket_gateway(sqlite_url, business, app_token=WRONG_APP_TOKEN) as g:
        # The gateway checks the token before connecting, and tries again after 5 s (then
        # longer) for as long as it runs.
        opens = g.slack.wait_for(
            lambda: g.slack.calls("apps.connections.open")[1:], 40, "a second attempt"
        )
        attempts = g.slack.calls("apps.connections.open")
        assert len(attempts) >= 2 and opens
        assert {c.error for c in attempts} == {"invalid_auth"}
        assert {c.headers["authorization"] for c in attempts} == {f"Bearer {WRONG_APP_TOKEN}"}
        assert g.socket.connections == [] and g.socket.refused == []

        # The operator can see why in the gateway's log.
        logged = [
            r
            for r in caplog.records
            if r.name.startswith("redress.gateway.slack")
            and r.levelno >= logging.ERROR
            and "invalid_auth" in r.getMessage()
        ]
        assert logged, [r.getMessage() for r in caplog.records]
        assert any("SLACK_APP_TOKEN" in r.getMessage() for r in logged)
        # ...and operators get one alert naming the setting to fix.
        with unit_of_work(sqlite_url) as session:
            alerts = session.scalars(select(OperatorAlert)).all()
        assert [a.kind for a in alerts] == ["agent_desk"]
        assert "SLACK_APP_TOKEN" in alerts[0].summary

        # Meanwhile the rest of the gateway works: the assistant answers, cards are posted.
        answer = g.say(None, "my bill is wrong")
        assert answer["replies"][0]["text"] == "I hear you: my bill is wrong"
        g.request_person(answer["conversation_id"])
        assert g.card(answer["conversation_id"])
    # ...and it shuts down cleanly while still trying (leaving the block raised nothing).
