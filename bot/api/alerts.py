"""The operator alerts API, for every operator role (agent and up):

GET /api/alerts[?status=open|all] (newest first), POST /api/alerts/{id}/acknowledge.

Acknowledging is an agent's job (it says "someone has seen this", and changes nothing for
customers), so an agent's token may do it; the first acknowledgement is written to the audit
log with who made it, and acknowledging again keeps the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api._http import actor, error, in_transaction, requires, row_id
from redress import alerts, audit
from redress.clock import utcnow


@requires(audit.AGENT)
async def list_alerts(request: Request) -> Response:
    which = request.query_params.get("status", "open")
    if which not in {"open", "all"}:
        return error(400, "invalid_status", "status must be open or all.")

    def work(session: Session) -> dict[str, Any]:
        rows = alerts.list_alerts(session, open_only=which == "open")
        return {"alerts": [alerts.alert_json(row) for row in rows]}

    return await _run(request, work)


@requires(audit.AGENT)
async def acknowledge_alert(request: Request) -> Response:
    alert_id = row_id(request.path_params["alert_id"])
    if alert_id is None:
        return _unknown()
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        now = utcnow()
        alert, first = alerts.acknowledge_once(session, alert_id, now, by=who.label)
        if first:
            audit.record(session, who, "alert_acknowledge", "alert", str(alert.id), now)
        return alerts.alert_json(alert)

    return await _run(request, work)


def _unknown() -> Response:
    return error(404, "unknown_alert", "There is no alert with that id.")


async def _run(request: Request, work: Callable[[Session], dict[str, Any]]) -> Response:
    """Runs ``work`` in one transaction off the event loop, mapping refusals to JSON errors."""
    try:
        result = await in_transaction(request, work)
    except alerts.UnknownAlert:
        return _unknown()
    return JSONResponse(result)
