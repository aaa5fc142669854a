"""A small set of records whose report figures are known by hand: three complaints in the
period (an outage linked to an incident, a billing problem, a late engineer), one older
complaint outside it, their messages, promises, resolutions, handoffs, an offer and grants."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    Handoff,
    Incident,
    Message,
    Promise,
    Resolution,
)
from redress.db.session import unit_of_work

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
TODAY = date(2026, 12, 7)
INCIDENT = "INC-LS6-FIBRE"
# compensation.yml: limits.per_incident.budgets.INC-LS6-FIBRE
INCIDENT_BUDGET_PENCE = 500_000


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=timezone.utc)


def _conversation(session: Session, cid: str, channel: str, customer: Customer) -> None:
    session.add(
        Conversation(
            id=cid, channel=channel, customer_id=customer.id, created_at=at(1, 0, month=10)
        )
    )


def _say(session: Session, cid: str, role: str, text: str, when: datetime) -> None:
    session.add(Message(conversation_id=cid, role=role, channel="web", text=text, created_at=when))
    session.flush()  # ids follow the order the messages were said in


def _complaint(
    session: Session,
    cid: str,
    reference: str,
    category: str,
    severity: str,
    team: str,
    summary: str,
    when: datetime,
    customer: Customer,
    incident: str | None = None,
) -> Complaint:
    complaint = Complaint(
        reference=reference,
        conversation_id=cid,
        customer_id=customer.id,
        category=category,
        severity=severity,
        team=team,
        summary=summary,
        incident_id=incident,
        created_at=when,
    )
    session.add(complaint)
    session.flush()
    return complaint


def _grant(
    session: Session,
    complaint: Complaint,
    customer: Customer,
    reference: str,
    pence: int,
    when: datetime,
) -> None:
    offer = CompensationOffer(
        reference=f"OF-{reference}",
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        customer_id=customer.id,
        incident_id=complaint.incident_id,
        rule="test",
        remedy="credit",
        amount_pence=pence,
        status="granted",
        explanation="test",
        created_at=when,
    )
    session.add(offer)
    session.flush()
    session.add(
        CompensationGrant(
            reference=f"CR-{reference}",
            offer_id=offer.id,
            customer_id=customer.id,
            incident_id=complaint.incident_id,
            remedy="credit",
            amount_pence=pence,
            approved_by="assistant (within policy)",
            created_at=when,
        )
    )


def _promise(
    session: Session,
    complaint: Complaint,
    kind: str,
    due: datetime,
    status: str,
    kept_at: datetime | None = None,
) -> None:
    session.add(
        Promise(
            complaint_id=complaint.id,
            conversation_id=complaint.conversation_id,
            kind=kind,
            what="reply to you",
            due_at=due,
            status=status,
            made_by="assistant",
            kept_at=kept_at,
            missed_at=due if status == "missed" else None,
            created_at=complaint.created_at,
        )
    )


def seed(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        one, two, three, four = session.scalars(select(Customer).order_by(Customer.id)).all()[:4]
        session.add(
            Incident(
                id=INCIDENT,
                title="Fibre outage in Leeds LS6",
                status="investigating",
                started_at=at(1, 0, month=10),
                what_is_wrong="Broadband is down in LS6.",
                why="A cable was cut.",
                what_we_are_doing="We are mending it.",
                expected_fix_text="We expect it fixed soon.",
            )
        )
        for cid, channel, customer in (
            ("conv-a", "web", one),
            ("conv-b", "telegram", two),
            ("conv-c", "web", three),
            ("conv-d", "web", four),
        ):
            _conversation(session, cid, channel, customer)
        session.flush()

        # Outside the period: only its grant counts, against the incident's budget.
        _say(session, "conv-d", "customer", "my internet is down", at(1, 9, month=10))
        old = _complaint(
            session,
            "conv-d",
            "RD-OLD000",
            "outage",
            "high",
            "network",
            "my internet is down",
            at(1, 9, 0, 3, month=10),
            four,
            INCIDENT,
        )
        _grant(session, old, four, "OLD000", 2500, at(1, 9, 1, month=10))
        session.add(
            Handoff(
                conversation_id="conv-d",
                reason="asked_for_person",
                created_at=at(1, 9, 2, month=10),
            )
        )

        # A: an outage, apologised for by name, an offer at the second turn, a person
        # replying 45 minutes after the complaint; resolved by the agent, rated 2, reopened.
        _say(session, "conv-a", "customer", "my broadband has stopped working", at(1, 10))
        a = _complaint(
            session,
            "conv-a",
            "RD-AAAAAA",
            "outage",
            "high",
            "network",
            "my broadband has stopped working",
            at(1, 10, 0, 3),
            one,
            INCIDENT,
        )
        _say(
            session,
            "conv-a",
            "bot",
            "I'm sorry your broadband has stopped working. That's on us, and I'm going to "
            "help put it right.",
            at(1, 10, 0, 5),
        )
        _say(session, "conv-a", "bot", "Would you like updates?", at(1, 10, 0, 6))
        _say(session, "conv-a", "customer", "yes please", at(1, 10, 1))
        _grant(session, a, one, "AAAAAA", 1000, at(1, 10, 1, 1))
        _say(session, "conv-a", "bot", "I've added £10.00 credit to your account.", at(1, 10, 1, 2))
        _say(session, "conv-a", "customer", "I want a person", at(1, 10, 2))
        session.add(
            Handoff(
                conversation_id="conv-a",
                reason="asked_for_person",
                created_at=at(1, 10, 2, 1),
                taken_over_at=at(1, 10, 40),
            )
        )
        _say(session, "conv-a", "bot", "I'll pass you to our team.", at(1, 10, 2, 1))
        _say(session, "conv-a", "customer", "hello?", at(1, 10, 30))
        _say(session, "conv-a", "agent", "Hi, I'm Sam from the network team.", at(1, 10, 45))
        _promise(session, a, "reply_by", at(1, 18, 0, 3), "kept", kept_at=at(1, 10, 45))
        session.add(
            Resolution(
                complaint_id=a.id,
                conversation_id="conv-a",
                via="agent",
                by="Sam",
                resolved_at=at(1, 11),
                rating=2,
                rated_at=at(1, 11, 5),
                reopened_at=at(2, 9),
            )
        )

        # B: a billing problem with no apology, resolved by the assistant and rated 5; its
        # reply promise was missed and the customer's last message is still unanswered.
        _say(session, "conv-b", "customer", "you charged me twice this month", at(3, 9))
        b = _complaint(
            session,
            "conv-b",
            "RD-BBBBBB",
            "billing",
            "medium",
            "billing",
            "you charged me twice this month",
            at(3, 9, 0, 3),
            two,
        )
        _say(
            session,
            "conv-b",
            "bot",
            "Thanks for telling me. Our billing team will check your account.",
            at(3, 9, 0, 5),
        )
        _say(session, "conv-b", "customer", "ok thanks", at(3, 9, 5))
        _say(session, "conv-b", "bot", "Is it sorted for you now?", at(3, 9, 5, 2))
        _say(session, "conv-b", "customer", "hello? anyone", at(3, 9, 10))
        _promise(session, b, "reply_by", at(4, 9, 0, 3), "missed")
        _promise(session, b, "callback", at(10, 9), "open")  # not due yet: not counted
        session.add(
            Resolution(
                complaint_id=b.id,
                conversation_id="conv-b",
                via="assistant",
                by="assistant",
                resolved_at=at(3, 9, 6),
                rating=5,
                rated_at=at(3, 9, 7),
            )
        )

        # C: a late engineer, apologised for by name; the customer waited 30 minutes.
        _say(session, "conv-c", "customer", "the engineer never turned up", at(20, 14, month=11))
        c = _complaint(
            session,
            "conv-c",
            "RD-CCCCCC",
            "delay",
            "low",
            "customer_care",
            "the engineer never turned up",
            at(20, 14, 0, 3, month=11),
            three,
        )
        _say(
            session,
            "conv-c",
            "bot",
            "I'm sorry our engineer didn't turn up when we promised. That's on us.",
            at(20, 14, 0, 4, month=11),
        )
        _say(session, "conv-c", "customer", "when will someone come?", at(20, 14, 20, month=11))
        session.add(
            Handoff(conversation_id="conv-c", reason="angry", created_at=at(20, 14, 21, month=11))
        )
        _say(
            session,
            "conv-c",
            "bot",
            "Our team will give you a firm date.",
            at(20, 14, 50, month=11),
        )
        _promise(session, c, "reply_by", at(22, 14, month=11), "cancelled")


def in_days(start: date, days: int) -> str:
    return (start + timedelta(days=days)).isoformat()
