"""``python -m redress privacy requests``: the open data requests customers made in the
conversation, the soonest due first, with what operators need to act on each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from redress.__main__ import main
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Customer
from redress.db.session import unit_of_work
from redress.privacy import requests


def test_open_requests_are_listed_soonest_due_first(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    now = utcnow()
    with unit_of_work(database_url) as session:
        chat = conversations.start_conversation(session, "web")
        customer = session.scalar(select(Customer).where(Customer.account_number == "BL-100002"))
        assert customer is not None
        later = requests.record_request(
            session, kind=requests.ACCESS, conversation_id=chat.id, customer_id=customer.id,
            verified=True, now=now, zone="Europe/London",
        )  # fmt: skip
        overdue = requests.record_request(
            session, kind=requests.ERASURE, conversation_id=chat.id, customer_id=None,
            verified=False, now=now - timedelta(days=40), zone="Europe/London",
        )  # fmt: skip
        done = requests.record_request(
            session, kind=requests.STOP_MESSAGES, conversation_id=chat.id, customer_id=None,
            verified=False, now=now, zone="Europe/London",
        )  # fmt: skip
        done.status = requests.DONE
        references = (later.reference, overdue.reference, done.reference)

    assert main(["privacy", "requests"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [references[1], references[0]]
    assert "erasure" in lines[0] and "OVERDUE" in lines[0] and "NOT verified" in lines[0]
    assert "no account" in lines[0]
    assert "access" in lines[1] and "BL-100002" in lines[1] and "OVERDUE" not in lines[1]
    assert chat.id in lines[1]

    assert main(["privacy", "requests", "--all"]) == 0
    assert references[2] in capsys.readouterr().out


def test_a_request_is_closed_once_with_a_note_and_who_closed_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    with unit_of_work(database_url) as session:
        chat = conversations.start_conversation(session, "web")
        stop = requests.record_request(
            session, kind=requests.STOP_MESSAGES, conversation_id=chat.id, customer_id=None,
            verified=False, now=utcnow(), zone="Europe/London",
        )  # fmt: skip
        reference = stop.reference
    close = ["privacy", "close", reference, "--outcome", "done", "--by", "Priya"]
    assert main([*close, "--note", "marketing texts stopped in the CRM"]) == 0
    assert f"Data request {reference} (stop_messages) is done." in capsys.readouterr().out
    with unit_of_work(database_url) as session:
        row = requests.all_requests(session)[0]
        assert (row.status, row.completed_by, row.note) == (
            "done",
            "Priya",
            "marketing texts stopped in the CRM",
        )
    # Closed once: a second close, an unknown reference or no note changes nothing.
    assert main([*close, "--note", "again"]) == 2
    assert main(["privacy", "close", "DR-NOSUCH", "--outcome", "refused", "--note", "x"]) == 2
    assert main([*close, "--note", "  "]) == 2
    with unit_of_work(database_url) as session:
        assert requests.all_requests(session)[0].note == "marketing texts stopped in the CRM"
