"""A case's promise alerts at the Slack desk, on SQLite and PostgreSQL, against the fake
Slack Web API. Through the real gateway with the real slack-bolt app: an alert about a case
lands in the case's thread in its team's channel (shown in the channel too), mentioning its
owner, and its Acknowledge button works there. With the alert poster alone (no desk posting
cards meanwhile): a case with no card yet gets its alert top-level in its team's channel,
and an alert about no case goes to the escalation channel. Time comes from a clock the tests
move on."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.slack.alerts import ACKNOWLEDGE, HEADLINES, AlertPoster
from redress.business import Business, Team, TeamsFile
from redress.cases import notices
from redress.cases import records as cases
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import OperatorAlert
from redress.db.session import unit_of_work
from redress.incidents.notices import raise_alert
from tests.fakes.slack_api import AGENT_ID, DESK_CHANNEL, FakeSlack
from tests.fakes.slack_requests import block_action
from tests.integration.cases.test_promises import Clock, Gateway, open_case
from tests.integration.slack.test_slack_desk import START, open_gateway

BILLING_CHANNEL = "C0BILLING1"
# High severity: a reply within 8 hours of opening time. Opened at noon on a Monday: 8pm.
DUE = START + timedelta(hours=8)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def with_billing_channel(business: Business) -> Business:
    teams = business.team_file
    billing = Team(name="Billing team", slack_channel=BILLING_CHANNEL)
    return replace(
        business, teams=TeamsFile(default=teams.default, teams={**teams.teams, "billing": billing})
    )


def posts_to(slack: FakeSlack, channel: str) -> list[Any]:
    return [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel]


def claimed_case_with_card(database_url: str, business: Business, card_ts: str) -> str:
    """A billing case whose card is in the billing channel (as the desk posts it) and which
    an agent claimed. Returns its reference."""
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="high",
            severity_reasons=[],
            summary="I was charged twice this month.",
            facts={"logged": True},
        )
        cases.open_case(session, complaint, business, START)
        complaint.desk_channel, complaint.desk_thread = BILLING_CHANNEL, card_ts
        complaint.posted_at = START
        complaint.owner_id, complaint.owner_name, complaint.claimed_at = AGENT_ID, "alex", START
        return complaint.reference


def missed_alert_id(database_url: str, reference: str) -> int:
    with unit_of_work(database_url) as session:
        found = session.scalars(
            select(OperatorAlert).where(OperatorAlert.kind == notices.PROMISE_MISSED)
        )
        [alert_id] = [a.id for a in found if a.detail["complaint"] == reference]
        return alert_id


def test_a_case_alert_lands_in_its_team_channel_thread_mentioning_the_owner(
    database_url: str, business: Business
) -> None:
    with open_gateway(database_url, with_billing_channel(business)) as g:
        g.slack.add_channel(BILLING_CHANNEL, "billing-team")
        card = WebClient(token=g.slack.token, base_url=g.slack.base_url).chat_postMessage(
            channel=BILLING_CHANNEL, text="The case's card"
        )
        reference = claimed_case_with_card(database_url, business, card["ts"])

        # The promised reply time passes: the gateway's watch raises the alert, the alert
        # poster posts it.
        g.clock.now = DUE
        g.client.portal.call(g.client.app.state.promises.check_due)  # type: ignore[attr-defined]
        alerts = g.client.app.state.slack.alerts  # type: ignore[attr-defined]
        g.client.portal.call(alerts.post_due)

        # In the case's thread, shown in the channel too, the owner mentioned.
        [posted] = [c for c in posts_to(g.slack, BILLING_CHANNEL) if c.params.get("thread_ts")]
        assert posted.params["thread_ts"] == card["ts"]
        assert posted.params["reply_broadcast"] in (True, "true", "1", 1)
        [reply] = g.slack.thread(BILLING_CHANNEL, card["ts"])[1:]
        assert reply["text"].startswith(f"<@{AGENT_ID}> {HEADLINES[notices.PROMISE_MISSED]}")
        shown = str(reply["blocks"])
        assert f"<@{AGENT_ID}> {reference} (Billing team): we promised to reply to you" in shown
        assert posts_to(g.slack, DESK_CHANNEL) == []  # not in the escalation channel

        # Acknowledge works in the thread.
        alert_id = missed_alert_id(database_url, reference)
        g.send(
            block_action(
                ACKNOWLEDGE, str(alert_id), channel=BILLING_CHANNEL, message_ts=reply["ts"]
            )
        )
        g.client.portal.call(alerts.idle)
        with unit_of_work(database_url) as session:
            acknowledged = session.get(OperatorAlert, alert_id)
            assert acknowledged is not None and acknowledged.acknowledged_by == "alex"
        updated = g.slack.message(BILLING_CHANNEL, reply["ts"])
        assert updated is not None and "Acknowledged by *alex*" in str(updated["blocks"])


def test_without_a_card_the_alert_is_top_level_in_the_team_channel(
    database_url: str, business: Business
) -> None:
    teams_business = with_billing_channel(business)
    clock = Clock(START)
    _, reference, _ = open_case(database_url, teams_business, START)
    with unit_of_work(database_url) as session:
        raise_alert(
            session,
            kind="possible_incident",
            dedupe_key="possible_incident:LS6",
            summary="Possible incident: 3 broadband complaints from LS6.",
            detail={"district": "LS6"},
            now=START,
        )
    Gateway(database_url, teams_business, clock).check(DUE)

    with FakeSlack() as slack:
        slack.add_channel(BILLING_CHANNEL, "billing-team")
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        poster = AlertPoster(client, DESK_CHANNEL, database_url, teams_business, clock=clock)
        assert asyncio.run(poster.post_due()) == 2

        [case_alert] = posts_to(slack, BILLING_CHANNEL)
        assert "thread_ts" not in case_alert.params
        assert reference in case_alert.params["text"] and "<@" not in case_alert.params["text"]
        [other] = posts_to(slack, DESK_CHANNEL)
        assert "Possible incident" in other.params["text"]
