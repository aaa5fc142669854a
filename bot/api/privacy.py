"""Erasure and export of a customer's personal data, for operators with the admin role:

POST /api/privacy/erasures  {"account_number": "BL-100001" | "conversation_id": "…",
                             "request_reference": "DR-…", "by": "<name>"}
GET  /api/privacy/export?account_number=BL-100001 | conversation_id=…[&request_reference=DR-…]

An erasure removes the customer from every store (redress/privacy/erasure.py) and answers
with the counts per store, the audit row's id, and what is left for a person (a Slack message
only a workspace admin may delete, a store that could not be reached). The export is the JSON
document redress/privacy/export.py builds. Both write a privacy audit row without personal
data, and an audit log entry naming who did it, in the same transaction. ``by`` is who is
asking: left out, "admin API" for the admin token, the token's name for an operator's token.
Bad input is a 400, an unknown account, conversation or request a 404; a store that
could not be reached a 503 with nothing changed in the records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.api._http import BadInput, actor, bounded_body, error, json_object, requires
from redress import audit
from redress.clock import utcnow
from redress.privacy.erasure import Erasure, erase
from redress.privacy.export import ExportRequest, export
from redress.privacy.outside import OutsideStores, OutsideUnavailable, stores_for
from redress.privacy.subject import SubjectError, UnknownSubject
from redress.settings import Settings

MAX_BODY_BYTES = 4 * 1024
# The same selectors for both: whose data, the request it answers, and who is asking.
FIELDS = ("account_number", "conversation_id", "request_reference", "by")
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


def _selection(
    given: dict[str, Any], who: audit.Actor
) -> tuple[str | None, str | None, str | None, str]:
    """(account number, conversation id, request reference, performed by) from a request."""
    fields = _strings(given, FIELDS)
    default = who.label if who.via == audit.OPERATOR_TOKEN else DEFAULT_BY
    by = default if fields["by"] is None else fields["by"]
    return fields["account_number"], fields["conversation_id"], fields["request_reference"], by


@requires(audit.ADMIN)
async def erase_customer(request: Request) -> Response:
    body = json_object(
        await bounded_body(request, MAX_BODY_BYTES),
        '{"account_number" or "conversation_id", "request_reference", "by"}',
    )
    who = actor(request)
    asked = Erasure(*_selection(body, who), actor=who)
    settings = request.app.state.settings
    return await _run(
        settings,
        lambda stores: erase(
            settings.database_url, settings.tracker_url, asked, stores, utcnow()
        ).json(),
    )


@requires(audit.ADMIN)
async def export_customer(request: Request) -> Response:
    who = actor(request)
    asked = ExportRequest(*_selection(dict(request.query_params), who), actor=who)
    settings = request.app.state.settings
    return await _run(
        settings,
        lambda stores: export(settings.database_url, settings.tracker_url, asked, stores, utcnow()),
    )


async def _run(settings: Settings, work: Callable[[OutsideStores], dict[str, Any]]) -> Response:
    """Runs the erasure or export with the stores outside the records, off the event loop
    (it waits on Slack, Redis and two databases), mapping refusals to the API's JSON errors."""

    def with_stores() -> dict[str, Any]:
        stores = stores_for(settings)
        try:
            return work(stores)
        finally:
            stores.close()

    try:
        result = await run_in_threadpool(with_stores)
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
