"""Incidents in the database, on SQLite and PostgreSQL: create, update, resolve, history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from redress.business import Business
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.conversations import views as record_views
from redress.db.models import Complaint
from redress.db.session import unit_of_work
from redress.incidents import records as incidents_records
from redress.incidents.model import Change, IncidentClosed, incident_from_mapping
from redress.settings import REPO_ROOT
from tests.unit.incidents.test_incidents import REGIONS, data

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
DEMO = REPO_ROOT / "business" / "incidents.yml"


def test_create_update_resolve_keeps_every_change(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        incidents_records.create_incident(session, incident_from_mapping(data(), NOW, REGIONS), NOW)
    with unit_of_work(database_url) as session:
        change = Change(status="monitoring", next_update_by=NOW + timedelta(hours=2))
        incidents_records.update_incident(session, "inc-ls6-fibre", change, NOW)
    with unit_of_work(database_url) as session:
        assert [i.id for i in incidents_records.list_incidents(session)] == ["INC-LS6-FIBRE"]
        incidents_records.resolve_incident(session, "INC-LS6-FIBRE", "All lines are back.", NOW)
    with unit_of_work(database_url) as session:
        assert incidents_records.list_incidents(session) == []
        assert len(incidents_records.list_incidents(session, active_only=False)) == 1
        record = incidents_records.incident_with_history(session, "INC-LS6-FIBRE")
    assert record["status"] == "resolved"
    assert record["end"] == NOW.isoformat()
    assert record["start"] == "2026-11-20T07:30:00+00:00"
    assert [(u["status"], u["note"]) for u in record["history"]] == [
        ("identified", "Incident opened"),
        ("monitoring", "status identified → monitoring; next_update_by changed"),
        ("resolved", "All lines are back."),
    ]
    assert record["history"][1]["next_update_by"] == (NOW + timedelta(hours=2)).isoformat()


def test_refusals_write_nothing(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        incidents_records.create_incident(session, incident_from_mapping(data(), NOW, REGIONS), NOW)
    with pytest.raises(incidents_records.IncidentExists), unit_of_work(database_url) as session:
        incidents_records.create_incident(session, incident_from_mapping(data(), NOW, REGIONS), NOW)
    with pytest.raises(incidents_records.UnknownIncident), unit_of_work(database_url) as session:
        incidents_records.update_incident(session, "INC-NOPE", Change(status="monitoring"), NOW)
    with unit_of_work(database_url) as session:
        incidents_records.resolve_incident(session, "INC-LS6-FIBRE", "Fixed.", NOW)
    with pytest.raises(IncidentClosed), unit_of_work(database_url) as session:
        incidents_records.update_incident(session, "INC-LS6-FIBRE", Change(why="Oh no."), NOW)
    with unit_of_work(database_url) as session:
        history = incidents_records.incident_with_history(session, "INC-LS6-FIBRE")["history"]
    assert len(history) == 2


def test_loading_the_demo_file_twice_changes_nothing(database_url: str, business: Business) -> None:
    loaded = incidents_records.read_incidents_file(DEMO, NOW, business.regions)
    assert {i.id for i in loaded} == {"INC-LS6-FIBRE", "INC-BILL-1NOV", "INC-MCR-INSTALLS"}
    with unit_of_work(database_url) as session:
        assert incidents_records.load_incidents(session, loaded, NOW) == (3, 0)
    later = NOW + timedelta(minutes=10)
    again = incidents_records.read_incidents_file(DEMO, later, business.regions)
    with unit_of_work(database_url) as session:
        assert incidents_records.load_incidents(session, again, later) == (0, 0)
    # Once a promised time has passed, loading moves it on so the demo stays live.
    next_day = NOW + timedelta(days=3)
    fresh = incidents_records.read_incidents_file(DEMO, next_day, business.regions)
    with unit_of_work(database_url) as session:
        assert incidents_records.load_incidents(session, fresh, next_day) == (0, 3)
        active = incidents_records.active_incidents(session)
    assert all(i.next_update_by and i.next_update_by > next_day for i in active)


def test_a_complaint_record_shows_its_incident(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        incidents_records.create_incident(session, incident_from_mapping(data(), NOW, REGIONS), NOW)
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="outage",
            severity="high",
            severity_reasons=[],
            summary="no internet",
            facts={},
        )
        session.get(Complaint, complaint.id).incident_id = "INC-LS6-FIBRE"
        conversation_id = conversation.id
    with unit_of_work(database_url) as session:
        record = record_views.conversation_record(session, conversation_id)
    assert record is not None
    assert record["complaints"][0]["incident"] == "INC-LS6-FIBRE"
