"""The audit log API, for administrators:

GET /api/audit[?subject=OF-7KQ2MZ][&action=approve][&limit=100]

The latest operator actions, newest first: who (and how they were known), what, on which
record, when, and the detail kept with it. Each entry was written in the same transaction as
its action."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api._http import BadInput, in_transaction, requires
from redress import audit

MAX_LIMIT = 1000
FILTERS = ("subject", "action", "limit")


@requires(audit.ADMIN)
async def list_entries(request: Request) -> Response:
    params = request.query_params
    if unknown := sorted(set(params) - set(FILTERS)):
        raise BadInput(
            400,
            "unknown_parameter",
            f"{unknown[0]} is not a filter here; use {', '.join(FILTERS)}.",
        )
    raw = params.get("limit", "100")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadInput(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    limit = int(raw)
    subject = _text(params.get("subject"), "subject", 80)
    action = _text(params.get("action"), "action", 40)

    def work(session: Session) -> dict[str, Any]:
        rows = audit.entries(session, subject=subject, action=action, limit=limit)
        return {"entries": [audit.entry_json(row) for row in rows]}

    return JSONResponse(await in_transaction(request, work))


def _text(value: str | None, name: str, max_chars: int) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > max_chars or "\x00" in value:
        raise BadInput(400, f"invalid_{name}", f"{name} must be 1 to {max_chars} characters.")
    return value.strip()
