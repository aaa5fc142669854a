"""Watching the promises made about cases, on SQLite and PostgreSQL: warned once before they
fall due (in the team's opening hours), missed once with the team told and the customer told
once on their own channel, kept by an agent's reply, and shown in the records API. The
gateway's own job (``PromiseCheck``) and delivery run against the database; time comes from
a clock the tests move on, never from sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.app import create_app
from bot.jobs.delivery import Delivery
from bot.jobs.promises import PromiseCheck
from bot.live import LiveHub
from bot.rasa_client import RasaClient
from bot.relay import Relay
from redress.business import Business
from redress.cases import notices, promises, resolutions
from redress.cases import records as cases
from redress.complaints import records as complaint_records
from redress.complaints import status
from redress.conversations import records as conversations
from redress.db.models import (
    Complaint,
    Incident,
    Message,
    OperatorAlert,
    OutboxMessage,
    Promise,
    Resolution,
)
from redress.db.session import unit_of_work
from redress.incidents import notices as incident_notices
from redress.privacy import requests as data_requests
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings
from tests.integration.incidents.test_incident_notices import INCIDENT, open_incident

# London is on GMT in November, so local time is UTC. The billing team keeps the business's
# hours: Monday to Friday 08:00-20:00, Saturday 09:00-17:00, closed on Sunday.
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
# A high-severity complaint is promised a reply within 8 hours: by 6pm.
SIX_PM = TUESDAY_10AM + timedelta(hours=8)
ZONE = "Europe/London"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Gateway:
    """What one gateway runs for promises: the watch, and delivery through its relay. Two of
    them on one database are two gateways."""

    database_url: str
    business: Business
    clock: Clock
    hub: LiveHub = field(default_factory=LiveHub)

    def __post_init__(self) -> None:
        rasa = RasaClient("http://127.0.0.1:9", 1)  # nothing here asks the assistant
        self.relay = Relay(self.database_url, rasa, self.hub, "Sorry, I'm not available.")
        self.delivery = Delivery(self.database_url, self.relay, ZONE, clock=self.clock)
        self.watch = PromiseCheck(self.database_url, self.business, clock=self.clock)
        self.woken = 0
        self.watch.on_queued = self._wake

    def _wake(self) -> None:
        self.woken += 1

    def check(self, at: datetime) -> promises.Checked:
        self.clock.now = at
        return asyncio.run(self.watch.check_due())


@pytest.fixture
def gateway(database_url: str, business: Business) -> Gateway:
    return Gateway(database_url, business, Clock(TUESDAY_10AM))


def open_case(
    database_url: str,
    business: Business,
    at: datetime = TUESDAY_10AM,
    *,
    category: str = "billing",
    severity: str = "high",
    channel: str = "web",
) -> tuple[str, str, int]:
    """A complaint logged at ``at`` (its case opened as filing opens it). Returns the
    conversation id, the reference and the reply-by promise's id."""
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, channel)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity=severity,
            severity_reasons=[],
            summary="I was charged twice this month.",
            facts={"logged": True},
        )
        promise = cases.open_case(session, complaint, business, at)
        status.keep_promise(complaint, promise.due_at)
        return conversation.id, complaint.reference, promise.id


def stored(database_url: str, promise_id: int) -> Promise:
    with unit_of_work(database_url) as session:
        promise = session.get(Promise, promise_id)
        assert promise is not None
        return promise


def alerts_of(database_url: str, kind: str) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        query = select(OperatorAlert).where(OperatorAlert.kind == kind)
        return list(session.scalars(query.order_by(OperatorAlert.id)))


def apologies(database_url: str) -> list[OutboxMessage]:
    with unit_of_work(database_url) as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == promises.MISSED_MESSAGE)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def bot_texts(database_url: str, conversation_id: str) -> list[str]:
    with unit_of_work(database_url) as session:
        query = select(Message.text).where(
            Message.conversation_id == conversation_id, Message.role == "bot"
        )
        return list(session.scalars(query.order_by(Message.id)))


# Due soon -------------------------------------------------------------------------------------


def test_a_promise_about_to_fall_due_is_warned_once(gateway: Gateway, business: Business) -> None:
    g = gateway
    _, reference, promise_id = open_case(g.database_url, business)
    assert stored(g.database_url, promise_id).due_at == SIX_PM

    assert g.check(SIX_PM - timedelta(minutes=61)).warned == []
    assert g.check(SIX_PM - timedelta(hours=1)).warned == [promise_id]
    assert g.check(SIX_PM - timedelta(minutes=30)).warned == []  # once

    [alert] = alerts_of(g.database_url, notices.PROMISE_DUE_SOON)
    assert alert.detail["complaint"] == reference
    assert alert.detail["team"] == "billing"
    assert alert.detail["due_at"] == SIX_PM.isoformat()
    assert f"{reference} (Billing team): we promised to reply to you by 6pm today" in (
        alert.summary
    )
    promise = stored(g.database_url, promise_id)
    assert (promise.status, promise.warned_at) == (cases.OPEN, SIX_PM - timedelta(hours=1))
    assert apologies(g.database_url) == []  # a warning is for the team only
    assert g.woken == 0


def test_a_promise_due_monday_at_nine_is_warned_when_the_team_is_in_not_at_three(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
    monday_nine = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    open_case(g.database_url, business, friday, severity="low")  # due days later
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint)).one()
        callback = promises.make(
            session, complaint, "callback", "call you back", monday_nine, "Sam", friday
        ).id

    for moment in (
        datetime(2026, 11, 21, 16, 59, tzinfo=timezone.utc),  # Saturday, just before closing
        datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc),  # Sunday: closed
        datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc),  # Monday, 3am
        datetime(2026, 11, 23, 7, 59, tzinfo=timezone.utc),
    ):
        assert g.check(moment).warned == [], moment
    assert g.check(datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)).warned == [callback]
    [alert] = alerts_of(g.database_url, notices.PROMISE_DUE_SOON)
    assert "we promised to call you back by 9am today" in alert.summary


# Missed ---------------------------------------------------------------------------------------


def test_a_missed_promise_alerts_once_and_tells_the_customer_once_on_two_gateways(
    database_url: str, business: Business
) -> None:
    first = Gateway(database_url, business, Clock(TUESDAY_10AM))
    second = Gateway(database_url, business, Clock(TUESDAY_10AM))
    conversation_id, reference, promise_id = open_case(database_url, business)

    async def both_at(at: datetime) -> list[promises.Checked]:
        first.clock.now = second.clock.now = at
        return list(await asyncio.gather(first.watch.check_due(), second.watch.check_due()))

    runs = asyncio.run(both_at(SIX_PM))
    assert sorted(len(run.missed) for run in runs) == [0, 1]
    assert sorted(len(run.told) for run in runs) == [0, 1]
    # And again, on each, a few minutes later: nothing new.
    asyncio.run(both_at(SIX_PM + timedelta(minutes=5)))
    assert first.check(SIX_PM + timedelta(hours=1)).missed == []

    [alert] = alerts_of(database_url, notices.PROMISE_MISSED)
    assert alert.detail["complaint"] == reference
    assert alert.detail["customer_told"] is True
    assert "it has not happened" in alert.summary
    assert alerts_of(database_url, notices.PROMISE_DUE_SOON) == []  # missed, not warned
    promise = stored(database_url, promise_id)
    assert (promise.status, promise.missed_at, promise.customer_told_at) == (
        cases.MISSED,
        SIX_PM,
        SIX_PM,
    )
    [queued] = apologies(database_url)
    assert queued.conversation_id == conversation_id
    assert first.woken + second.woken == 1  # delivery woken by the gateway that queued it

    # Delivered once, live to the open web chat, whichever gateway delivers.
    async def deliver() -> tuple[int, int, dict[str, Any]]:
        live = first.hub.subscribe(conversation_id)
        sent = await first.delivery.deliver_due()
        again = await second.delivery.deliver_due()
        return sent, again, live.get_nowait()

    sent, again, pushed = asyncio.run(deliver())
    assert (sent, again) == (1, 0)
    expected = (
        f"We said we'd reply to you about {reference} by 6pm today, and we haven't. I'm sorry. "
        "Your case is with our Billing team, and I've told them. The first person free will "
        "reply to you as soon as they can."
    )
    assert pushed["text"] == expected
    assert bot_texts(database_url, conversation_id) == [expected]
    assert apologies(database_url)[0].status == "sent"


def test_a_promise_kept_late_keeps_when_it_was_missed(gateway: Gateway, business: Business) -> None:
    g = gateway
    _, _, promise_id = open_case(g.database_url, business)
    g.check(SIX_PM)
    late = SIX_PM + timedelta(hours=2)
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint)).one()
        resolutions.record(session, complaint, resolutions.AGENT, "Sam", late)
    promise = stored(g.database_url, promise_id)
    assert (promise.status, promise.kept_at, promise.missed_at) == (cases.KEPT, late, SIX_PM)


@pytest.mark.parametrize("why", ["stopped", "unreachable"])
def test_a_customer_we_may_not_message_gets_nothing_but_the_team_is_told(
    gateway: Gateway, business: Business, why: str
) -> None:
    g = gateway
    conversation_id, reference, promise_id = open_case(g.database_url, business)
    with unit_of_work(g.database_url) as session:
        if why == "stopped":
            data_requests.record_request(
                session,
                kind=data_requests.STOP_MESSAGES,
                conversation_id=conversation_id,
                customer_id=None,
                verified=False,
                now=TUESDAY_10AM + timedelta(hours=1),
                zone=ZONE,
            )
        else:
            conversations.mark_unreachable(session, conversation_id, "blocked")

    checked = g.check(SIX_PM)
    assert (checked.missed, checked.told) == ([promise_id], [])
    [alert] = alerts_of(g.database_url, notices.PROMISE_MISSED)
    assert alert.detail["complaint"] == reference and alert.detail["customer_told"] is False
    reason = promises.STOPPED if why == "stopped" else promises.UNREACHABLE
    assert f"The customer was not messaged: {reason}." in alert.summary
    assert apologies(g.database_url) == []
    assert stored(g.database_url, promise_id).customer_told_at is None
    assert g.woken == 0
    asyncio.run(g.delivery.deliver_due())
    assert bot_texts(g.database_url, conversation_id) == []


def test_stop_messaging_me_withdraws_an_apology_queued_but_not_yet_sent(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    conversation_id, _, _ = open_case(g.database_url, business)
    assert g.check(SIX_PM).told  # the apology is queued...
    with unit_of_work(g.database_url) as session:
        # ...and before it goes, the customer asks us to stop messaging them.
        data_requests.stop_proactive_messages(session, conversation_id, SIX_PM)
    asyncio.run(g.delivery.deliver_due())
    assert bot_texts(g.database_url, conversation_id) == []
    assert [m.status for m in apologies(g.database_url)] == ["withdrawn"]


# Kept -----------------------------------------------------------------------------------------


def test_an_agent_reply_before_the_due_time_keeps_the_promise(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    conversation_id, _, promise_id = open_case(g.database_url, business)
    asyncio.run(
        g.relay.push(conversation_id, "agent", "I've found the double charge.", author="Sam")
    )
    promise = stored(g.database_url, promise_id)
    assert (promise.status, promise.kept_by) == (cases.KEPT, "Sam")

    for moment in (SIX_PM - timedelta(minutes=30), SIX_PM, SIX_PM + timedelta(days=1)):
        checked = g.check(moment)
        assert (checked.warned, checked.missed) == ([], [])
    assert alerts_of(g.database_url, notices.PROMISE_DUE_SOON) == []
    assert alerts_of(g.database_url, notices.PROMISE_MISSED) == []
    assert apologies(g.database_url) == []


def test_a_promise_marked_done_is_kept_once(gateway: Gateway, business: Business) -> None:
    g = gateway
    open_case(g.database_url, business)
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint)).one()
        due = TUESDAY_10AM + timedelta(hours=3)
        callback = promises.make(session, complaint, "callback", "call you back", due, "Sam", due)
        callback_id = callback.id
    done_at = TUESDAY_10AM + timedelta(hours=2)
    with unit_of_work(g.database_url) as session:
        promises.mark_done(session, callback_id, "Sam", done_at)
    with unit_of_work(g.database_url) as session, pytest.raises(promises.PromiseClosed):
        promises.mark_done(session, callback_id, "Jo", done_at)
    with unit_of_work(g.database_url) as session, pytest.raises(promises.UnknownPromise):
        promises.mark_done(session, 999_999, "Jo", done_at)
    assert g.check(TUESDAY_10AM + timedelta(hours=4)).missed == []
    promise = stored(g.database_url, callback_id)
    assert (promise.status, promise.kept_at, promise.kept_by) == (cases.KEPT, done_at, "Sam")


# The records API ------------------------------------------------------------------------------


API_CLOCK = Clock(TUESDAY_10AM)


@pytest.fixture
def api(database_url: str, business: Business) -> Iterator[TestClient]:
    """The real gateway (no Rasa behind it: nothing here asks the assistant), on
    ``API_CLOCK``."""
    API_CLOCK.now = TUESDAY_10AM
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        # The scheduler's own runs stay out of the way; the test runs the watch itself.
        promise_check_seconds=300,
    )
    with TestClient(create_app(settings, business, clock=API_CLOCK)) as client:
        yield client


def test_the_records_api_shows_each_case_and_its_promises(
    api: TestClient, database_url: str, business: Business
) -> None:
    conversation_id, reference, _ = open_case(database_url, business)
    open_incident(database_url, now=TUESDAY_10AM - timedelta(hours=1))
    # The incident check runs on the wall clock in the gateway: its next update is promised
    # for a time no run of this test reaches.
    next_update = datetime(2099, 1, 1, 12, 0, tzinfo=timezone.utc)
    with unit_of_work(database_url) as session:
        incident = session.get(Incident, INCIDENT)
        assert incident is not None
        incident.next_update_by = next_update
    callback_due = TUESDAY_10AM + timedelta(hours=2)
    with unit_of_work(database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        complaint.owner_id, complaint.owner_name = "U0AGENT1", "Sam"
        complaint.claimed_at = TUESDAY_10AM + timedelta(minutes=5)
        complaint.desk_status = "waiting_on_us"
        promises.make(
            session, complaint, "callback", "call you back", callback_due, "Sam", TUESDAY_10AM
        )
        # A second complaint in the same chat that a known incident explains.
        outage = complaint_records.open_complaint(
            session,
            conversations.get_conversation(session, conversation_id),
            category="outage",
            severity="high",
            severity_reasons=[],
            summary="My broadband is down.",
            facts={"logged": True, "postcode": "LS6 2AB"},
        )
        cases.open_case(session, outage, business, TUESDAY_10AM)
        incident_notices.link_complaint(session, outage, INCIDENT, TUESDAY_10AM)
        outage.repeat_of_id = complaint.id

    # The watch runs: nothing is due yet, and the incident's case needs no reply-by.
    API_CLOCK.now = TUESDAY_10AM + timedelta(minutes=30)
    api.portal.call(api.app.state.promises.check_due)  # type: ignore[attr-defined]
    # The agent replies through the web API: that is the reply the case promised.
    answer = api.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "I've found the double charge and I'm fixing it now.", "author": "Sam"},
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert answer.status_code == 201, answer.text
    # The callback passes unkept.
    API_CLOCK.now = callback_due
    api.portal.call(api.app.state.promises.check_due)  # type: ignore[attr-defined]

    response = api.get(
        f"/api/conversations/{conversation_id}",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    billing, outage_case = response.json()["complaints"]
    assert billing["reference"] == reference
    assert (billing["team"], billing["team_name"]) == ("billing", "Billing team")
    assert billing["owner"] == {
        "id": "U0AGENT1",
        "name": "Sam",
        "claimed_at": (TUESDAY_10AM + timedelta(minutes=5)).isoformat(),
    }
    assert (billing["desk_status"], billing["repeat_of"]) == ("waiting_on_us", None)
    shown = [{k: p[k] for k in ("kind", "what", "due_at", "status")} for p in billing["promises"]]
    assert shown == [
        {
            "kind": "callback",
            "what": "call you back",
            "due_at": callback_due.isoformat(),
            "status": "missed",
        },
        {
            "kind": "reply_by",
            "what": "reply to you",
            "due_at": SIX_PM.isoformat(),
            "status": "kept",
        },
    ]
    reply = billing["promises"][1]
    assert reply["kept_at"] is not None and datetime.fromisoformat(reply["kept_at"]).tzinfo
    assert billing["promises"][0]["kept_at"] is None

    assert (outage_case["team"], outage_case["team_name"]) == ("network", "Network team")
    assert (outage_case["owner"], outage_case["repeat_of"]) == (None, reference)
    # Its reply-by was never said (the incident's explanation was): the incident's next
    # update is its promise.
    kinds = {p["kind"]: p for p in outage_case["promises"]}
    assert kinds["reply_by"]["status"] == "cancelled"
    assert kinds["incident_update"]["status"] == "open"
    assert kinds["incident_update"]["due_at"] == next_update.isoformat()


# Resolving and reopening ----------------------------------------------------------------------


def _promise_a_callback(database_url: str, due: datetime) -> tuple[int, int]:
    """An agent's "I'll call you" on the only case. Returns the complaint and promise ids."""
    with unit_of_work(database_url) as session:
        complaint = session.scalars(select(Complaint)).one()
        callback = promises.make(
            session, complaint, cases.CALLBACK, "call you back", due, "alex", TUESDAY_10AM
        )
        return complaint.id, callback.id


def _resolve(database_url: str, complaint_id: int, at: datetime) -> int:
    with unit_of_work(database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        return resolutions.record(session, complaint, resolutions.AGENT, "alex", at).id


def _reopen(database_url: str, resolution_id: int, at: datetime, business: Business) -> None:
    with unit_of_work(database_url) as session:
        resolution = session.get(Resolution, resolution_id)
        assert resolution is not None
        assert resolutions.reopen(session, resolution, resolutions.NOT_FIXED, at, business)


def _reply_promises(database_url: str) -> list[tuple[datetime, str]]:
    with unit_of_work(database_url) as session:
        query = select(Promise).where(Promise.kind == cases.REPLY_BY).order_by(Promise.id)
        return [(p.due_at, p.status) for p in session.scalars(query)]


def test_resolving_keeps_the_reply_but_not_a_callback_nobody_has_made(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    _, _, reply_id = open_case(g.database_url, business)
    tomorrow_10am = TUESDAY_10AM + timedelta(days=1)
    complaint_id, callback_id = _promise_a_callback(g.database_url, tomorrow_10am)
    _resolve(g.database_url, complaint_id, TUESDAY_10AM + timedelta(hours=1))
    assert stored(g.database_url, reply_id).status == cases.KEPT
    callback = stored(g.database_url, callback_id)
    assert (callback.status, callback.kept_at) == (cases.OPEN, None)
    # Still watched on the resolved case: if nobody calls, the customer is told, once.
    checked = g.check(tomorrow_10am + timedelta(minutes=1))
    assert checked.missed == [callback_id] and checked.told == [callback_id]
    assert "call you back" in apologies(g.database_url)[0].text
    assert stored(g.database_url, reply_id).status == cases.KEPT


def test_a_reopened_case_still_owes_the_callback_and_the_reply_time_first_given(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    open_case(g.database_url, business)
    tomorrow_10am = TUESDAY_10AM + timedelta(days=1)
    complaint_id, callback_id = _promise_a_callback(g.database_url, tomorrow_10am)
    resolution_id = _resolve(g.database_url, complaint_id, TUESDAY_10AM + timedelta(hours=1))
    # "No, not yet" at noon: the 6pm first promised is still ahead, so it is promised again,
    # not a whole new 8 hours (8pm) from now.
    _reopen(g.database_url, resolution_id, TUESDAY_10AM + timedelta(hours=2), business)
    assert stored(g.database_url, callback_id).status == cases.OPEN
    assert _reply_promises(g.database_url) == [(SIX_PM, cases.KEPT), (SIX_PM, cases.OPEN)]


def test_a_case_reopened_after_the_first_reply_time_gets_the_categorys_reply_time(
    gateway: Gateway, business: Business
) -> None:
    g = gateway
    open_case(g.database_url, business)
    with unit_of_work(g.database_url) as session:
        complaint_id = session.scalars(select(Complaint.id)).one()
    resolution_id = _resolve(g.database_url, complaint_id, TUESDAY_10AM + timedelta(hours=1))
    wednesday_10am = TUESDAY_10AM + timedelta(days=1)
    _reopen(g.database_url, resolution_id, wednesday_10am, business)
    assert _reply_promises(g.database_url) == [
        (SIX_PM, cases.KEPT),
        (wednesday_10am + timedelta(hours=8), cases.OPEN),
    ]
    # What "when will I hear back?" answers from is the new time too.
    with unit_of_work(g.database_url) as session:
        complaint = session.get(Complaint, complaint_id)
        assert complaint is not None
        assert status.promised(complaint) == wednesday_10am + timedelta(hours=8)
