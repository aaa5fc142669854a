"""Retention on SQLite and PostgreSQL: old rows in every store the job covers, and Rasa's
tracker store in a database of the test's own. A dry run counts and changes nothing; a real
run anonymises or deletes only what is past its time and writes an audit row; a second run
changes nothing more; each run does at most a batch per store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    create_engine,
    select,
    text,
)

from bot.app import build_services
from bot.jobs.retention import RetentionJob
from bot.jobs.scheduler import Scheduler
from redress.business import Business
from redress.db.models import (
    Base,
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    ConversationEvent,
    Customer,
    DeskEvent,
    FulfilmentDelivery,
    Message,
    OutboxMessage,
    PrivacyAudit,
    TelegramUpdate,
    VerificationCode,
)
from redress.db.session import unit_of_work
from redress.privacy import retention, tracker
from redress.privacy.config import Retention
from redress.privacy.erasure import ERASED
from redress.privacy.tracker import EVENTS
from redress.settings import Settings
from tests.conftest import postgres_database

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=800)  # past every default period
NEW = NOW - timedelta(hours=12)  # within every period
DAYS = Retention()


@pytest.fixture
def tracker_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """Rasa's tracker store beside the records: a SQLite file, or a PostgreSQL database of
    its own, as Rasa's URL names it (no driver)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
        _make_events(url)
        yield url
        return
    with postgres_database("redress_tracker") as url:
        _make_events(url)
        yield "postgresql://" + url.split("://", 1)[1]


def _make_events(url: str) -> None:
    engine = create_engine(url)
    EVENTS.metadata.create_all(engine)
    engine.dispose()


def _tracker_engine(url: str) -> Any:
    engine = tracker.engine_for(url)
    assert engine is not None
    return engine


def _tracker_event(sender: str, at: datetime, text: str) -> dict[str, Any]:
    data = f'{{"event": "user", "text": "{text}"}}'
    return {"sender_id": sender, "type_name": "user", "timestamp": at.timestamp(), "data": data}


def _seed_tracker(url: str) -> None:
    engine = _tracker_engine(url)
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(),
            [
                _tracker_event("old-conversation", OLD, "my email is jo@example.com"),
                _tracker_event("old-conversation", OLD + timedelta(minutes=1), "BL-100001"),
                _tracker_event("still-talking", OLD, "hello"),
                _tracker_event("still-talking", NEW, "it is down again"),
            ],
        )
    engine.dispose()


def _tracker_senders(url: str) -> list[str]:
    engine = _tracker_engine(url)
    with engine.connect() as connection:
        senders = list(connection.scalars(select(EVENTS.c.sender_id).order_by(EVENTS.c.id)))
    engine.dispose()
    return senders


def _customer(session: Any) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.account_number == "BL-100001"))
    assert customer is not None
    return customer


def _conversation(session: Any, cid: str, at: datetime, words: str) -> Conversation:
    customer = _customer(session)
    conversation = Conversation(
        id=cid, channel="web", customer_id=customer.id, created_at=at, updated_at=at
    )
    session.add(conversation)
    session.flush()
    session.add_all(
        [
            Message(
                conversation_id=cid,
                role="customer",
                channel="web",
                text=f"{words}, my email is jo@example.com",
                details={"sent_to_assistant": words, "client": "widget"},
                created_at=at,
            ),
            Message(
                conversation_id=cid,
                role="bot",
                channel="web",
                text="Thanks, Jo. Would you like £9 credit?",
                buttons=[{"title": "Yes, please", "payload": "/affirm", "token": "t1"}],
                details={"asks": "offer", "slow": True},
                created_at=at + timedelta(seconds=1),
            ),
            Message(
                conversation_id=cid,
                role="agent",
                channel="web",
                text="Hi Jo, I'm looking at your line at LS6 1AA now.",
                details={"author": "Sam", "agent_id": "U1", "desk_ts": "1.2"},
                created_at=at + timedelta(seconds=2),
            ),
            ConversationEvent(
                conversation_id=cid,
                kind="misunderstood",
                detail={"text": words, "confidence": 0.2},
                created_at=at,
            ),
            ConversationEvent(
                conversation_id=cid, kind="rated", detail={"rating": 4}, created_at=at
            ),
        ]
    )
    return conversation


def _complaint(session: Any, cid: str, at: datetime, status: str, reference: str) -> Complaint:
    complaint = Complaint(
        reference=reference,
        conversation_id=cid,
        customer_id=_customer(session).id,
        category="no_service",
        severity="high",
        severity_reasons=["no service"],
        status=status,
        summary="my broadband has been down since monday and I work from home",
        facts={
            "account": "BL-100001",
            "postcode": "LS6 1AA",
            "since": "since monday",
            "more": ["and the phone line too"],
            "logged": True,
            "reply_due": (at + timedelta(hours=8)).isoformat(),
        },
        created_at=at,
        updated_at=at,
    )
    session.add(complaint)
    session.flush()
    return complaint


def _grant(
    session: Any, complaint: Complaint, at: datetime, reference: str, status: str, pence: int = 900
) -> None:
    customer = _customer(session)
    offer = CompensationOffer(
        reference=f"OF-{reference}",
        complaint_id=complaint.id,
        conversation_id=complaint.conversation_id,
        customer_id=customer.id,
        rule="outage",
        remedy="account_credit",
        amount_pence=pence,
        status="granted",
        explanation="outage rule",
        created_at=at,
    )
    session.add(offer)
    session.flush()
    grant = CompensationGrant(
        reference=f"CR-{reference}",
        offer_id=offer.id,
        customer_id=customer.id,
        remedy="account_credit",
        amount_pence=pence,
        approved_by="assistant (within policy)",
        created_at=at,
    )
    session.add(grant)
    session.flush()
    session.add(
        FulfilmentDelivery(
            grant_id=grant.id,
            payload={"account_number": "BL-100001", "amount_pence": pence},
            status=status,
            sent_at=at if status == "sent" else None,
            next_attempt_at=at,
            created_at=at,
        )
    )


def _outbox(session: Any, cid: str, at: datetime, status: str, key: str) -> None:
    session.add(
        OutboxMessage(
            dedupe_key=key,
            conversation_id=cid,
            kind="incident_update",
            text="An update on the outage in LS6",
            status=status,
            next_attempt_at=at,
            sent_at=at if status == "sent" else None,
            created_at=at,
        )
    )


def _seed(database_url: str) -> None:
    """Old and new rows in every store; the new ones are added last, as in real life."""
    with unit_of_work(database_url) as session:
        customer = _customer(session)
        _conversation(session, "old-conversation", OLD, "my broadband is down")
        _conversation(session, "new-conversation", NEW, "still no internet")
        old_closed = _complaint(session, "old-conversation", OLD, "resolved", "RD-OLD001")
        _complaint(session, "old-conversation", OLD, "open", "RD-OLD002")
        new_closed = _complaint(session, "new-conversation", NEW, "resolved", "RD-NEW001")
        _grant(session, old_closed, OLD, "OLD001", "sent")
        _grant(session, new_closed, OLD, "FAIL01", "failed")  # waits for an operator
        _outbox(session, "old-conversation", OLD, "sent", "old-sent")
        _outbox(session, "old-conversation", OLD, "undeliverable", "old-undeliverable")
        _outbox(session, "old-conversation", OLD, "pending", "old-pending")
        _outbox(session, "new-conversation", NEW, "sent", "new-sent")
        session.add_all(
            [
                TelegramUpdate(update_id=1, status="answered", received_at=OLD, answered_at=OLD),
                TelegramUpdate(
                    update_id=2, status="received", received_at=OLD, payload={"text": "hi"}
                ),
                TelegramUpdate(update_id=3, status="answered", received_at=NEW, answered_at=NEW),
                DeskEvent(event_id="Ev-old", received_at=OLD),
                DeskEvent(event_id="Ev-new", received_at=NEW),
            ]
        )
        for cid, at in (("old-conversation", OLD), ("new-conversation", NEW)):
            session.add(
                VerificationCode(
                    conversation_id=cid,
                    customer_id=customer.id,
                    code_hash="0" * 64,
                    salt="s" * 32,
                    expires_at=at + timedelta(minutes=10),
                    created_at=at,
                )
            )
        # The fulfilment delivery added last is the new one (its id is the highest).
        later = _complaint(session, "new-conversation", NEW, "open", "RD-NEW002")
        _grant(session, later, NEW, "NEW001", "sent", pence=500)


def _snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the audit, to show what a run did not change."""
    with unit_of_work(database_url) as session:
        return {
            table.name: [
                tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))
            ]
            for table in Base.metadata.sorted_tables
            if table.name != "privacy_audit"
        }


def _run(database_url: str, tracker_url: str, **options: Any) -> retention.RetentionReport:
    return retention.run(database_url, tracker_url, DAYS, NOW, **options)


def _by_store(report: retention.RetentionReport) -> dict[str, retention.StoreResult]:
    return {result.store: result for result in report.stores}


EXPECTED_DUE = {
    "transcripts": 1,
    "closed_complaints": 1,
    "outbox": 2,
    "fulfilment_deliveries": 1,
    "telegram_updates": 2,
    "desk_events": 1,
    "verification_codes": 1,
    "tracker_events": 1,
}


def test_a_dry_run_counts_and_changes_nothing(database_url: str, tracker_url: str) -> None:
    _seed(database_url)
    _seed_tracker(tracker_url)
    before = _snapshot(database_url)

    report = _run(database_url, tracker_url, dry_run=True)

    assert {s: r.due for s, r in _by_store(report).items()} == EXPECTED_DUE
    assert all(r.done == 0 and r.rows == 0 for r in report.stores)
    assert _snapshot(database_url) == before
    assert len(_tracker_senders(tracker_url)) == 4
    with unit_of_work(database_url) as session:
        assert session.scalar(select(PrivacyAudit.id)) is None
    assert "dry run, nothing changed" in report.text()
    assert "transcripts            1 conversation past 365 days, to be anonymised" in report.text()


def test_a_run_removes_only_what_is_past_its_time(database_url: str, tracker_url: str) -> None:
    _seed(database_url)
    _seed_tracker(tracker_url)

    report = _run(database_url, tracker_url, performed_by="test")

    stores = _by_store(report)
    assert {s: r.done for s, r in stores.items()} == EXPECTED_DUE
    assert stores["transcripts"].rows == 3  # messages
    assert stores["tracker_events"].rows == 2  # events
    with unit_of_work(database_url) as session:
        old = session.scalars(
            select(Message)
            .where(Message.conversation_id == "old-conversation")
            .order_by(Message.id)
        ).all()
        # Who wrote and when stay; the words, buttons and anything quoted go.
        assert [m.role for m in old] == ["customer", "bot", "agent"]
        assert {m.text for m in old} == {retention.REMOVED}
        assert [m.buttons for m in old] == [None, None, None]
        assert [m.details for m in old] == [
            None,
            {"asks": "offer", "slow": True},
            {"author": "Sam", "agent_id": "U1"},
        ]
        assert [m.created_at for m in old] == [OLD + timedelta(seconds=i) for i in range(3)]
        events = session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == "old-conversation")
            .order_by(ConversationEvent.id)
        ).all()
        assert [(e.kind, e.detail) for e in events] == [
            ("misunderstood", {"confidence": 0.2}),
            ("rated", {"rating": 4}),
        ]
        new = session.scalars(select(Message).where(Message.conversation_id == "new-conversation"))
        assert all("jo@example.com" in m.text or "Jo" in m.text for m in new)

        complaints = {c.reference: c for c in session.scalars(select(Complaint))}
        closed = complaints["RD-OLD001"]
        assert closed.summary == retention.REMOVED
        assert closed.facts == {"logged": True, "reply_due": (OLD + timedelta(hours=8)).isoformat()}
        assert (closed.category, closed.severity, closed.status) == (
            "no_service",
            "high",
            "resolved",
        )
        assert closed.updated_at == OLD  # still says when it was resolved
        assert complaints["RD-OLD002"].summary.startswith("my broadband")  # still open
        assert complaints["RD-NEW001"].facts["postcode"] == "LS6 1AA"  # resolved recently

        # The ledger keeps every amount and reference.
        grants = session.execute(
            select(CompensationGrant.reference, CompensationGrant.amount_pence).order_by(
                CompensationGrant.id
            )
        ).all()
        assert grants == [("CR-OLD001", 900), ("CR-FAIL01", 900), ("CR-NEW001", 500)]
        offers = session.scalars(select(CompensationOffer.amount_pence)).all()
        assert sorted(offers) == [500, 900, 900]

        assert session.scalars(
            select(FulfilmentDelivery.status).order_by(FulfilmentDelivery.id)
        ).all() == ["failed", "sent"]
        assert session.scalars(
            select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)
        ).all() == [
            "old-pending",
            "new-sent",
        ]
        assert session.scalars(select(TelegramUpdate.update_id)).all() == [3]
        assert session.scalars(select(DeskEvent.event_id)).all() == ["Ev-new"]
        assert session.scalars(select(VerificationCode.conversation_id)).all() == [
            "new-conversation"
        ]

        audit = session.scalars(select(PrivacyAudit)).one()
        assert (audit.action, audit.performed_by, audit.dry_run) == ("retention", "test", False)
        assert audit.performed_at == NOW
        assert audit.counts["transcripts"] == 3
        assert audit.counts["transcripts_conversations"] == 1
        assert audit.counts["outbox"] == 2
        assert audit.counts["tracker_events"] == 2
        assert report.audit_id == audit.id
    assert _tracker_senders(tracker_url) == ["still-talking", "still-talking"]


def test_a_second_run_changes_nothing_more(database_url: str, tracker_url: str) -> None:
    _seed(database_url)
    _seed_tracker(tracker_url)
    _run(database_url, tracker_url)
    after_first = _snapshot(database_url)

    again = _run(database_url, tracker_url)

    assert all(r.due == 0 and r.done == 0 and r.rows == 0 for r in again.stores)
    assert _snapshot(database_url) == after_first
    assert _tracker_senders(tracker_url) == ["still-talking", "still-talking"]
    with unit_of_work(database_url) as session:
        audits = session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id)).all()
        assert len(audits) == 2  # every real run is recorded, even one with nothing to do
        assert set(audits[1].counts.values()) == {0}
    assert _run(database_url, tracker_url, dry_run=True).changed() == 0


def test_each_run_does_at_most_a_batch_per_store(database_url: str, tracker_url: str) -> None:
    with unit_of_work(database_url) as session:
        for n in range(5):
            _conversation(session, f"old-{n}", OLD, f"complaint {n}")
            session.add(DeskEvent(event_id=f"Ev-old-{n}", received_at=OLD))
        session.flush()
        for n in range(5):
            _outbox(session, f"old-{n}", OLD, "sent", f"old-sent-{n}")
        _outbox(session, "old-0", NEW, "sent", "newest")
    engine = _tracker_engine(tracker_url)
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(), [_tracker_event(f"old-{n}", OLD, "hello") for n in range(5)]
        )
    engine.dispose()

    done = []
    for _ in range(4):
        report = _by_store(_run(database_url, tracker_url, batch=2))
        done.append(
            {
                s: (r.done, r.left)
                for s, r in report.items()
                if s in {"transcripts", "outbox", "desk_events", "tracker_events"}
            }
        )

    expected = [(2, 3), (2, 1), (1, 0), (0, 0)]
    for store in ("transcripts", "outbox", "desk_events", "tracker_events"):
        assert [run[store] for run in done] == expected, store
    with unit_of_work(database_url) as session:
        assert session.scalars(select(OutboxMessage.dedupe_key)).all() == ["newest"]
        assert session.scalar(select(Message.id).where(Message.text != retention.REMOVED)) is None
    assert _tracker_senders(tracker_url) == []


def test_the_report_reads_as_what_was_done(database_url: str, tracker_url: str) -> None:
    _seed(database_url)
    report = _run(database_url, tracker_url, batch=1)
    written = report.text()
    assert "Retention 2026-12-07 03:00Z (done):" in written
    assert "outbox                 1 row deleted; 1 more next run" in written
    assert "transcripts            1 conversation anonymised (3 messages)" in written
    assert "tracker_events         nothing past 30 days" in written
    assert "desk_events            1 row deleted\n" in written
    again = _run(database_url, tracker_url, batch=1).text()
    assert "transcripts            nothing past 365 days" in again


def test_without_a_tracker_store_the_records_are_still_done(
    database_url: str, tmp_path: Path
) -> None:
    _seed(database_url)
    missing = f"sqlite:///{tmp_path / 'never-made.db'}"
    report = _by_store(_run(database_url, missing))
    assert report["tracker_events"].note == "no tracker store yet"
    assert report["transcripts"].done == 1
    assert not (tmp_path / "never-made.db").exists()  # Rasa makes it; never made here


def test_the_gateway_runs_retention_on_its_schedule(
    sqlite_url: str, business: Business, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    settings = replace(Settings.from_env({}), database_url=sqlite_url, tracker_url=tracker)
    assert Scheduler.RETENTION in build_services(settings, business).scheduler.job_ids()
    off = replace(settings, retention_check_seconds=0)
    assert Scheduler.RETENTION not in build_services(off, business).scheduler.job_ids()

    _seed(sqlite_url)
    job = RetentionJob(sqlite_url, tracker, DAYS, clock=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="redress.gateway.retention"):
        report = asyncio.run(job.run())
    assert _by_store(report)["transcripts"].done == 1
    assert "1 conversation anonymised" in caplog.text
    with unit_of_work(sqlite_url) as session:
        assert session.scalars(select(PrivacyAudit.performed_by)).all() == ["gateway"]


def test_one_run_at_a_time_on_postgresql(postgres_url: str) -> None:
    _seed(postgres_url)
    with unit_of_work(postgres_url) as other_gateway:
        other_gateway.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": retention._LOCK_KEY}
        )
        report = retention.run(postgres_url, None, DAYS, NOW)
        assert report.skipped
        assert "another run is in progress" in report.text()
    assert _by_store(retention.run(postgres_url, None, DAYS, NOW))["transcripts"].done == 1
    with unit_of_work(postgres_url) as session:
        assert len(session.scalars(select(PrivacyAudit)).all()) == 1


def test_a_summary_erased_at_the_customers_request_stays_so(database_url: str) -> None:
    _seed(database_url)
    with unit_of_work(database_url) as session:
        erased = session.scalar(select(Complaint).where(Complaint.reference == "RD-OLD001"))
        assert erased is not None
        erased.summary, erased.facts = ERASED, {}
    report = _by_store(retention.run(database_url, None, DAYS, NOW))
    assert report["closed_complaints"].due == 0
    with unit_of_work(database_url) as session:
        summary = session.scalar(
            select(Complaint.summary).where(Complaint.reference == "RD-OLD001")
        )
        assert summary == ERASED
