"""Customers' personal-data requests, for administrators: ``/console/privacy``.

The open requests (erase, access, stop messaging), the soonest due first, and the latest
done; a customer's data downloaded as the JSON document the export API gives; and a
customer's data erased from every store. Both go through the same functions as the privacy
API and the command line (``redress.privacy.export`` and ``redress.privacy.erasure``), which
write the privacy audit row and the audit log entry naming who did it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.console.web import Refused, actor, db, form, page, render
from redress import audit
from redress.clock import utcnow
from redress.privacy import requests as data_requests
from redress.privacy.erasure import Erasure, erase
from redress.privacy.export import ExportRequest, export
from redress.privacy.outside import OutsideStores, OutsideUnavailable, stores_for
from redress.privacy.subject import SubjectError, UnknownSubject
from redress.settings import Settings

HERE = "/console/privacy"
RECENT = 20
CONFIRM = "ERASE"


@page(audit.ADMIN)
async def privacy_page(request: Request) -> Response:
    return await _page(request)


async def _page(request: Request, **shown: Any) -> Response:
    def load(session: Session) -> dict[str, Any]:
        done = [r for r in data_requests.all_requests(session) if r.status != "open"]
        return {
            "open": [data_requests.request_json(r) for r in data_requests.open_requests(session)],
            "done": [data_requests.request_json(r) for r in done[:RECENT]],
        }

    found = await db(request, load)
    return render(
        request, "privacy/index.html", shown.pop("status", 200), section="privacy", **found, **shown
    )


def _selection(fields: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    account = fields.get("account_number", "").strip() or None
    conversation = fields.get("conversation_id", "").strip() or None
    reference = fields.get("request_reference", "").strip() or None
    if (account is None) == (conversation is None):
        raise Refused("Give either the customer's account number or a conversation id, not both.")
    return account, conversation, reference


@page(audit.ADMIN)
async def export_customer(request: Request) -> Response:
    """The customer's data as a JSON download (the same document as the export API)."""
    fields = {key: request.query_params.get(key, "") for key in _FIELDS}
    account, conversation, reference = _selection(fields)
    who = actor(request)
    asked = ExportRequest(account, conversation, reference, who.label, actor=who)
    settings: Settings = request.app.state.settings
    document = await _run(
        settings,
        lambda stores: export(settings.database_url, settings.tracker_url, asked, stores, utcnow()),
    )
    name = (account or conversation or "customer").replace('"', "")
    return Response(
        json.dumps(document, ensure_ascii=False, default=str, indent=2),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="redress-data-{name}.json"',
            "cache-control": "no-store",
        },
    )


_FIELDS = ("account_number", "conversation_id", "request_reference")


@page(audit.ADMIN)
async def erase_customer(request: Request) -> Response:
    fields = await form(request)
    account, conversation, reference = _selection(fields)
    if fields.get("confirm", "").strip() != CONFIRM:
        raise Refused(f"Type {CONFIRM} in the box to confirm: an erasure cannot be undone.")
    who = actor(request)
    asked = Erasure(account, conversation, reference, who.label, actor=who)
    settings: Settings = request.app.state.settings
    result = await _run(
        settings,
        lambda stores: erase(
            settings.database_url, settings.tracker_url, asked, stores, utcnow()
        ).json(),
    )
    return await _page(request, erased=result, erased_whose=account or conversation)


async def _run(settings: Settings, work: Callable[[OutsideStores], dict[str, Any]]) -> Any:
    """The erasure or export with the stores outside the records, off the event loop, its
    refusals shown as the page's refusal."""

    def with_stores() -> dict[str, Any]:
        stores = stores_for(settings)
        try:
            return work(stores)
        finally:
            stores.close()

    try:
        return await run_in_threadpool(with_stores)
    except UnknownSubject as unknown:
        raise Refused(unknown.message, 404) from None
    except SubjectError as bad:
        raise Refused(bad.message) from None
    except OutsideUnavailable as down:
        raise Refused(f"Nothing was changed: {down}. Please try again shortly.", 503) from None
