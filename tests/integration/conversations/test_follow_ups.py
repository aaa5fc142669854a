"""The follow-up a while after a case is resolved, on SQLite and PostgreSQL: sent once, only
in the team's opening hours, never to a customer who asked us to stop messaging them or to
a case reopened meanwhile; "yes" is kept and "no" reopens the case as "not fixed" does. The
real gateway (outbox delivery, the customer's answers) with the job on the test's clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.jobs.follow_ups import FollowUps
from redress.business import AfterResolution, Business
from redress.cases import follow_up, notices, resolutions
from redress.cases.records import open_case
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import Complaint, OutboxMessage, Promise, Resolution
from redress.db.session import unit_of_work
from redress.handoff import feedback
from redress.incidents.wording import describe_time
from redress.plain_language import check_text
from redress.privacy import requests as data_requests
from tests.integration.incidents.test_incident_resolutions import Gateway, alerts, gateway

__all__ = ["gateway"]

# A Monday at noon in London (the Network team's hours are hours.yml's: 8am to 8pm).
MONDAY_NOON = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)


def resolved_case(g: Gateway, at: datetime) -> tuple[str, str]:
    """A web chat with a case resolved by an agent from its card at ``at``."""
    g.say(None, "my broadband is down")
    conversation_id = g.last
    with unit_of_work(g.database_url) as session:
        conversation = conversations.get_conversation(session, conversation_id)
        assert conversation is not None
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="outage",
            severity="high",
            severity_reasons=[],
            summary="My broadband is down.",
            facts={},
        )
        open_case(session, complaint, g.business, at)
        resolutions.record(session, complaint, resolutions.AGENT, "Sam", at)
        return conversation_id, complaint.reference


def run(g: Gateway, at: datetime, business: Business | None = None) -> list[str]:
    g.clock.now = at
    job = FollowUps(g.database_url, business or g.business, clock=g.clock)
    return g.client.portal.call(job.send_due)


def follow_ups(g: Gateway) -> list[OutboxMessage]:
    with unit_of_work(g.database_url) as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == follow_up.KIND)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def resolution_of(g: Gateway, reference: str) -> Resolution:
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        return session.scalars(
            select(Resolution).where(Resolution.complaint_id == complaint.id)
        ).one()


def test_the_follow_up_goes_once_after_two_days_and_a_yes_is_kept(gateway: Gateway) -> None:
    g = gateway
    conversation_id, reference = resolved_case(g, MONDAY_NOON)
    assert run(g, MONDAY_NOON + timedelta(days=1)) == []
    two_days = MONDAY_NOON + timedelta(days=2)
    assert run(g, two_days) == [reference]
    assert run(g, two_days + timedelta(minutes=5)) == []  # once
    [queued] = follow_ups(g)
    assert queued.conversation_id == conversation_id
    assert queued.dedupe_key == f"{follow_up.KIND}:{resolution_of(g, reference).id}"
    assert queued.text == (
        f"Hello again. On Monday we sorted out the problem you told us about ({reference}: "
        "service not working). Is everything still working?"
    )
    assert check_text(queued.text) == []

    g.deliver()
    asked = g.record(conversation_id)["messages"][-1]
    assert asked["text"] == queued.text
    assert [b["title"] for b in asked["buttons"]] == ["Yes, all good", "No, it's not"]
    assert g.say(conversation_id, "yes thanks")[0]["text"] == feedback.THANKS_STILL_WORKING
    kept = resolution_of(g, reference)
    assert (kept.still_working, kept.follow_up_sent_at) == (True, two_days)
    [shown] = g.record(conversation_id)["complaints"][0]["resolutions"]
    assert (shown["still_working"], shown["follow_up_sent_at"]) == (True, two_days.isoformat())
    # Answered: a later "yes" is the assistant's.
    assert g.say(conversation_id, "yes")[0]["text"] == "I hear you: yes"


def test_the_follow_up_waits_for_the_teams_opening_hours(gateway: Gateway) -> None:
    g = gateway
    late = MONDAY_NOON + timedelta(hours=9)  # Monday 9pm, after the team has gone home
    _, reference = resolved_case(g, late)
    assert run(g, late + timedelta(days=2)) == []  # Wednesday 9pm
    assert run(g, datetime(2026, 11, 26, 7, 59, tzinfo=timezone.utc)) == []
    assert run(g, datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)) == [reference]
    assert len(follow_ups(g)) == 1


def test_no_follow_up_to_a_customer_who_said_stop_or_a_case_reopened(gateway: Gateway) -> None:
    g = gateway
    stopped, _ = resolved_case(g, MONDAY_NOON)
    with unit_of_work(g.database_url) as session:
        data_requests.record_request(
            session,
            kind=data_requests.STOP_MESSAGES,
            conversation_id=stopped,
            customer_id=None,
            verified=False,
            now=MONDAY_NOON,
            zone="Europe/London",
        )
    unreachable, _ = resolved_case(g, MONDAY_NOON)
    with unit_of_work(g.database_url) as session:
        conversations.mark_unreachable(session, unreachable, "the customer blocked the bot")
    reopened, reopened_reference = resolved_case(g, MONDAY_NOON)
    with unit_of_work(g.database_url) as session:
        group = resolutions.awaiting_fixed(session, reopened)
        resolutions.answer_fixed(session, group, False, MONDAY_NOON, g.business)
    off = replace(
        g.business,
        handoff=g.business.handoff.model_copy(
            update={"after_resolution": AfterResolution(follow_up_after_days=0)}
        ),
    )
    kept, kept_reference = resolved_case(g, MONDAY_NOON)

    two_days = MONDAY_NOON + timedelta(days=2)
    assert run(g, two_days, off) == []  # turned off: nothing for anyone
    assert run(g, two_days) == [kept_reference]
    assert run(g, two_days + timedelta(days=1)) == []
    assert [m.conversation_id for m in follow_ups(g)] == [kept]
    assert resolution_of(g, reopened_reference).follow_up_sent_at is None


def test_a_no_to_the_follow_up_reopens_the_case(gateway: Gateway) -> None:
    g = gateway
    conversation_id, reference = resolved_case(g, MONDAY_NOON)
    two_days = MONDAY_NOON + timedelta(days=2)
    run(g, two_days)
    g.deliver()
    g.clock.now = answered = two_days + timedelta(hours=1)
    asked = g.record(conversation_id)["messages"][-1]
    no = next(b for b in asked["buttons"] if b["title"] == feedback.STILL_NO_BUTTON)
    [told] = g.say(conversation_id, no["payload"])

    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        assert complaint.status == "open"
        [promise] = session.scalars(
            select(Promise).where(Promise.complaint_id == complaint.id, Promise.status == "open")
        ).all()
    when = describe_time(promise.due_at, answered, g.business.hours.timezone)
    assert told["text"] == (
        f"I'm sorry it still isn't right. I've reopened {reference} and passed it back to our "
        f"Network team. Someone from our Network team will reply here by {when}."
    )
    # No rating right after "it's not working": the next resolution asks it.
    assert told["buttons"] == []
    reopened = resolution_of(g, reference)
    assert (reopened.still_working, reopened.reopened_at) == (False, answered)
    [alert] = alerts(g.database_url, notices.CASE_REOPENED)
    assert alert.detail["complaint"] == reference and alert.detail["handoff"] is False
    assert "no longer working" in alert.summary
    # The case was resolved from its card with no person in the conversation: the team
    # replies from the case's thread; no handoff.
    assert g.record(conversation_id)["handoffs"] == []
    assert (reopened.rating, reopened.rating_asked_at) == (None, None)
