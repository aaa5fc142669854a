"""The incidents API, for operators: reading needs the agent role, changing the admin role.

GET /api/incidents[?status=active|all], POST /api/incidents, GET /api/incidents/{id},
PATCH /api/incidents/{id}, POST /api/incidents/{id}/resolve.

Each change is written to the audit log in the same transaction, with who made it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api._http import (
    actor,
    bounded_body,
    error,
    in_transaction,
    json_object,
    requires,
)
from redress import audit
from redress.clock import utcnow
from redress.incidents import records as incidents_records
from redress.incidents.model import (
    Change,
    IncidentClosed,
    IncidentError,
    incident_from_mapping,
    parse_time,
)

MAX_BODY_BYTES = 64 * 1024
PATCH_FIELDS = {
    "status", "what_is_wrong", "why", "what_we_are_doing", "expected_fix", "next_update_by",
    "note",
}  # fmt: skip


@requires(audit.AGENT)
async def list_incidents(request: Request) -> Response:
    which = request.query_params.get("status", "active")
    if which not in {"active", "all"}:
        return error(400, "invalid_status", "status must be active or all.")

    def work(session: Session) -> dict[str, Any]:
        rows = incidents_records.list_incidents(session, active_only=which == "active")
        return {"incidents": [incidents_records.incident_json(row) for row in rows]}

    return await _run(request, work)


@requires(audit.ADMIN)
async def create_incident(request: Request) -> Response:
    regions = request.app.state.business.regions
    body = json_object(await bounded_body(request, MAX_BODY_BYTES), "an incident")
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        now = utcnow()
        incident = incident_from_mapping(body, now, regions)
        incidents_records.create_incident(session, incident, now)
        audit.record(session, who, "incident_create", "incident", incident.id, now)
        return incidents_records.incident_with_history(session, incident.id)

    return await _run(request, work, status=201)


@requires(audit.AGENT)
async def get_incident(request: Request) -> Response:
    incident_id = request.path_params["incident_id"]
    return await _run(
        request, lambda session: incidents_records.incident_with_history(session, incident_id)
    )


@requires(audit.ADMIN)
async def update_incident(request: Request) -> Response:
    incident_id = request.path_params["incident_id"]
    body = json_object(await bounded_body(request, MAX_BODY_BYTES), "fields to change")
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        now = utcnow()
        change = _change(body, now)
        row = incidents_records.update_incident(session, incident_id, change, now, _zone(request))
        audit.record(
            session,
            who,
            "incident_update",
            "incident",
            row.id,
            now,
            changed=sorted(body),
            note=row.updates[-1].note,
        )
        return incidents_records.incident_with_history(session, incident_id)

    return await _run(request, work)


@requires(audit.ADMIN)
async def resolve_incident(request: Request) -> Response:
    incident_id = request.path_params["incident_id"]
    body = json_object(await bounded_body(request, MAX_BODY_BYTES), '{"note": ...}')
    who = actor(request)

    def work(session: Session) -> dict[str, Any]:
        if set(body) - {"note"}:
            raise IncidentError(sorted(set(body) - {"note"})[0], "unknown field (send only note)")
        note = body.get("note")
        if not isinstance(note, str):
            raise IncidentError("note", "is missing; say how it was fixed")
        now = utcnow()
        row = incidents_records.resolve_incident(session, incident_id, note, now, _zone(request))
        audit.record(session, who, "incident_resolve", "incident", row.id, now, note=note[:300])
        return incidents_records.incident_with_history(session, incident_id)

    return await _run(request, work)


def _zone(request: Request) -> str:
    return str(request.app.state.business.hours.timezone)


def _change(body: dict[str, Any], now: datetime) -> Change:
    if unknown := sorted(set(body) - PATCH_FIELDS):
        raise IncidentError(
            unknown[0], f"unknown field; you can change: {', '.join(sorted(PATCH_FIELDS))}"
        )
    for name in PATCH_FIELDS - {"expected_fix"}:
        if name in body and not isinstance(body[name], str):
            raise IncidentError(name, "must be text")
    fix = body.get("expected_fix")
    fix_text = fix_at = None
    if isinstance(fix, str):
        fix_text = fix
    elif isinstance(fix, dict) and not set(fix) - {"at", "text"}:
        fix_text = fix.get("text")
        fix_at = None if fix.get("at") is None else parse_time(fix["at"], "expected_fix.at", now)
        if fix_text is not None and not isinstance(fix_text, str):
            raise IncidentError("expected_fix.text", "must be text")
    elif fix is not None:
        raise IncidentError("expected_fix", "give {at: <time or null>, text: <plain words>}")
    next_update = body.get("next_update_by")
    next_update_by = None if next_update is None else parse_time(next_update, "next_update_by", now)
    return Change(
        status=body.get("status"),
        what_is_wrong=body.get("what_is_wrong"),
        why=body.get("why"),
        what_we_are_doing=body.get("what_we_are_doing"),
        expected_fix_text=fix_text,
        expected_fix_at=fix_at,
        next_update_by=next_update_by,
        note=body.get("note"),
    )


async def _run(
    request: Request, work: Callable[[Session], dict[str, Any]], status: int = 200
) -> Response:
    """Runs ``work`` in one transaction off the event loop, mapping refusals to JSON errors."""
    try:
        result = await in_transaction(request, work)
        # Customers hear about a change now, not at the next scheduled run.
        request.app.state.scheduler.wake()
    except incidents_records.UnknownIncident:
        return error(404, "unknown_incident", "There is no incident with that id.")
    except incidents_records.IncidentExists as exists:
        return error(409, "incident_exists", f"id: {exists}.")
    except IncidentClosed as closed:
        body = {"code": "incident_resolved", "message": str(closed), "field": closed.field}
        return JSONResponse({"error": body}, status_code=409)
    except IncidentError as problem:
        body = {"code": "invalid_incident", "message": str(problem), "field": problem.field}
        return JSONResponse({"error": body}, status_code=400)
    return JSONResponse(result, status_code=status)
