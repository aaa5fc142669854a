"""The console's alerts: an agent sees the open ones (what, when, for which team) and
acknowledges one as the API does (audited once, the first time stands), after which it is
among the recently acknowledged; only admins are offered to make an incident of one."""

from __future__ import annotations

from sqlalchemy import select

from redress.business import Business
from redress.clock import utcnow
from redress.complaints.categories import Category
from redress.db.models import AuditEntry, OperatorAlert
from redress.db.session import unit_of_work
from redress.incidents.notices import raise_alert
from tests.integration.console.signing_in import add_operator, console_client, post_form, sign_in


def _raise(database_url: str) -> tuple[int, int]:
    """A possible incident (billing, LS6) and a message that could not be delivered."""
    now = utcnow()
    with unit_of_work(database_url) as session:
        raise_alert(
            session,
            kind="possible_incident",
            dedupe_key="possible_incident:billing:LS6:test",
            summary="Possible incident: 3 billing complaints from LS6 in the last 60 minutes.",
            detail={
                "category": "billing",
                "district": "LS6",
                "complaints": ["C-1", "C-2", "C-3"],
                "window_minutes": 60,
            },
            now=now,
        )
        raise_alert(
            session,
            kind="delivery_failed",
            dedupe_key="delivery_failed:test",
            summary="A message to a customer could not be delivered after 8 tries.",
            detail={"outbox": 1},
            now=now,
        )
        ids = session.scalars(select(OperatorAlert.id).order_by(OperatorAlert.id)).all()
        return ids[0], ids[1]


def _team(business: Business, category: str) -> str:
    return business.team(business.team_key_for(Category(category))).name


def test_an_agent_sees_open_alerts_and_acknowledges_one(
    database_url: str, business: Business
) -> None:
    possible_id, delivery_id = _raise(database_url)
    add_operator(database_url, "sam", "agent", name="Sam Agent")
    with console_client(database_url, business) as client:
        sign_in(client, "sam")
        page = client.get("/console/alerts")
        assert page.status_code == 200
        assert "Possible incident" in page.text and "Message not delivered" in page.text
        assert "3 billing complaints from LS6" in page.text
        assert f"for {_team(business, 'billing')}" in page.text
        assert "Make this an incident" not in page.text  # admins only
        assert "No alert has been acknowledged yet." in page.text

        done = post_form(client, f"/console/alerts/{delivery_id}/acknowledge", {}, page.text)
        assert done.status_code == 303 and done.headers["location"] == "/console/alerts"
        after = client.get("/console/alerts")
        assert "Alert acknowledged." in after.text
        open_part, recent_part = after.text.split('id="recent"')
        assert "Message not delivered" not in open_part
        assert "Message not delivered" in recent_part and "by Sam Agent (console)" in recent_part
        assert "Possible incident" in open_part

        again = post_form(client, f"/console/alerts/{delivery_id}/acknowledge", {}, after.text)
        assert again.status_code == 303
        assert "acknowledged it already" in client.get("/console/alerts").text

        unknown = post_form(client, "/console/alerts/999999/acknowledge", {}, after.text)
        assert unknown.status_code == 404 and "There is no alert with that id." in unknown.text

    with unit_of_work(database_url) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert_acknowledge")
        ).all()
        who = [(e.subject, e.actor) for e in entries]
        assert who == [(str(delivery_id), "Sam Agent (console)")]
        possible = session.get(OperatorAlert, possible_id)
        assert possible is not None and possible.acknowledged_at is None


def test_an_admin_is_offered_to_make_an_incident_of_a_possible_one(
    database_url: str, business: Business
) -> None:
    possible_id, delivery_id = _raise(database_url)
    add_operator(database_url, "ada", "admin")
    with console_client(database_url, business) as client:
        sign_in(client, "ada")
        page = client.get("/console/alerts")
        assert f'href="/console/incidents/new?from_alert={possible_id}"' in page.text
        assert f"from_alert={delivery_id}" not in page.text
        not_a_cluster = client.get(f"/console/incidents/new?from_alert={delivery_id}")
        assert not_a_cluster.status_code == 404
        assert "no possible-incident alert with that id" in not_a_cluster.text
