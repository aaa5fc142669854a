"""The operator alerts API, behind the admin token:

GET /api/alerts[?status=open|all] (newest first), POST /api/alerts/{id}/acknowledge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api._http import admin_only, error, in_transaction, row_id
from redress import alerts
from redress.clock import utcnow


@admin_only
async def list_alerts(request: Request) -> Response:
    which = request.query_params.get("status", "open")
    if which not in {"open", "all"}:
        return error(400, "invalid_status", "status must be open or all.")

    def work(session: Session) -> dict[str, Any]:
        rows = alerts.list_alerts(session, open_only=which == "open")
        return {"alerts": [alerts.alert_json(row) for row in rows]}

    return await _run(request, work)


@admin_only
async def acknowledge_alert(request: Request) -> Response:
    alert_id = row_id(request.path_params["alert_id"])
    if alert_id is None:
        return _unknown()

    def work(session: Session) -> dict[str, Any]:
        return alerts.alert_json(alerts.acknowledge(session, alert_id, utcnow()))

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
