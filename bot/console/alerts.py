"""Alerts in the console: the open ones (what, when, for which team), acknowledging one as
the API does (audited, the first acknowledgement stands) and the recently acknowledged.
A possible-incident alert offers admins "Make this an incident" (bot/console/incidents.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.console.web import Refused, actor, db, page, redirect, render
from redress import alerts, audit
from redress.business import Business
from redress.clock import utcnow
from redress.complaints.categories import Category
from redress.db.models import Incident, OperatorAlert
from redress.incidents import promote

RECENT = 20
# What each kind of alert is about, in plain words.
KINDS = {
    "possible_incident": "Possible incident",
    "promise_missed": "Incident update late",
    "delivery_failed": "Message not delivered",
    "agent_desk": "Agent desk not working",
    "fulfilment_failed": "Compensation not sent",
    "promise_due_soon": "Promise due soon",
    "case_promise_missed": "Promise missed",
    "case_reopened": "Case reopened",
    "low_rating": "Low rating",
}
INCIDENT_TEAM = "Incident owners (admins)"
EVERYONE = "Everyone"


def team_of(alert: OperatorAlert, business: Business, incident_categories: list[Any]) -> str:
    """Whose alert it is: the team a case alert names, the team owning the category of a
    possible incident or of the alert's incident; otherwise everyone's."""
    detail = alert.detail or {}
    if detail.get("team"):
        return business.team(str(detail["team"])).name
    category = detail.get("category") or (incident_categories[0] if incident_categories else None)
    if category:
        try:
            return business.team(business.team_key_for(Category(category))).name
        except ValueError:
            pass
    return INCIDENT_TEAM if alert.incident_id else EVERYONE


@page(audit.AGENT)
async def alerts_page(request: Request) -> Response:
    business = request.app.state.business

    def work(session: Session) -> dict[str, Any]:
        open_rows = alerts.list_alerts(session, open_only=True)
        recent = list(
            session.scalars(
                select(OperatorAlert)
                .where(OperatorAlert.acknowledged_at.is_not(None))
                .order_by(OperatorAlert.acknowledged_at.desc(), OperatorAlert.id.desc())
                .limit(RECENT)
            )
        )
        ids = {a.incident_id for a in [*open_rows, *recent] if a.incident_id}
        categories = {
            row.id: row.categories
            for row in session.scalars(select(Incident).where(Incident.id.in_(ids)))
        }

        def shown(alert: OperatorAlert) -> dict[str, Any]:
            return {
                "alert": alert,
                "kind": KINDS.get(alert.kind, alert.kind.replace("_", " ").capitalize()),
                "team": team_of(alert, business, categories.get(alert.incident_id or "", [])),
                "cluster": promote.cluster_of(alert),
            }

        return {"open": [shown(a) for a in open_rows], "recent": [shown(a) for a in recent]}

    found = await db(request, work)
    return render(request, "alerts/list.html", section="alerts", **found)


@page(audit.AGENT)
async def acknowledge(request: Request) -> Response:
    raw = request.path_params["alert_id"]
    if not raw.isdigit():
        raise Refused("There is no alert with that id.", 404)
    who = actor(request)

    def work(session: Session) -> bool:
        now = utcnow()
        alert, first = alerts.acknowledge_once(session, int(raw), now, by=who.label)
        if first:
            audit.record(session, who, "alert_acknowledge", "alert", str(alert.id), now)
        return first

    try:
        first = await db(request, work)
    except alerts.UnknownAlert:
        raise Refused("There is no alert with that id.", 404) from None
    return redirect(
        "/console/alerts",
        "Alert acknowledged." if first else "Someone had acknowledged it already.",
    )
