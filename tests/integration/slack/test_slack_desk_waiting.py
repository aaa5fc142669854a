"""Never silent while waiting for a person, and deciding compensation from the card: the
real gateway with the real slack_bolt and slack_sdk against the fake Slack Web API, on SQLite
and PostgreSQL. The desk's clock is moved on by the tests; waiting counts opening hours
(business/hours.yml: Monday to Friday 08:00-20:00, Saturday 09:00-17:00, Europe/London).

Every date here is in the past, so messages the desk queues are due for the real delivery
job at once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from redress.business import Business
from redress.compensation import ledger
from redress.compensation.operators import approved_text, find_offer, rejected_text
from redress.conversations import records as conversations
from redress.db.models import CompensationGrant, Handoff
from redress.db.session import unit_of_work
from redress.delivery import outbox
from redress.handoff import waits as handoff_waits
from redress.incidents.notices import raise_alert
from tests.fakes.slack_api import AGENT_ID, DESK_CHANNEL
from tests.fakes.slack_requests import block_action
from tests.fakes.telegram_api import FakeTelegram, button_update
from tests.integration.compensation.test_fulfilment import POLICY, make_offer
from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.slack.test_slack_approvers import with_approvers
from tests.integration.slack.test_slack_desk import (
    JOINED,
    TEAM,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    Desk_,
    action_ids,
    customer_texts,
    open_gateway,
)

LONDON = ZoneInfo("Europe/London")
# A Monday, mid-morning (GMT in November).
MONDAY_10AM = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
STILL_WAITING = handoff_waits.STILL_WAITING.format(team=TEAM)


def quiet(business: Business) -> Business:
    """The business with the scheduler's own waiting checks an hour apart, so the tests'
    explicit checks are the ones that act."""
    waiting = business.handoff.waiting.model_copy(update={"check_every_seconds": 3600})
    return replace(business, handoff=business.handoff.model_copy(update={"waiting": waiting}))


def check_waits(g: Desk_) -> int:
    steps = g.client.portal.call(g.desk.check_waits)  # type: ignore[union-attr]
    deliver(g)
    return steps


def deliver(g: Desk_) -> None:
    """Runs the gateway's outbox delivery now, and waits for any run the desk woke to finish
    (the scheduler would deliver within seconds)."""
    g.client.portal.call(g.client.app.state.delivery.deliver_due)  # type: ignore[attr-defined]

    def all_sent() -> bool:
        with unit_of_work(g.database_url) as session:
            return outbox.counts(session).keys() <= {outbox.SENT}

    g.slack.wait_for(all_sent, what="the outbox to be delivered")
    g.settle()


def waiting_for_a_person(g: Desk_, text: str = "my broadband keeps dropping out") -> str:
    """A customer's conversation, handed to a person at the desk clock's time; the card is
    posted. Returns the conversation id."""
    conversation_id = g.say(None, text)["conversation_id"]
    g.request_person(conversation_id)
    with unit_of_work(g.database_url) as session:
        handoff = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation_id)
        ).one()
        handoff.created_at = g.clock.now
    return conversation_id


def thread_of(g: Desk_, conversation_id: str) -> str:
    return g.card(conversation_id)


def realerts(g: Desk_, thread: str) -> list[dict[str, Any]]:
    return [m for m in g.slack.thread(DESK_CHANNEL, thread)[1:] if "<!here>" in m.get("text", "")]


def bot_texts(g: Desk_, conversation_id: str) -> list[str]:
    return customer_texts(g.record(conversation_id), "bot")


# Waiting -------------------------------------------------------------------------------------


def test_a_customer_nobody_picks_up_is_updated_then_offered_a_follow_up(
    database_url: str, business: Business
) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        g.clock.now = MONDAY_10AM
        conversation_id = waiting_for_a_person(g)
        thread = thread_of(g, conversation_id)
        before = bot_texts(g, conversation_id)

        g.clock.now = MONDAY_10AM + timedelta(minutes=9)
        assert check_waits(g) == 0
        assert bot_texts(g, conversation_id) == before and realerts(g, thread) == []

        # Ten minutes: the customer hears they are still in the queue; the thread is
        # re-alerted in the channel too.
        g.clock.now = MONDAY_10AM + timedelta(minutes=10)
        assert check_waits(g) == 1
        assert bot_texts(g, conversation_id)[-1] == STILL_WAITING
        [alert] = realerts(g, thread)
        assert "waiting 10 min" in alert["text"] and "still in the queue" in alert["text"]
        posted = [c for c in g.slack.calls("chat.postMessage") if "<!here>" in c.params["text"]]
        assert posted[-1].params.get("reply_broadcast") in (True, "true", "1")

        # Once only.
        g.clock.now = MONDAY_10AM + timedelta(minutes=20)
        assert check_waits(g) == 0
        assert bot_texts(g, conversation_id).count(STILL_WAITING) == 1

        # Thirty minutes: a follow-up is offered on their channel, with buttons.
        g.clock.now = MONDAY_10AM + timedelta(minutes=30)
        assert check_waits(g) == 1
        offer = g.record(conversation_id)["messages"][-1]
        assert offer["text"] == handoff_waits.OFFER_FOLLOW_UP.format(where="in this chat")
        assert [b["title"] for b in offer["buttons"]] == [
            "Yes, get back to me",
            "I'll keep waiting",
        ]
        assert len(realerts(g, thread)) == 2 and "follow-up" in realerts(g, thread)[-1]["text"]
        g.clock.now = MONDAY_10AM + timedelta(hours=3)
        assert check_waits(g) == 0  # queued, not dropped, and not nagged

        # "Yes": answered by the gateway (the assistant is not asked), and the desk told.
        asked_rasa = len(g.rasa.messages(conversation_id))
        yes = offer["buttons"][0]["payload"]
        answer = g.say(conversation_id, yes)
        assert answer["replies"][0]["text"] == handoff_waits.answer_text(True, "web")
        assert len(g.rasa.messages(conversation_id)) == asked_rasa
        assert any("would like a follow-up on web chat" in t for t in g.thread_texts(thread))
        card = g.slack.message(DESK_CHANNEL, thread)
        assert card is not None and "asked for a follow-up" in json.dumps(card["blocks"])

        # Still in the queue: an agent takes it over later and the customer hears it.
        g.press("handoff_take_over", conversation_id, thread)
        assert bot_texts(g, conversation_id)[-1] == JOINED.format(agent="alex", team=TEAM)
        record = g.record(conversation_id)
        [handoff] = record["handoffs"]
        assert handoff["status"] == "taken_over"
        assert handoff["wait_update_at"] and handoff["follow_up_offered_at"]
        kinds = [e["kind"] for e in record["events"]]
        for kind in ("handoff_wait_update", "handoff_follow_up_offered", "follow_up_wanted"):
            assert kind in kinds


def test_waiting_counts_opening_hours_only(database_url: str, business: Business) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        # Saturday 16:55 in London: five minutes before closing.
        saturday = datetime(2026, 11, 14, 16, 55, tzinfo=LONDON)
        g.clock.now = saturday
        conversation_id = waiting_for_a_person(g)
        thread = thread_of(g, conversation_id)

        # Closed from 17:00 Saturday to 08:00 Monday: a day and a half is not a wait.
        g.clock.now = datetime(2026, 11, 16, 7, 59, tzinfo=LONDON)
        assert check_waits(g) == 0
        g.clock.now = datetime(2026, 11, 16, 8, 4, tzinfo=LONDON)
        assert check_waits(g) == 0  # 9 minutes open
        g.clock.now = datetime(2026, 11, 16, 8, 5, tzinfo=LONDON)
        assert check_waits(g) == 1
        assert bot_texts(g, conversation_id)[-1] == STILL_WAITING
        assert "waiting 10 min" in realerts(g, thread)[-1]["text"]


def test_a_conversation_taken_over_in_time_is_not_escalated(
    database_url: str, business: Business
) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        g.clock.now = MONDAY_10AM
        conversation_id = waiting_for_a_person(g)
        thread = thread_of(g, conversation_id)
        g.clock.now += timedelta(minutes=5)
        g.press("handoff_take_over", conversation_id, thread)
        g.clock.now += timedelta(hours=2)
        assert check_waits(g) == 0
        assert STILL_WAITING not in bot_texts(g, conversation_id)
        assert realerts(g, thread) == []


def test_an_unposted_card_still_gets_the_customer_their_update(
    database_url: str, business: Business
) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        g.clock.now = MONDAY_10AM
        g.slack.fail_next("chat.postMessage", "channel_not_found", times=5)
        conversation_id = waiting_for_a_person(g)
        g.post_due()
        g.clock.now += timedelta(minutes=12)
        assert check_waits(g) == 1
        assert bot_texts(g, conversation_id)[-1] == STILL_WAITING


def test_two_checks_at_once_update_the_customer_once(database_url: str, business: Business) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        g.clock.now = MONDAY_10AM
        conversation_id = waiting_for_a_person(g)
        thread = thread_of(g, conversation_id)
        g.clock.now += timedelta(minutes=15)

        async def both() -> list[int]:
            return list(await asyncio.gather(g.desk.check_waits(), g.desk.check_waits()))

        assert sorted(g.client.portal.call(both)) == [0, 1]  # type: ignore[union-attr]
        deliver(g)
        assert bot_texts(g, conversation_id).count(STILL_WAITING) == 1
        assert len(realerts(g, thread)) == 1


def test_a_telegram_customer_is_offered_the_follow_up_on_telegram(
    sqlite_url: str, business: Business
) -> None:
    with (
        FakeTelegram(TELEGRAM_TOKEN) as telegram,
        open_gateway(sqlite_url, quiet(business), telegram=telegram) as g,
    ):
        telegram.wait_for(lambda: telegram.calls_to("setWebhook"), 30, "setWebhook")
        chat_id = 9_300_001
        with unit_of_work(sqlite_url) as session:
            conversation_id = conversations.conversation_on_channel(
                session, "telegram", str(chat_id)
            ).id
        g.clock.now = MONDAY_10AM
        g.request_person(conversation_id)
        with unit_of_work(sqlite_url) as session:
            handoff = session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id)
            ).one()
            handoff.created_at = g.clock.now
        thread = thread_of(g, conversation_id)

        g.clock.now += timedelta(minutes=31)
        assert check_waits(g) == 1
        offer = telegram.wait_for(
            lambda: [c for c in telegram.delivered(chat_id) if "reply_markup" in c.params],
            30,
            "the follow-up offer on Telegram",
        )[-1]
        assert offer.params["text"] == handoff_waits.OFFER_FOLLOW_UP.format(
            where="here on Telegram"
        )
        rows = offer.params["reply_markup"]["inline_keyboard"]
        buttons = {row[0]["text"]: row[0]["callback_data"] for row in rows}
        assert list(buttons) == ["Yes, get back to me", "I'll keep waiting"]

        press = button_update(chat_id, buttons["Yes, get back to me"], message_id=offer.message_id)
        answer = g.client.post(
            "/telegram/webhook",
            json=press,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert answer.status_code == 200
        telegram.wait_for(
            lambda: handoff_waits.answer_text(True, "telegram") in telegram.texts(chat_id),
            30,
            "the answer on Telegram",
        )
        g.slack.wait_for(
            lambda: any("follow-up on Telegram" in t for t in g.thread_texts(thread)),
            30,
            "the thread told",
        )
        assert g.rasa.messages(conversation_id) == []


def test_keeping_on_waiting_and_typed_answers(database_url: str, business: Business) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        g.clock.now = MONDAY_10AM
        conversation_id = waiting_for_a_person(g)
        thread = thread_of(g, conversation_id)
        g.clock.now += timedelta(minutes=45)
        assert check_waits(g) == 1
        asked_rasa = len(g.rasa.messages(conversation_id))

        answer = g.say(conversation_id, "no, I'll wait")
        assert answer["replies"][0]["text"] == handoff_waits.FOLLOW_UP_NO_TEXT
        assert len(g.rasa.messages(conversation_id)) == asked_rasa
        assert any("waiting in the chat" in t for t in g.thread_texts(thread))

        # Anything after that is for the assistant again.
        g.say(conversation_id, "yes")
        assert g.rasa.messages(conversation_id)[-1] == "yes"


# Approving compensation from the card ---------------------------------------------------------


def test_approve_from_the_card_grants_once_in_the_agents_name(
    database_url: str, tmp_path: Path
) -> None:
    # alex approves for the default team (offers whose case has no team yet) up to £50.
    business = with_approvers(tmp_path, {"customer_care": {AGENT_ID: "50.00"}})
    with open_gateway(database_url, quiet(business)) as g:
        made = make_offer(database_url, category="delay")  # £30, above POLICY's £25 line
        g.request_person(made.conversation_id, "compensation_needs_approval")
        thread = thread_of(g, made.conversation_id)
        card = g.slack.message(DESK_CHANNEL, thread)
        assert card is not None
        assert action_ids(card["blocks"]) == [
            "handoff_take_over",
            "offer_approve",
            "offer_reject",
            "handoff_hand_back",
            "handoff_resolve",
        ]
        assert "Compensation needs approval" in json.dumps(card["blocks"])

        g.press("offer_approve", made.reference, thread)
        deliver(g)
        with unit_of_work(database_url) as session:
            grants = session.scalars(select(CompensationGrant)).all()
            assert len(grants) == 1
            assert grants[0].approved_by == f"alex (Slack {AGENT_ID})"
            reference, remedy, pence = grants[0].reference, grants[0].remedy, grants[0].amount_pence
        assert bot_texts(g, made.conversation_id)[-1] == approved_text(remedy, pence, reference)
        card = g.slack.message(DESK_CHANNEL, thread)
        assert card is not None
        assert "offer_approve" not in action_ids(card["blocks"])
        assert "Offer approved by alex" in json.dumps(card["blocks"])
        assert any("Offer approved by alex" in t for t in g.thread_texts(thread))

        # A second press (a colleague, or a double click) grants nothing more.
        g.press("offer_approve", made.reference, thread)
        with unit_of_work(database_url) as session:
            assert session.scalar(select(func.count(CompensationGrant.id))) == 1
        assert (
            bot_texts(g, made.conversation_id).count(approved_text(remedy, pence, reference)) == 1
        )


def test_reject_from_the_card_tells_the_customer_honestly(
    database_url: str, tmp_path: Path
) -> None:
    business = with_approvers(tmp_path, {"customer_care": {AGENT_ID: "50.00"}})
    with open_gateway(database_url, quiet(business)) as g:
        made = make_offer(database_url, category="delay")
        g.request_person(made.conversation_id, "compensation_needs_approval")
        thread = thread_of(g, made.conversation_id)

        g.press("offer_reject", made.reference, thread)
        deliver(g)
        with unit_of_work(database_url) as session:
            offer = find_offer(session, made.reference)
            assert offer.status == ledger.REJECTED
            assert offer.decided_by == f"alex (Slack {AGENT_ID})"
            assert session.scalar(select(func.count(CompensationGrant.id))) == 0
        assert bot_texts(g, made.conversation_id)[-1] == rejected_text("account_credit", 3000)
        assert "Tell them why" not in g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]
        assert (
            "Take the conversation over" in g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]
        )


def test_an_offer_from_another_conversation_cannot_be_decided_from_this_card(
    database_url: str, business: Business
) -> None:
    business = replace(business, compensation=POLICY)
    with open_gateway(database_url, quiet(business)) as g:
        mine = make_offer(database_url, category="delay")
        other = make_offer(database_url, "BL-100002", category="delay")
        g.request_person(mine.conversation_id, "compensation_needs_approval")
        thread = thread_of(g, mine.conversation_id)

        g.press("offer_approve", other.reference, thread)
        with unit_of_work(database_url) as session:
            assert session.scalar(select(func.count(CompensationGrant.id))) == 0
        assert "can't find that offer" in g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]


# Operator alerts at the desk -----------------------------------------------------------------


def test_operator_alerts_reach_the_channel_and_are_acknowledged_there(
    database_url: str, business: Business
) -> None:
    with open_gateway(database_url, quiet(business)) as g:
        scheduler = g.client.app.state.scheduler  # type: ignore[attr-defined]
        assert {"post-handoffs", "handoff-waits", "post-alerts"} <= set(scheduler.job_ids())
        with unit_of_work(database_url) as session:
            raise_alert(
                session,
                kind="possible_incident",
                dedupe_key="possible:outage:LS6",
                summary="3 outage complaints from LS6 in the last hour <!channel>",
                detail={"district": "LS6"},
                now=g.clock.now,
            )
        poster = g.client.app.state.slack.alerts  # type: ignore[attr-defined]
        # Now, or by the scheduler's own run, whichever comes first: once either way.
        g.client.portal.call(poster.post_due)  # type: ignore[union-attr]
        g.slack.wait_for(
            lambda: [m for m in g.slack.messages_in(DESK_CHANNEL) if "LS6" in m.get("text", "")],
            what="the alert in the channel",
        )
        [posted] = [m for m in g.slack.messages_in(DESK_CHANNEL) if "LS6" in m.get("text", "")]
        assert "<!channel>" not in json.dumps(posted)
        assert "alert_acknowledge" in action_ids(posted["blocks"])

        g.send(
            block_action("alert_acknowledge", "1", channel=DESK_CHANNEL, message_ts=posted["ts"])
        )
        g.client.portal.call(poster.idle)  # type: ignore[union-attr]
        listed = g.client.get(
            "/api/alerts?status=all", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        ).json()
        [alert] = listed["alerts"] if isinstance(listed, dict) else listed
        assert alert["acknowledged_at"] and alert["acknowledged_by"] == "alex"
        logged = g.client.get(
            "/api/audit?action=alert_acknowledge",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()["entries"]
        assert [(e["actor"], e["subject"]) for e in logged] == [(f"alex (Slack {AGENT_ID})", "1")]
        shown = g.slack.message(DESK_CHANNEL, posted["ts"])
        assert shown is not None and "Acknowledged by" in json.dumps(shown["blocks"])
        assert "alert_acknowledge" not in action_ids(shown["blocks"])
