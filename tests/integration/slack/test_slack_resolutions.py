"""After a case is resolved at the Slack desk, on SQLite and PostgreSQL: "is it fixed?" and
the rating land on that case's resolution (a later resolution keeps its own), "No, not yet"
puts the case back with its team and at the desk with the customer told the truth, and a
poor rating tells the team once. The real gateway and slack-bolt against the fake Slack API;
time from the test's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import bot.relay
from bot.slack.alerts import headline
from redress.audit import Actor
from redress.business import Business
from redress.cases import desk as case_desk
from redress.cases import notices
from redress.cases.records import open_case
from redress.complaints import records as complaint_records
from redress.complaints.categories import Severity
from redress.conversations import records as conversations
from redress.db.models import Complaint, Handoff, OperatorAlert, Promise
from redress.db.session import unit_of_work
from redress.handoff import feedback
from redress.incidents.wording import describe_time
from redress.plain_language import check_text
from tests.fakes.slack_api import AGENT_DISPLAY_NAME
from tests.integration.slack.test_slack_desk import Desk_, open_gateway

# Between a question and its answer.
LATER = timedelta(minutes=5)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def desk(database_url: str, business: Business, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk_]:
    with open_gateway(database_url, business) as g:
        # The gateway's answers take the same time as the desk: the test's clock.
        monkeypatch.setattr(bot.relay, "utcnow", g.clock)
        yield g


def new_case(g: Desk_, conversation_id: str, business: Business, category: str = "outage") -> str:
    """A logged complaint in this conversation, opened as a case; returns its reference."""
    with unit_of_work(g.database_url) as session:
        conversation = conversations.get_conversation(session, conversation_id)
        assert conversation is not None
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity="high",
            severity_reasons=[],
            summary="My broadband is down.",
            facts={},
        )
        open_case(session, complaint, business, g.clock())
        return complaint.reference


def resolve_at_desk(g: Desk_, conversation_id: str) -> dict[str, Any]:
    """A person takes the conversation over and presses Resolve; returns "is it fixed?"."""
    g.request_person(conversation_id)
    thread = g.card(conversation_id)
    g.press("handoff_take_over", conversation_id, thread)
    g.press("handoff_resolve", conversation_id, thread)
    question = g.record(conversation_id)["messages"][-1]
    assert question["details"]["asks"] == feedback.ASKS_FIXED
    return question


def press(g: Desk_, conversation_id: str, message: dict[str, Any], title: str) -> dict[str, Any]:
    button = next(b for b in message["buttons"] if b["title"] == title)
    return g.say(conversation_id, button["payload"])


def resolutions_of(g: Desk_, conversation_id: str) -> dict[str, list[dict[str, Any]]]:
    return {c["reference"]: c["resolutions"] for c in g.record(conversation_id)["complaints"]}


def alerts(database_url: str, kind: str) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        query = select(OperatorAlert).where(OperatorAlert.kind == kind)
        return list(session.scalars(query.order_by(OperatorAlert.id)))


def test_each_resolution_keeps_its_own_answers(desk: Desk_, business: Business) -> None:
    g = desk
    conversation_id = g.say(None, "my internet has been down since monday")["conversation_id"]
    first = new_case(g, conversation_id, business)

    question = resolve_at_desk(g, conversation_id)
    resolved_at = g.clock()
    asked = press(g, conversation_id, question, feedback.YES_BUTTON)
    assert asked["replies"][0]["text"] == feedback.ASK_RATING_FIXED
    g.clock.now += LATER
    assert g.say(conversation_id, "4")["replies"][0]["text"] == feedback.THANKS_FIXED
    rated_at = g.clock()

    [kept] = resolutions_of(g, conversation_id)[first]
    assert kept == {
        "via": "agent",
        "by": AGENT_DISPLAY_NAME,
        "resolved_at": resolved_at.isoformat(),
        "fixed": True,
        "rating": 4,
        "rated_at": rated_at.isoformat(),
        "follow_up_sent_at": None,
        "still_working": None,
        "reopened_at": None,
    }

    # A new problem, resolved again later: its answers are its own, the first keeps its.
    g.clock.now += LATER * 10
    second = new_case(g, conversation_id, business, "billing")
    question = resolve_at_desk(g, conversation_id)
    press(g, conversation_id, question, feedback.YES_BUTTON)
    g.say(conversation_id, "5")
    found = resolutions_of(g, conversation_id)
    assert found[first] == [kept]
    [later] = found[second]
    assert (later["via"], later["fixed"], later["rating"]) == ("agent", True, 5)
    record = g.record(conversation_id)
    # The conversation's own columns keep the latest answers, as before.
    assert (record["conversation"]["fixed"], record["conversation"]["rating"]) == (True, 5)
    assert alerts(g.database_url, notices.LOW_RATING) == []


def test_not_fixed_puts_the_case_back_with_its_team_and_the_desk(
    desk: Desk_, business: Business
) -> None:
    g = desk
    conversation_id = g.say(None, "my internet has been down since monday")["conversation_id"]
    reference = new_case(g, conversation_id, business)
    question = resolve_at_desk(g, conversation_id)
    first_thread = g.card(conversation_id)
    g.clock.now += LATER
    now = g.clock()
    with unit_of_work(g.database_url) as session:
        # Whoever owns the case, if anyone, is named to the customer.
        owner = session.scalars(
            select(Complaint.owner_name).where(Complaint.reference == reference)
        ).one()

    with unit_of_work(g.database_url) as session:
        first_due = session.scalars(select(Promise.due_at).where(Promise.kind == "reply_by")).one()
    told = press(g, conversation_id, question, feedback.NO_BUTTON)["replies"][0]
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint.status == "open" and complaint.desk_status == "waiting_on_us"
        [promise] = session.scalars(
            select(Promise).where(Promise.complaint_id == complaint.id, Promise.status == "open")
        ).all()
        assert promise.kind == "reply_by" and promise.created_at == now
        due = promise.due_at
        handoffs = list(
            session.scalars(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id)
                .order_by(Handoff.id)
            )
        )
    # The reply time first given is still ahead: it is promised again, not a whole new
    # reply time from now; the customer is given that time, no other.
    assert due == first_due > now
    assert due < business.team_hours("network").after_open_time(
        now, business.reply_within(Severity.HIGH)
    )
    when = describe_time(due, now, business.hours.timezone)
    # One person named throughout: the owner if someone claimed it, else someone from the team.
    who = f"{owner} in " if owner else ""
    replier = owner or "Someone from our Network team"
    assert told["text"] == (
        f"I'm sorry it still isn't right. I've reopened {reference} and passed it back to "
        f"{who}our Network team. {replier} will reply here by {when}."
    )
    assert check_text(told["text"]) == []
    # No rating in the same breath as "it's still broken".
    assert told["buttons"] == [] and "rate" not in told["text"]

    # Back at the desk: a new handoff, because a person had the conversation.
    assert [(h.status, h.reason) for h in handoffs] == [
        ("resolved", "customer_asked"),
        ("requested", "not_fixed"),
    ]
    assert g.card(conversation_id) != first_thread
    # The team is told, once, in an alert naming the case.
    [reopened] = alerts(g.database_url, notices.CASE_REOPENED)
    assert reopened.detail["complaint"] == reference and reopened.detail["team"] == "network"
    assert reopened.detail["handoff"] is True
    assert reference in reopened.summary and AGENT_DISPLAY_NAME in reopened.summary
    # One plain sentence, with the reply time in the team's local time as on the card.
    aware = due if due.tzinfo else due.replace(tzinfo=timezone.utc)
    local = aware.astimezone(ZoneInfo("Europe/London"))
    assert reopened.summary == (
        f"The customer says {reference} is not fixed (resolved by {AGENT_DISPLAY_NAME}); "
        f"we promised a reply by {local:%a} {local.day} {local:%b %H:%M}."
    )
    assert headline(notices.CASE_REOPENED) == "🔁 A case is open again"

    [resolution] = resolutions_of(g, conversation_id)[reference]
    assert resolution["fixed"] is False and resolution["rating"] is None
    assert resolution["reopened_at"] == now.isoformat()

    # Resolved again from the new card: now the rating is asked, about that resolution, and
    # a rating of 2 tells the team, once.
    thread = g.card(conversation_id)
    g.press("handoff_take_over", conversation_id, thread)
    g.press("handoff_resolve", conversation_id, thread)
    again = g.record(conversation_id)["messages"][-1]
    assert again["details"]["asks"] == feedback.ASKS_FIXED
    asked = press(g, conversation_id, again, feedback.YES_BUTTON)["replies"][0]
    assert asked["text"] == feedback.ASK_RATING_FIXED
    assert g.say(conversation_id, "2")["replies"][0]["text"] == feedback.THANKS_FIXED
    [low] = alerts(g.database_url, notices.LOW_RATING)
    assert low.detail["complaint"] == reference and low.detail["rating"] == 2
    first, second = resolutions_of(g, conversation_id)[reference]
    assert (first["fixed"], first["rating"]) == (False, None)
    assert (second["fixed"], second["rating"]) == (True, 2)
    # Pressing No again on the old question changes nothing more.
    g.say(
        conversation_id,
        next(b for b in question["buttons"] if b["title"] == "No, not yet")["payload"],
    )
    assert len(alerts(g.database_url, notices.CASE_REOPENED)) == 1
    assert len(alerts(g.database_url, notices.LOW_RATING)) == 1


def test_answers_after_a_case_resolved_from_its_card_land_on_it(
    desk: Desk_, business: Business
) -> None:
    """A case resolved from its own card (not a handoff) asks the same question; the
    answers, typed, land on that case's resolution."""
    g = desk
    conversation_id = g.say(None, "my internet has been down since monday")["conversation_id"]
    reference = new_case(g, conversation_id, business)
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        actor = Actor(name="Priya", via="slack", role="agent", id="U0PRIYA01")
        case_desk.resolve_case(session, complaint.id, actor, g.clock())
    question = feedback.ask_fixed("Priya")
    g.client.portal.call(  # type: ignore[union-attr]
        lambda: g.client.app.state.relay.push(  # type: ignore[attr-defined]
            conversation_id,
            "bot",
            question.text,
            buttons=question.buttons,
            details={"asks": question.asks},
        )
    )
    assert g.say(conversation_id, "yes it is")["replies"][0]["text"] == feedback.ASK_RATING_FIXED
    g.say(conversation_id, "5")
    [resolution] = resolutions_of(g, conversation_id)[reference]
    assert (resolution["via"], resolution["by"]) == ("agent", "Priya")
    assert (resolution["fixed"], resolution["rating"]) == (True, 5)
    assert g.rasa.messages(conversation_id) == ["my internet has been down since monday"]
