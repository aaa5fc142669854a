"""The records API: GET /api/conversations/{id}, for operators, behind the admin token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.errors import error
from redress.conversations import views as record_views
from redress.db.session import unit_of_work

T = TypeVar("T")


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Runs ``work`` in one transaction off the event loop; the admin APIs map what it
    raises to their own JSON errors."""
    database_url = request.app.state.settings.database_url

    def run() -> T:
        with unit_of_work(database_url) as session:
            return work(session)

    return await run_in_threadpool(run)


def authorised(request: Request) -> Response | None:
    """None when the request carries the admin token; otherwise the 401 to send."""
    token = request.app.state.settings.admin_token
    if token is None:
        return error(
            401,
            "records_api_disabled",
            "The records API is off. Set REDRESS_ADMIN_TOKEN to use it.",
        )
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return error(401, "unauthorised", "Send the admin token as: Authorization: Bearer <token>.")
    return None


async def get_conversation(request: Request) -> Response:
    """The whole record of one conversation."""
    if (refusal := authorised(request)) is not None:
        return refusal
    conversation_id = request.path_params["conversation_id"]
    record = await run_in_threadpool(
        _record, request.app.state.settings.database_url, conversation_id
    )
    if record is None:
        return error(404, "unknown_conversation", "There is no conversation with that id.")
    return JSONResponse(record)


def _record(database_url: str, conversation_id: str) -> dict | None:
    with unit_of_work(database_url) as session:
        return record_views.conversation_record(session, conversation_id)
