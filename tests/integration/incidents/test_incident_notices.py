"""Incident notices on SQLite and PostgreSQL: who is told about a change (once each), the
closing question, and the "possible incident" alert for operators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import (
    Complaint,
    IncidentSubscription,
    IncidentUpdate,
    OperatorAlert,
    OutboxMessage,
)
from redress.db.session import unit_of_work
from redress.incidents import notices as incident_notices
from redress.incidents import possible
from redress.incidents import records as incidents_records
from redress.incidents.model import Change, incident_from_mapping
from redress.incidents.notices import (
    DECLINED,
    OFFERED,
    RESOLVED,
    SERVICE_BACK_BUTTONS,
    SUBSCRIBED,
    UPDATE,
)
from redress.incidents.possible import Thresholds, complaint_district
from tests.unit.incidents.test_incidents import REGIONS, data

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
ZONE = "Europe/London"
INCIDENT = "INC-LS6-FIBRE"


# Helpers shared with test_delivery.py ------------------------------------------------------


def open_incident(database_url: str, now: datetime = NOW, **changes: Any) -> None:
    """The LS6 fibre incident of the unit tests, next update promised three hours on."""
    with unit_of_work(database_url) as session:
        incident = incident_from_mapping(data(**changes), now, REGIONS)
        incidents_records.create_incident(session, incident, now)


def add_customer(
    session: Session,
    answer: str,
    *,
    chat_id: int | None = None,
    incident_id: str = INCIDENT,
) -> str:
    """A conversation whose complaint the incident explains, offered updates and answering
    ``answer`` (subscribed, declined, or offered: not answered yet). Returns its id."""
    if chat_id is None:
        conversation = conversations.start_conversation(session, "web")
    else:
        conversation = conversations.conversation_on_channel(session, "telegram", str(chat_id))
    complaint = complaint_records.open_complaint(
        session,
        conversation,
        category="outage",
        severity="high",
        severity_reasons=[],
        summary="My broadband is down.",
        facts={"postcode": "LS6 2AB"},
    )
    subscription = incident_notices.link_complaint(session, complaint, incident_id, NOW)
    if answer != OFFERED:
        incident_notices.answer_offer(session, subscription, answer == SUBSCRIBED, NOW)
    return conversation.id


def add_customers(database_url: str, answers: list[str]) -> dict[str, list[str]]:
    """Conversation ids by answer, created in the order given."""
    found: dict[str, list[str]] = {SUBSCRIBED: [], DECLINED: [], OFFERED: []}
    with unit_of_work(database_url) as session:
        for answer in answers:
            found[answer].append(add_customer(session, answer))
    return found


def outbox_rows(database_url: str) -> list[OutboxMessage]:
    with unit_of_work(database_url) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def alerts(database_url: str, kind: str | None = None) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        query = select(OperatorAlert).order_by(OperatorAlert.id)
        if kind is not None:
            query = query.where(OperatorAlert.kind == kind)
        return list(session.scalars(query))


def update(database_url: str, change: Change, at: datetime) -> None:
    with unit_of_work(database_url) as session:
        incidents_records.update_incident(session, INCIDENT, change, at, ZONE)


# Fan-out ------------------------------------------------------------------------------------

# 60 customers: most took updates, some said no, some were offered and never answered.
ANSWERS = [SUBSCRIBED, SUBSCRIBED, DECLINED, SUBSCRIBED, OFFERED, SUBSCRIBED] * 10


def test_an_update_reaches_each_subscriber_once_and_no_one_else(database_url: str) -> None:
    open_incident(database_url)
    people = add_customers(database_url, ANSWERS)
    assert len(people[SUBSCRIBED]) == 40

    at = NOW + timedelta(hours=1)
    change = Change(status="monitoring", next_update_by=NOW + timedelta(hours=4))
    update(database_url, change, at)

    rows = outbox_rows(database_url)
    assert sorted(r.conversation_id for r in rows) == sorted(people[SUBSCRIBED])
    assert {(r.kind, r.status, r.attempts, r.incident_id) for r in rows} == {
        (UPDATE, "pending", 0, INCIDENT)
    }
    assert {r.next_attempt_at for r in rows} == {at}
    texts = {r.text for r in rows}
    assert len(texts) == 1
    text = texts.pop()
    assert text.startswith("Good news: we've put a fix in place")
    assert "by 4pm today" in text  # the new promise, in the business's time zone
    assert all(r.buttons is None for r in rows)


def test_notes_and_a_new_update_time_alone_are_not_news(database_url: str) -> None:
    open_incident(database_url)
    add_customers(database_url, ANSWERS[:12])
    at = NOW + timedelta(minutes=30)
    update(database_url, Change(note="Second crew on the way."), at)
    update(database_url, Change(next_update_by=NOW + timedelta(hours=5)), at)
    assert outbox_rows(database_url) == []
    # The history keeps both, though customers heard nothing.
    with unit_of_work(database_url) as session:
        notes = [
            u["note"] for u in incidents_records.incident_with_history(session, INCIDENT)["history"]
        ]
    assert notes[1:] == ["Second crew on the way.", "next_update_by changed"]


def test_handling_the_same_change_twice_queues_nothing_more(database_url: str) -> None:
    open_incident(database_url)
    people = add_customers(database_url, ANSWERS[:12])
    at = NOW + timedelta(minutes=45)
    words = "Our engineers have found the cut and are joining it now."
    with unit_of_work(database_url) as session:
        row = incidents_records.get_row(session, INCIDENT)
        before = incidents_records.to_domain(row)
        incidents_records.update_incident(
            session, INCIDENT, Change(what_we_are_doing=words), at, ZONE
        )
        after = incidents_records.to_domain(row)
        update_id = session.scalar(
            select(IncidentUpdate.id).order_by(IncidentUpdate.id.desc()).limit(1)
        )
        assert update_id is not None
        # The same change seen again (a retried request, a second gateway).
        assert incident_notices.on_change(session, before, after, update_id, at, ZONE) == 0
    with unit_of_work(database_url) as session:
        assert incident_notices.on_change(session, before, after, update_id, at, ZONE) == 0
    rows = outbox_rows(database_url)
    assert sorted(r.conversation_id for r in rows) == sorted(people[SUBSCRIBED])
    assert all(words in r.text for r in rows)


def test_resolving_asks_each_subscriber_whether_it_works_now(database_url: str) -> None:
    open_incident(database_url, services=["Broadband", "Home phone"])
    people = add_customers(database_url, ANSWERS)
    at = NOW + timedelta(hours=2)
    with unit_of_work(database_url) as session:
        incidents_records.resolve_incident(session, INCIDENT, "All lines are back.", at, ZONE)

    rows = outbox_rows(database_url)
    assert sorted(r.conversation_id for r in rows) == sorted(people[SUBSCRIBED])
    assert {r.kind for r in rows} == {RESOLVED}
    (closing,) = {r.text for r in rows}
    assert closing.startswith("Good news: we've fixed the problem with broadband and home phone.")
    assert closing.endswith("Is everything working for you now?")
    for row in rows:
        assert row.buttons == SERVICE_BACK_BUTTONS
        assert [b["title"] for b in row.buttons] == ["Yes, it's working", "No, still not right"]

    with unit_of_work(database_url) as session:
        sent = {
            s.conversation_id: s.fix_check_sent_at
            for s in session.scalars(select(IncidentSubscription))
        }
        # The question is now open in every subscriber's conversation, and only theirs.
        for conversation_id in people[SUBSCRIBED]:
            assert sent[conversation_id] == at
            check = incident_notices.open_fix_check(session, conversation_id)
            assert check is not None and check.incident_id == INCIDENT
        for conversation_id in people[DECLINED] + people[OFFERED]:
            assert sent[conversation_id] is None
            assert incident_notices.open_fix_check(session, conversation_id) is None


def test_a_customer_in_two_incidents_hears_about_each(database_url: str) -> None:
    open_incident(database_url)
    open_incident(database_url, id="INC-LS6-PHONE", title="Phone lines in LS6")
    with unit_of_work(database_url) as session:
        both = add_customer(session, SUBSCRIBED)
        complaint = session.scalars(
            select(Complaint).where(Complaint.conversation_id == both)
        ).one()
        subscription = incident_notices.link_complaint(session, complaint, "INC-LS6-PHONE", NOW)
        incident_notices.answer_offer(session, subscription, True, NOW)
    at = NOW + timedelta(minutes=10)
    for incident_id in (INCIDENT, "INC-LS6-PHONE"):
        with unit_of_work(database_url) as session:
            change = Change(status="monitoring")
            incidents_records.update_incident(session, incident_id, change, at, ZONE)
    rows = outbox_rows(database_url)
    assert [(r.conversation_id, r.incident_id) for r in rows] == [
        (both, INCIDENT),
        (both, "INC-LS6-PHONE"),
    ]


# Possible incidents -------------------------------------------------------------------------

RULE = Thresholds(complaints=3, within=timedelta(minutes=60))


def complain(
    database_url: str,
    postcode: str,
    at: datetime,
    *,
    category: str = "outage",
    incident_id: str | None = None,
) -> tuple[str, bool]:
    """A new complaint at ``at``, checked as the assistant checks it. Returns its reference
    and whether it raised a possible-incident alert."""
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity="high",
            severity_reasons=[],
            summary="It stopped working.",
            facts={"postcode": postcode},
        )
        complaint.created_at = at
        if incident_id is not None:
            incident_notices.link_complaint(session, complaint, incident_id, at)
        raised = possible.check_possible_incident(
            session, complaint, complaint_district(complaint), at, RULE
        )
        return complaint.reference, raised


def test_complaints_from_one_district_raise_one_possible_incident_alert(database_url: str) -> None:
    first, raised_first = complain(database_url, "LS6 1AA", NOW)
    second, raised_second = complain(database_url, "ls62bb", NOW + timedelta(minutes=20))
    assert (raised_first, raised_second) == (False, False)
    assert alerts(database_url) == []

    third, raised_third = complain(database_url, "LS6 3CC", NOW + timedelta(minutes=50))
    assert raised_third
    (alert,) = alerts(database_url)
    assert alert.kind == "possible_incident"
    assert alert.incident_id is None
    assert alert.detail["complaints"] == [first, second, third]
    assert (alert.detail["category"], alert.detail["district"]) == ("outage", "LS6")
    assert "3 outage complaints from LS6" in alert.summary

    # More of the same in that hour: operators already know.
    _, raised_fourth = complain(database_url, "LS6 4DD", NOW + timedelta(minutes=55))
    assert not raised_fourth
    assert len(alerts(database_url)) == 1

    # A fresh cluster well after the first window is news again.
    later = NOW + timedelta(hours=3)
    for minutes in (0, 5, 10):
        _, raised = complain(database_url, "LS6 5EE", later + timedelta(minutes=minutes))
    assert raised
    assert len(alerts(database_url, "possible_incident")) == 2


def test_scattered_old_or_explained_complaints_raise_no_alert(database_url: str) -> None:
    open_incident(database_url)
    raised = []
    # Fewer than the threshold.
    raised += [complain(database_url, "LS1 1AA", NOW)[1], complain(database_url, "LS1 2BB", NOW)[1]]
    # One each from different districts.
    raised += [complain(database_url, f"LS{n} 1AA", NOW)[1] for n in (11, 12, 13)]
    # Spread over more than the window.
    for minutes in (-130, -65, 0):
        raised.append(complain(database_url, "LS15 1AA", NOW + timedelta(minutes=minutes))[1])
    # Different categories from one district.
    for category in ("outage", "billing", "slow_service"):
        raised.append(complain(database_url, "LS16 1AA", NOW, category=category)[1])
    # Explained by a known incident already.
    raised += [complain(database_url, "LS6 1AA", NOW, incident_id=INCIDENT)[1] for _ in range(2)]
    raised.append(complain(database_url, "LS6 1AA", NOW)[1])
    raised.append(complain(database_url, "LS6 1AA", NOW, incident_id=INCIDENT)[1])
    # No postcode: no district to count.
    raised += [complain(database_url, "nowhere", NOW)[1] for _ in range(3)]
    assert not any(raised)
    assert alerts(database_url) == []
