"""The desk in the console: what needs a person now, one conversation with its transcript,
and the actions an agent takes in it (take over, reply, note, hand back, resolve), all
through the console desk (bot/console/desk.py) and so through the same domain functions and
the same assistant silence as the Slack desk.

``/console/live`` is a WebSocket that tells a signed-in page when something changed (a new
handoff or case, a customer's message, an action by a colleague); console-desk.js then
fetches the page again and swaps in the parts marked ``data-live``. Without JavaScript the
pages still work: reload to see what changed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.api._http import is_conversation_id, row_id
from bot.console.cases import transcript
from bot.console.desk import ConsoleDesk, ConsoleRefused, agent_id_of
from bot.console.web import (
    COOKIE,
    Refused,
    actor,
    db,
    form,
    page,
    problem,
    redirect,
    render,
    same_origin,
)
from bot.transactions import in_transaction
from redress import audit
from redress.clock import utcnow
from redress.conversations.views import conversation_record
from redress.db.models import Complaint, Handoff
from redress.handoff import records as handoff_records
from redress.operators import accounts
from redress.privacy.config import visible_kinds
from redress.privacy.shown import record_for_agents

logger = logging.getLogger("redress.console")


def _desk(request: Request) -> ConsoleDesk:
    desk: ConsoleDesk = request.app.state.console_desk
    return desk


@page(audit.AGENT)
async def queue(request: Request) -> Response:
    waiting = await _desk(request).queue()
    me = actor(request)
    return render(
        request,
        "desk/queue.html",
        section="desk",
        handoffs=waiting.handoffs,
        cases=waiting.cases,
        handoffs_total=waiting.handoffs_total,
        cases_total=waiting.cases_total,
        me_id=me.id,
        slack=request.app.state.slack is not None,
    )


@page(audit.AGENT)
async def conversation(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    if not is_conversation_id(conversation_id):
        return problem(request, 404, "No such conversation", "There is no conversation here.")
    business = request.app.state.business

    def read(session: Session) -> tuple[dict[str, Any] | None, list[Complaint], Handoff | None]:
        found = conversation_record(session, conversation_id, business)
        if found is not None:
            # Masked as at the Slack desk: what agents need to see, and no more.
            found = record_for_agents(found, visible_kinds(business))
        cases = session.scalars(
            select(Complaint)
            .where(Complaint.conversation_id == conversation_id)
            .order_by(Complaint.id)
        )
        return found, list(cases), handoff_records.open_handoff(session, conversation_id)

    record, cases, handoff = await db(request, read)
    if record is None:
        return problem(request, 404, "No such conversation", "There is no conversation here.")
    me = actor(request)
    return render(
        request,
        "desk/conversation.html",
        section="desk",
        record=record,
        lines=transcript(record),
        handoff=handoff,
        mine=handoff is not None and handoff.agent_id == agent_id_of(me),
        cases=cases,
        customer=record["conversation"]["customer"],
        me_id=me.id,
    )


def _back(conversation_id: str) -> str:
    return f"/console/desk/conversations/{urllib.parse.quote(conversation_id)}"


async def _handoff_form(request: Request) -> tuple[int, str]:
    fields = await form(request)
    handoff_id = row_id(fields.get("handoff_id", ""))
    conversation_id = fields.get("conversation_id", "")
    if handoff_id is None or not is_conversation_id(conversation_id):
        raise Refused("The form did not say which conversation; reload the page.")
    return handoff_id, conversation_id


@page(audit.AGENT)
async def take_over(request: Request) -> Response:
    handoff_id, conversation_id = await _handoff_form(request)
    fields = await form(request)
    try:
        await _desk(request).take_over(
            handoff_id, actor(request), take_from=fields.get("take_from") == "yes"
        )
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    return redirect(
        _back(conversation_id),
        "You have this conversation now: the assistant stays quiet until you hand it back.",
    )


@page(audit.AGENT)
async def reply(request: Request) -> Response:
    fields = await form(request)
    conversation_id = fields.get("conversation_id", "")
    if not is_conversation_id(conversation_id):
        raise Refused("The form did not say which conversation; reload the page.")
    try:
        done = await _desk(request).reply(conversation_id, fields.get("text", ""), actor(request))
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    said = "Sent to the customer."
    if not done.reachable:
        said = (
            "Recorded, but the customer's channel cannot reach them just now: they will see "
            "it in the conversation if they come back to it."
        )
    return redirect(_back(conversation_id), said)


@page(audit.AGENT)
async def note(request: Request) -> Response:
    fields = await form(request)
    conversation_id = fields.get("conversation_id", "")
    if not is_conversation_id(conversation_id):
        raise Refused("The form did not say which conversation; reload the page.")
    try:
        await _desk(request).note(
            fields.get("text", ""), actor(request), conversation_id=conversation_id
        )
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    return redirect(_back(conversation_id), "Note added. The customer does not see it.")


@page(audit.AGENT)
async def hand_back(request: Request) -> Response:
    handoff_id, conversation_id = await _handoff_form(request)
    try:
        await _desk(request).hand_back(handoff_id, actor(request))
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    return redirect(_back(conversation_id), "Handed back: the assistant answers again.")


@page(audit.AGENT)
async def resolve(request: Request) -> Response:
    handoff_id, conversation_id = await _handoff_form(request)
    try:
        await _desk(request).resolve(actor(request), handoff_id=handoff_id)
    except ConsoleRefused as refused:
        raise Refused(str(refused), 409) from None
    return redirect(
        _back(conversation_id),
        "Resolved. The customer is asked whether it is fixed, and for a rating.",
    )


async def live(socket: WebSocket) -> None:
    """Change events for a signed-in console page, as JSON text frames. Refused (closed with
    1008) without a live session or from another site's page."""
    if not same_origin(socket):
        await socket.close(code=1008)
        return
    secret = socket.cookies.get(COOKIE, "")
    database_url = socket.app.state.settings.database_url
    try:
        found = await in_transaction(
            database_url, lambda s: accounts.session_for(s, secret, utcnow())
        )
    except SQLAlchemyError:
        found = None
    if found is None:
        await socket.close(code=1008)
        return
    await socket.accept()
    desk: ConsoleDesk = socket.app.state.console_desk
    with desk.subscribe() as events:
        sending = asyncio.create_task(_forward(socket, events))
        try:
            while True:
                await socket.receive_text()  # the page says nothing; this notices it leaving
        except WebSocketDisconnect:
            pass
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sending


async def _forward(socket: WebSocket, events: Any) -> None:
    async for event in events:
        await socket.send_json(event)
