"""Operator alerts at the Slack agent desk, on SQLite and PostgreSQL: the real
``AsyncWebClient`` posting to a fake Slack Web API (``tests.fakes.slack_api``), alerts raised
the way the gateway raises them (``raise_alert``). Time comes from a clock the tests move on
(a summer day, so local time is an hour ahead of UTC); nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.alerts import ACKNOWLEDGE, AlertPoster
from bot.slack.text import WORD_JOINER
from redress import alerts
from redress.business import Business
from redress.db.models import OperatorAlert
from redress.db.session import unit_of_work
from redress.incidents.notices import raise_alert
from tests.fakes.slack_api import DESK_CHANNEL, FakeSlack
from tests.fakes.slack_requests import block_action
from tests.integration.incidents.test_incident_notices import INCIDENT, open_incident

# 12:00 UTC is 13:00 in London (BST): the messages must say 13:00.
START = datetime(2026, 7, 14, 12, 0, tzinfo=timezone.utc)
OPS_CHANNEL = "C0OPSALERT"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def make_poster(
    slack: FakeSlack,
    database_url: str,
    business: Business,
    clock: Clock,
    channel: str = DESK_CHANNEL,
) -> AlertPoster:
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    return AlertPoster(client, channel, database_url, business, clock=clock)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def raise_one(
    database_url: str,
    kind: str,
    summary: str,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime = START,
    incident_id: str | None = None,
    key: str | None = None,
) -> int:
    dedupe_key = key or f"{kind}:{summary}"
    with unit_of_work(database_url) as session:
        assert raise_alert(
            session,
            kind=kind,
            dedupe_key=dedupe_key,
            summary=summary,
            detail=detail or {},
            incident_id=incident_id,
            now=at,
        )
    with unit_of_work(database_url) as session:
        alert = session.query(OperatorAlert).filter_by(dedupe_key=dedupe_key).one()
        return alert.id


def stored(database_url: str, alert_id: int) -> OperatorAlert:
    with unit_of_work(database_url) as session:
        alert = session.get(OperatorAlert, alert_id)
        assert alert is not None
        return alert


def open_alert_ids(database_url: str) -> set[int]:
    """What ``GET /api/alerts`` and ``python -m redress alerts`` list."""
    with unit_of_work(database_url) as session:
        return {a.id for a in alerts.list_alerts(session, open_only=True)}


def posted(slack: FakeSlack, channel: str = DESK_CHANNEL) -> dict[int, dict[str, Any]]:
    """The alert messages in ``channel`` by alert id (from the line "Raised … · alert N");
    fails if an alert was posted twice."""
    found: dict[int, dict[str, Any]] = {}
    for message in slack.messages_in(channel):
        match = re.search(r"· alert (\d+)", blocks_text(message))
        assert match, f"not an alert message: {message.get('text')}"
        alert_id = int(match[1])
        assert alert_id not in found, f"alert {alert_id} was posted twice"
        found[alert_id] = message
    return found


def blocks_text(message: dict[str, Any]) -> str:
    """Everything a person reads in the message's blocks, one line per text."""
    texts = []
    for block in message.get("blocks") or []:
        if "text" in block:
            texts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            texts.append(element["text"] if isinstance(element["text"], str) else "")
    return "\n".join(texts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def press(poster: AlertPoster, alert_id: int, ts: str, user: str = "U0AGENT1") -> None:
    body = block_action(
        ACKNOWLEDGE, str(alert_id), user_id=user, channel=DESK_CHANNEL, message_ts=ts
    ).payload

    async def scenario() -> None:
        poster.on_acknowledge(body)  # as the Bolt listener will, before acknowledging Slack
        await poster.idle()

    run(scenario())


# Posting -------------------------------------------------------------------------------------


def test_open_alerts_are_posted_once_each_with_headline_details_and_button(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    open_incident(database_url, now=START - timedelta(hours=4))
    possible = raise_one(
        database_url,
        "possible_incident",
        "Possible incident: 3 broadband complaints from LS6 in the last 60 minutes.",
        {"category": "broadband", "district": "LS6", "complaints": ["RD-AAAAAA", "RD-BBBBBB"]},
        at=START - timedelta(minutes=30),
    )
    missed = raise_one(
        database_url,
        "promise_missed",
        f"{INCIDENT}: the update promised by 2026-07-14 11:00Z did not come.",
        {"promised": "2026-07-14T11:00:00+00:00", "subscribers": 3},
        incident_id=INCIDENT,
        at=START - timedelta(minutes=10),
    )
    seen = raise_one(database_url, "delivery_failed", "An update could not be delivered.")
    with unit_of_work(database_url) as session:
        alerts.acknowledge(session, seen, START)  # already dealt with, from the API

    poster = make_poster(slack, database_url, business, clock)
    assert run(poster.post_due()) == 2

    messages = posted(slack)
    assert set(messages) == {possible, missed}  # the acknowledged one is not posted
    first, second = blocks_text(messages[possible]), blocks_text(messages[missed])
    assert "Possible incident: similar complaints from one area" in first
    assert "3 broadband complaints from LS6" in first
    assert "*Postcode district:* LS6" in first
    assert "*Complaints:* RD-AAAAAA, RD-BBBBBB" in first
    assert f"Raised 12:30 · alert {possible}" in first  # 11:30 UTC, in London time
    assert "A promised incident update is late" in second
    assert "*Update promised by:* 12:00" in second
    assert f"incident {INCIDENT}" in second
    assert messages[possible]["text"].startswith("🚨 Possible incident")
    for alert_id, message in messages.items():
        [button] = buttons(message)
        assert (button["action_id"], button["value"]) == (ACKNOWLEDGE, str(alert_id))
        assert button["text"]["text"] == "Acknowledge"
        assert stored(database_url, alert_id).posted_at == START
    assert stored(database_url, seen).posted_at is None

    # The next rounds post nothing again, even once a new alert arrives.
    clock.advance(minutes=5)
    assert run(poster.post_due()) == 0
    later = raise_one(database_url, "agent_desk", "The agent desk failed (not_in_channel).")
    assert run(poster.post_due()) == 1
    assert set(posted(slack)) == {possible, missed, later}
    assert len(slack.calls("chat.postMessage")) == 3
    assert "The agent desk in Slack is not working" in blocks_text(posted(slack)[later])


def test_two_gateways_posting_at_once_post_each_alert_once(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    ids = {raise_one(database_url, "delivery_failed", f"Undelivered update {n}.") for n in range(6)}
    one = make_poster(slack, database_url, business, clock)
    other = make_poster(slack, database_url, business, clock)

    async def both() -> list[int]:
        return list(await asyncio.gather(one.post_due(), other.post_due()))

    assert sum(run(both())) == 6
    assert set(posted(slack)) == ids  # ``posted`` fails on a duplicate
    assert len(slack.calls("chat.postMessage")) == 6


def test_a_claim_left_by_a_gateway_that_died_lapses(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(database_url, "promise_missed", "An update promised did not come.")
    with unit_of_work(database_url) as session:  # a gateway claims it, then dies
        assert alerts.claim_for_posting(session, alert_id, START)
    with unit_of_work(database_url) as session:  # nobody else can claim it meanwhile
        assert not alerts.claim_for_posting(session, alert_id, START)

    poster = make_poster(slack, database_url, business, clock)
    assert run(poster.post_due()) == 0
    clock.advance(minutes=2)
    assert run(poster.post_due()) == 1
    assert set(posted(slack)) == {alert_id}


def test_customer_text_in_an_alert_cannot_ping_or_link(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(
        database_url,
        "delivery_failed",
        "Could not deliver to <!channel> <@U0AGENT1>: bounced",
        {
            "customer_said": "<!here> help @everyone <https://evil.example|click me>",
            "complaints": ["<!channel>", "RD-AAAAAA"],
        },
    )
    run(make_poster(slack, database_url, business, clock).post_due())

    [call] = slack.calls("chat.postMessage")
    sent = json.dumps({"text": call.params["text"], "blocks": call.params["blocks"]})
    sent_plain = json.dumps(call.params, ensure_ascii=False)
    for control in ("<!channel>", "<!here>", "<@U0AGENT1>", "<https://evil.example"):
        assert control not in sent and control not in sent_plain
    shown = blocks_text(posted(slack)[alert_id])
    assert f"Could not deliver to &lt;!channel&gt; &lt;@{WORD_JOINER}U0AGENT1&gt;: bounced" in shown
    assert f"*Customer said:* &lt;!here&gt; help @{WORD_JOINER}everyone" in shown
    assert "*Complaints:* &lt;!channel&gt;, RD-AAAAAA" in shown
    assert "@everyone" not in sent_plain


# When Slack says no --------------------------------------------------------------------------


def test_rate_limited_waits_for_retry_after_then_posts(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    ids = {raise_one(database_url, "delivery_failed", f"Undelivered update {n}.") for n in (1, 2)}
    slack.fail_next("chat.postMessage", "ratelimited", retry_after=45)
    poster = make_poster(slack, database_url, business, clock)

    assert run(poster.post_due()) == 0
    assert len(slack.calls("chat.postMessage")) == 1  # the other alert was not tried
    assert open_alert_ids(database_url) == ids  # still listed; nothing lost
    assert all(stored(database_url, i).posted_at is None for i in ids)

    clock.advance(seconds=44)
    assert run(poster.post_due()) == 0
    assert len(slack.calls("chat.postMessage")) == 1  # Slack said 45 s: not asked again

    clock.advance(seconds=1)
    assert run(poster.post_due()) == 2
    assert set(posted(slack)) == ids


def test_a_missing_channel_keeps_the_alert_and_retries_with_backoff(
    database_url: str,
    business: Business,
    slack: FakeSlack,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alert_id = raise_one(database_url, "possible_incident", "Possible incident in LS6.")
    poster = make_poster(slack, database_url, business, clock, channel=OPS_CHANNEL)

    with caplog.at_level(logging.ERROR, logger="redress.gateway.slack.alerts"):
        assert run(poster.post_due()) == 0
    assert "channel_not_found" in caplog.text
    alert = stored(database_url, alert_id)
    assert alert.posted_at is None and alert.last_post_error == "channel_not_found"
    assert alert_id in open_alert_ids(database_url)

    # Not tried again at once, nor before the backoff (30 s) is up.
    assert run(poster.post_due()) == 0
    clock.advance(seconds=29)
    assert run(poster.post_due()) == 0
    assert len(slack.calls("chat.postMessage")) == 1

    clock.advance(seconds=1)
    assert run(poster.post_due()) == 0  # tried, still missing; next wait is longer
    assert len(slack.calls("chat.postMessage")) == 2
    clock.advance(seconds=59)
    assert run(poster.post_due()) == 0
    assert len(slack.calls("chat.postMessage")) == 2

    slack.add_channel(OPS_CHANNEL, "ops-alerts")  # an operator creates the channel
    clock.advance(seconds=1)
    assert run(poster.post_due()) == 1
    assert set(posted(slack, OPS_CHANNEL)) == {alert_id}
    assert stored(database_url, alert_id).posted_at == clock.now
    assert len(slack.calls("chat.postMessage")) == 3


# The Acknowledge button ----------------------------------------------------------------------


def test_acknowledge_button_acknowledges_and_shows_who_and_when(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(database_url, "promise_missed", "An update promised did not come.")
    poster = make_poster(slack, database_url, business, clock)
    run(poster.post_due())
    ts = posted(slack)[alert_id]["ts"]

    clock.advance(minutes=5)
    press(poster, alert_id, ts)

    acknowledged_at = START + timedelta(minutes=5)
    assert stored(database_url, alert_id).acknowledged_at == acknowledged_at
    assert alert_id not in open_alert_ids(database_url)
    message = slack.message(DESK_CHANNEL, ts)
    assert message is not None
    assert buttons(message) == []
    assert "✅ Acknowledged by *alex* at 13:05" in blocks_text(message)
    assert "An update promised did not come." in blocks_text(message)  # the rest stays
    assert "Acknowledged by *alex* at 13:05" in message["text"]

    # Pressed again (a double click, or a colleague a moment later): nothing changes.
    slack.add_user("U0BOBOPS", "Bob Ops", "bob")
    clock.advance(minutes=3)
    press(poster, alert_id, ts)
    press(poster, alert_id, ts, user="U0BOBOPS")
    assert stored(database_url, alert_id).acknowledged_at == acknowledged_at
    message = slack.message(DESK_CHANNEL, ts)
    assert message is not None
    assert buttons(message) == []
    assert "✅ Acknowledged by *alex* at 13:05" in blocks_text(message)
    assert "bob" not in blocks_text(message)

    # An acknowledged alert is never posted again.
    clock.advance(hours=1)
    assert run(poster.post_due()) == 0
    assert len(slack.calls("chat.postMessage")) == 1


def test_acknowledged_elsewhere_first_the_button_shows_the_first_time(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(database_url, "delivery_failed", "An update could not be delivered.")
    poster = make_poster(slack, database_url, business, clock)
    run(poster.post_due())
    ts = posted(slack)[alert_id]["ts"]
    with unit_of_work(database_url) as session:  # from the API or the command line
        alerts.acknowledge(session, alert_id, START + timedelta(minutes=2))

    clock.advance(minutes=10)
    press(poster, alert_id, ts)

    assert stored(database_url, alert_id).acknowledged_at == START + timedelta(minutes=2)
    message = slack.message(DESK_CHANNEL, ts)
    assert message is not None
    assert buttons(message) == []
    assert "✅ Acknowledged at 13:02" in blocks_text(message)


def test_two_presses_at_once_on_two_gateways_acknowledge_once(
    database_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(database_url, "possible_incident", "Possible incident in LS6.")
    one = make_poster(slack, database_url, business, clock)
    other = make_poster(slack, database_url, business, clock)
    run(one.post_due())
    ts = posted(slack)[alert_id]["ts"]
    slack.add_user("U0BOBOPS", "Bob Ops", "bob")

    def body(user: str) -> dict[str, Any]:
        return block_action(
            ACKNOWLEDGE, str(alert_id), user_id=user, channel=DESK_CHANNEL, message_ts=ts
        ).payload

    async def both() -> list[str | None]:
        return list(
            await asyncio.gather(
                one.acknowledge(body("U0AGENT1")), other.acknowledge(body("U0BOBOPS"))
            )
        )

    clock.advance(minutes=1)
    assert sorted(str(o) for o in run(both())) == ["acknowledged", "already_acknowledged"]
    assert stored(database_url, alert_id).acknowledged_at == START + timedelta(minutes=1)
    message = slack.message(DESK_CHANNEL, ts)
    assert message is not None and buttons(message) == []
    assert "✅ Acknowledged" in blocks_text(message)


def test_a_press_for_no_known_alert_changes_nothing(
    sqlite_url: str, business: Business, slack: FakeSlack, clock: Clock
) -> None:
    alert_id = raise_one(sqlite_url, "delivery_failed", "An update could not be delivered.")
    poster = make_poster(slack, sqlite_url, business, clock)
    run(poster.post_due())
    ts = posted(slack)[alert_id]["ts"]

    for value in (str(alert_id + 100), "not-a-number"):
        body = block_action(ACKNOWLEDGE, value, channel=DESK_CHANNEL, message_ts=ts).payload
        assert run(poster.acknowledge(body)) is None

    assert stored(sqlite_url, alert_id).acknowledged_at is None
    message = slack.message(DESK_CHANNEL, ts)
    assert message is not None and len(buttons(message)) == 1
    assert slack.calls("chat.update") == []
