"""The records API: GET /api/conversations/{id}, for operators (any role: agent and up)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.api._http import error, is_conversation_id, requires
from redress import audit
from redress.business import Business
from redress.conversations import views as record_views
from redress.db.session import unit_of_work


@requires(audit.AGENT)
async def get_conversation(request: Request) -> Response:
    """The whole record of one conversation."""
    conversation_id = request.path_params["conversation_id"]
    if not is_conversation_id(conversation_id):
        return error(404, "unknown_conversation", "There is no conversation with that id.")
    record = await run_in_threadpool(
        _record,
        request.app.state.settings.database_url,
        conversation_id,
        request.app.state.business,
    )
    if record is None:
        return error(404, "unknown_conversation", "There is no conversation with that id.")
    return JSONResponse(record)


def _record(database_url: str, conversation_id: str, business: Business) -> dict | None:
    with unit_of_work(database_url) as session:
        return record_views.conversation_record(session, conversation_id, business)
