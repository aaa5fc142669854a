"""After an incident is resolved, on SQLite and PostgreSQL: the cases of the customers it
tells are resolved "via incident", and its "is everything working for you now?" is their
"is it fixed?"; the rating follows the assistant's answer and lands on that resolution. A
case still open when the customer says it works is resolved by the assistant. A "no" reopens
the case and tells its team. The real gateway with a stand-in for Rasa (the action's records
are written as the action server writes them); time from the test's clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

import bot.relay
from bot.app import create_app
from redress.business import Business
from redress.cases import notices
from redress.cases.records import open_case
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import Complaint, Handoff, IncidentSubscription, OperatorAlert, Promise
from redress.db.session import unit_of_work
from redress.handoff import feedback
from redress.incidents import in_conversation
from redress.incidents import notices as incident_notices
from redress.incidents import records as incidents_records
from redress.incidents.notices import DECLINED, SUBSCRIBED
from tests.fakes.rasa import FakeRasa
from tests.integration.conftest import ADMIN_TOKEN, gateway_settings
from tests.integration.incidents.test_incident_notices import INCIDENT, NOW, ZONE, open_incident

BY_INCIDENT = "INC-LS6-FIBRE (Fibre cut in LS6)"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Gateway:
    client: TestClient
    clock: Clock
    database_url: str
    business: Business
    tokens: dict[str, str]

    def say(self, conversation_id: str | None, text: str) -> list[dict[str, Any]]:
        response = self.client.post(
            "/api/messages",
            json={
                "conversation_id": conversation_id,
                "conversation_token": self.tokens.get(conversation_id or ""),
                "text": text,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if "conversation_token" in body:
            self.tokens[body["conversation_id"]] = body["conversation_token"]
        self.last = body["conversation_id"]
        return body["replies"]

    def record(self, conversation_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/conversations/{conversation_id}",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
        return response.json()

    def deliver(self) -> None:
        self.client.portal.call(self.client.app.state.delivery.deliver_due)  # type: ignore

    def customer(self, answer: str = SUBSCRIBED) -> tuple[str, str]:
        """A web chat whose complaint (a case) the incident explains, offered updates and
        answering ``answer``. Returns the conversation id and the case's reference."""
        self.say(None, "my broadband is down")
        conversation_id = self.last
        with unit_of_work(self.database_url) as session:
            conversation = conversations.get_conversation(session, conversation_id)
            assert conversation is not None
            complaint = complaint_records.open_complaint(
                session,
                conversation,
                category="outage",
                severity="high",
                severity_reasons=[],
                summary="My broadband is down.",
                facts={"postcode": "LS6 2AB"},
            )
            open_case(session, complaint, self.business, self.clock())
            offer = incident_notices.link_complaint(session, complaint, INCIDENT, self.clock())
            incident_notices.answer_offer(session, offer, answer == SUBSCRIBED, self.clock())
            return conversation_id, complaint.reference

    def answer_fix_check(self, conversation_id: str, works: bool) -> None:
        """What the action server records when the customer answers "is it working now?"."""
        with unit_of_work(self.database_url) as session:
            check = in_conversation.asked_if_fixed(session, conversation_id)
            assert check is not None, "the fix check is not the latest question"
            in_conversation.answer_fix_check(session, check, works, self.clock(), self.business)

    def resolutions(self, conversation_id: str) -> list[dict[str, Any]]:
        [complaint] = self.record(conversation_id)["complaints"]
        return complaint["resolutions"]


@pytest.fixture
def gateway(
    database_url: str, business: Business, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    clock = Clock(NOW)
    monkeypatch.setattr(bot.relay, "utcnow", clock)
    rasa = FakeRasa()
    try:
        settings = gateway_settings(database_url, rasa.url)
        with TestClient(create_app(settings, business, clock=clock)) as client:
            yield Gateway(client, clock, database_url, business, {})
    finally:
        rasa.close()


def resolve_incident(g: Gateway) -> datetime:
    g.clock.now += timedelta(hours=2)
    with unit_of_work(g.database_url) as session:
        incidents_records.resolve_incident(
            session, INCIDENT, "All lines are back.", g.clock(), ZONE
        )
    g.deliver()
    return g.clock()


def alerts(database_url: str, kind: str) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        query = select(OperatorAlert).where(OperatorAlert.kind == kind)
        return list(session.scalars(query.order_by(OperatorAlert.id)))


def test_the_incident_resolves_the_cases_it_tells_and_the_rating_lands_on_them(
    gateway: Gateway,
) -> None:
    g = gateway
    open_incident(g.database_url)
    told, _ = g.customer(SUBSCRIBED)
    quiet, _ = g.customer(DECLINED)
    resolved_at = resolve_incident(g)

    # Told of the fix: the case is resolved by the incident, and asked once.
    [closing] = [m for m in g.record(told)["messages"] if m["role"] == "bot"][-1:]
    assert closing["text"].endswith("Is everything working for you now?")
    [resolution] = g.resolutions(told)
    assert (resolution["via"], resolution["by"]) == ("incident", BY_INCIDENT)
    assert resolution["resolved_at"] == resolved_at.isoformat() and resolution["fixed"] is None
    assert g.record(told)["complaints"][0]["status"] == "resolved"
    # Not told (they said no to updates): their case stays open with the team.
    assert g.resolutions(quiet) == []
    assert g.record(quiet)["complaints"][0]["status"] == "open"

    # "Yes": the assistant answers it; then the gateway asks for the rating, once.
    g.clock.now += timedelta(minutes=10)
    g.answer_fix_check(told, True)
    replies = g.say(told, "yes all working again thanks")
    assert replies[0]["text"] == "I hear you: yes all working again thanks"
    assert replies[-1]["text"] == feedback.ASK_RATING
    assert [b["title"] for b in replies[-1]["buttons"]] == ["1", "2", "3", "4", "5"]
    assert g.say(told, "4")[0]["text"] == feedback.THANKS_FIXED
    rated_at = g.clock()
    [resolution] = g.resolutions(told)
    assert (resolution["fixed"], resolution["rating"]) == (True, 4)
    assert resolution["rated_at"] == rated_at.isoformat()
    record = g.record(told)
    assert (record["conversation"]["fixed"], record["conversation"]["rating"]) == (True, 4)
    # Asked once: the next message is the assistant's, with no rating question after it.
    later = g.say(told, "thanks, bye")
    assert [m["text"] for m in later] == ["I hear you: thanks, bye"]


def test_a_case_still_open_is_resolved_by_the_assistant_when_the_customer_says_it_works(
    gateway: Gateway,
) -> None:
    """The customer is asked "is it working now?" while their case is still open (a fix check
    sent before their case was linked to the incident's resolution): their yes resolves it,
    by the assistant, already answered "fixed", and the rating follows."""
    g = gateway
    open_incident(g.database_url)
    conversation_id, reference = g.customer(SUBSCRIBED)
    g.clock.now += timedelta(hours=1)
    with unit_of_work(g.database_url) as session:
        conversation = conversations.get_conversation(session, conversation_id)
        assert conversation is not None
        conversations.record_message(
            session,
            conversation,
            "bot",
            "Good news: we've fixed the problem with broadband. Is everything working for you now?",
            details={"kind": incident_notices.RESOLVED, "incident_id": INCIDENT},
        )
        subscription = session.scalars(
            select(IncidentSubscription).where(
                IncidentSubscription.conversation_id == conversation_id
            )
        ).one()
        subscription.fix_check_sent_at = g.clock()
    g.answer_fix_check(conversation_id, True)
    assert g.say(conversation_id, "yes")[-1]["text"] == feedback.ASK_RATING
    g.say(conversation_id, "5")
    [resolution] = g.resolutions(conversation_id)
    assert (resolution["via"], resolution["by"]) == ("assistant", "assistant")
    assert (resolution["fixed"], resolution["rating"]) == (True, 5)
    [case] = g.record(conversation_id)["complaints"]
    assert (case["reference"], case["status"]) == (reference, "resolved")


def test_still_broken_after_the_fix_reopens_the_case_and_tells_the_team(gateway: Gateway) -> None:
    g = gateway
    open_incident(g.database_url)
    conversation_id, reference = g.customer(SUBSCRIBED)
    resolve_incident(g)
    g.clock.now += timedelta(minutes=30)
    now = g.clock()
    g.answer_fix_check(conversation_id, False)

    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint.status == "open"
        [promise] = session.scalars(
            select(Promise).where(Promise.complaint_id == complaint.id, Promise.status == "open")
        ).all()
        assert (promise.kind, promise.created_at) == ("reply_by", now)
        assert promise.due_at > now
        reasons = [
            h.reason
            for h in session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id)
            )
        ]
    assert reasons == ["still_broken_after_fix"]  # a person is asked to look, once
    [reopened] = alerts(g.database_url, notices.CASE_REOPENED)
    assert reopened.detail["complaint"] == reference and reopened.detail["team"] == "network"
    assert "INC-LS6-FIBRE" in reopened.summary

    # No rating after "it's still broken": it waits for the case to be resolved again.
    replies = g.say(conversation_id, "still no internet here")
    assert feedback.ASK_RATING not in [r["text"] for r in replies]
    assert alerts(g.database_url, notices.LOW_RATING) == []
    [resolution] = g.resolutions(conversation_id)
    assert (resolution["via"], resolution["fixed"], resolution["rating"]) == (
        "incident",
        False,
        None,
    )
    assert resolution["reopened_at"] == now.isoformat()
