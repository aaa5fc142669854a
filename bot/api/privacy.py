"""Erasure and export of a customer's personal data, for operators, behind the admin token:

POST /api/privacy/erasures  {"account_number": "BL-100001" | "conversation_id": "…",
                             "request_reference": "DR-…", "by": "<name>"}
GET  /api/privacy/export?account_number=BL-100001 | conversation_id=…[&request_reference=DR-…]

An erasure removes the customer from every store (redress/privacy/erasure.py) and answers
with the counts per store, the audit row's id, and what is left for a person (a Slack message
only a workspace admin may delete, a store that could not be reached). The export is the JSON
document redress/privacy/export.py builds. Both write a privacy audit row without personal
data. Bad input is a 400, an unknown account, conversation or request a 404; a store that
could not be reached a 503 with nothing changed in the records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.api._http import BadInput, admin_only, bounded_body, error, json_object
from redress.clock import utcnow
from redress.privacy.erasure import Erasure, erase
from redress.privacy.export import ExportRequest, export
from redress.privacy.outside import OutsideUnavailable, stores_for
from redress.privacy.subject import SubjectError, UnknownSubject

MAX_BODY_BYTES = 4 * 1024
ERASURE_FIELDS = ("account_number", "conversation_id", "request_reference", "by")
EXPORT_FIELDS = ("account_number", "conversation_id", "request_reference", "by")
DEFAULT_BY = "admin API"


def _strings(given: dict[str, Any], fields: tuple[str, ...]) -> dict[str, str | None]:
    if unknown := sorted(set(given) - set(fields)):
        raise BadInput(
            400, "unknown_field", f"{unknown[0]} is not a field here; send {', '.join(fields)}."
        )
    found: dict[str, str | None] = {}
    for name in fields:
        value = given.get(name)
        if value is not None and not isinstance(value, str):
            raise BadInput(400, f"invalid_{name}", f"{name} must be a string.")
        found[name] = value
    return found


@admin_only
async def erase_customer(request: Request) -> Response:
    body = json_object(
        await bounded_body(request, MAX_BODY_BYTES),
        '{"account_number" or "conversation_id", "request_reference", "by"}',
    )
    fields = _strings(body, ERASURE_FIELDS)
    asked = Erasure(
        account_number=fields["account_number"],
        conversation_id=fields["conversation_id"],
        request_reference=fields["request_reference"],
        performed_by=DEFAULT_BY if fields["by"] is None else fields["by"],
    )
    settings = request.app.state.settings

    def work() -> dict[str, Any]:
        stores = stores_for(settings)
        try:
            return erase(
                settings.database_url, settings.tracker_url, asked, stores, utcnow()
            ).json()
        finally:
            stores.close()

    return await _run(work)


@admin_only
async def export_customer(request: Request) -> Response:
    given = dict(request.query_params)
    fields = _strings(given, EXPORT_FIELDS)
    asked = ExportRequest(
        account_number=fields["account_number"],
        conversation_id=fields["conversation_id"],
        request_reference=fields["request_reference"],
        performed_by=DEFAULT_BY if fields["by"] is None else fields["by"],
    )
    settings = request.app.state.settings

    def work() -> dict[str, Any]:
        stores = stores_for(settings)
        try:
            return export(settings.database_url, settings.tracker_url, asked, stores, utcnow())
        finally:
            stores.close()

    return await _run(work)


async def _run(work: Callable[[], dict[str, Any]]) -> Response:
    """Runs the erasure or export off the event loop (it waits on Slack, Redis and two
    databases), mapping refusals to the API's JSON errors."""
    try:
        result = await run_in_threadpool(work)
    except UnknownSubject as unknown:
        return error(404, unknown.code, unknown.message)
    except SubjectError as bad:
        return error(400, bad.code, bad.message)
    except OutsideUnavailable as down:
        return error(503, "store_unavailable", str(down), retry_after=30)
    return Response(
        json.dumps(result, ensure_ascii=False, default=str),
        media_type="application/json",
    )
