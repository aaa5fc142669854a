"""The web chat API (docs/architecture.md, "Interfaces"): POST /api/messages and the live
WebSocket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.api._http import (
    MAX_ROW_ID,
    BadInput,
    admin_only,
    bounded_body,
    error,
    is_conversation_id,
    json_object,
)
from bot.relay import Relay, UnknownConversation, message_json
from redress.conversations import records as conversations
from redress.db.models import Message
from redress.db.session import unit_of_work

logger = logging.getLogger("redress.gateway.webchat")

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 10
CHANNEL = "web"


async def post_message(request: Request) -> Response:
    """Takes one customer message and answers with the assistant's replies."""
    settings = request.app.state.settings
    relay: Relay = request.app.state.relay
    try:
        conversation_id, text = parse_message(
            await bounded_body(request, MAX_BODY_BYTES), settings.max_message_chars
        )
        if (refusal := await _too_fast(request, conversation_id)) is not None:
            return refusal
        outcome = await relay.handle(conversation_id, text, CHANNEL)
    except BadInput as bad:
        return bad.response()
    except UnknownConversation:
        return error(404, "unknown_conversation", "There is no conversation with that id.")
    body = {
        "conversation_id": outcome.conversation_id,
        "message_id": outcome.customer_message["id"] if outcome.customer_message else None,
        "replies": outcome.replies,
    }
    if not outcome.assistant_available:
        return error(
            503,
            "assistant_unavailable",
            "The assistant could not answer. The message was recorded; try again shortly.",
            retry_after=RETRY_AFTER_SECONDS,
            **body,
        )
    return JSONResponse(body)


async def _too_fast(request: Request, conversation_id: str | None) -> Response | None:
    """A friendly "slow down" when one conversation or one address sends too fast."""
    limits = request.app.state.rate_limits
    address = request.client.host if request.client else "unknown"
    waits = [await limits["address"].check(address)]
    if conversation_id is not None:
        waits.append(await limits["conversation"].check(conversation_id))
    wait = max((w for w in waits if w is not None), default=None)
    if wait is None:
        return None
    slow_down = request.app.state.business.brand.slow_down
    return error(
        429,
        "slow_down",
        slow_down,
        retry_after=wait,
        conversation_id=conversation_id,
        replies=[{"text": slow_down, "buttons": []}],
    )


@admin_only
async def post_agent_message(request: Request) -> Response:
    """An operator's message into a conversation, delivered on the customer's channel.
    Needs the admin token; the agent desk uses the same path."""
    relay: Relay = request.app.state.relay
    try:
        body = json_object(
            await bounded_body(request, MAX_BODY_BYTES), '{"text": ..., "author": ...}'
        )
        text = valid_text(body.get("text"), request.app.state.settings.max_message_chars)
        author = body.get("author") or "Brightline team"
        if not isinstance(author, str) or len(author) > 80:
            raise BadInput(400, "invalid_author", "author must be a name of up to 80 characters.")
        message = await relay.push(
            request.path_params["conversation_id"], "agent", text, author=author.strip()
        )
    except BadInput as bad:
        return bad.response()
    except UnknownConversation:
        return error(404, "unknown_conversation", "There is no conversation with that id.")
    return JSONResponse(message, status_code=201)


def parse_message(raw: bytes, max_chars: int) -> tuple[str | None, str]:
    """Validates a POST /api/messages body; returns (conversation id or None, text)."""
    body = json_object(raw, '{"conversation_id": ..., "text": ...}')
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise BadInput(
            400, "invalid_conversation_id", "conversation_id must be a string, or null to start."
        )
    if isinstance(conversation_id, str) and not is_conversation_id(conversation_id):
        raise BadInput(404, "unknown_conversation", "There is no conversation with that id.")
    return conversation_id, valid_text(body.get("text"), max_chars)


# Characters that show nothing: zero-width spaces and joiners, direction marks, the word
# joiner, the byte-order mark, the soft hyphen and variation selectors.
INVISIBLE = dict.fromkeys(
    [0x00AD, 0x034F, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
     *range(0x2060, 0x2070), 0xFEFF, *range(0xFE00, 0xFE10)]
)  # fmt: skip


def valid_text(text: Any, max_chars: int) -> str:
    """Message text that can be stored and shown safely, stripped; or a BadInput."""
    if not isinstance(text, str):
        raise BadInput(400, "invalid_text", "text is required and must be a string.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            400, "invalid_text", "text holds characters that are not valid Unicode."
        ) from None
    if "\x00" in text:
        raise BadInput(400, "invalid_text", "text must not contain NUL characters.")
    text = text.strip()
    if not text.translate(INVISIBLE).strip():
        # Only spaces and invisible characters (zero-width, joiners, marks): nothing to read.
        raise BadInput(400, "empty_text", "text is empty. Type a message first.")
    if len(text) > max_chars:
        raise BadInput(
            400,
            "text_too_long",
            f"Messages can be up to {max_chars} characters; this one has {len(text)}. "
            "Please shorten it or send it in parts.",
        )
    return text


async def live(websocket: WebSocket) -> None:
    """Streams a conversation's new messages; ``?after=<id>`` catches up on missed ones."""
    conversation_id = websocket.path_params["conversation_id"]
    if not _origin_allowed(websocket):
        await websocket.close(code=4403, reason="origin not allowed")
        return
    if not is_conversation_id(conversation_id):
        await websocket.close(code=4404, reason="unknown conversation")
        return
    after_raw = websocket.query_params.get("after", "0")
    after = 0
    if after_raw.isascii() and after_raw.isdigit():
        if len(after_raw) > 12 or int(after_raw) > MAX_ROW_ID:
            # No message can have that id: refused plainly, not read as "seen everything".
            await websocket.close(code=4400, reason="after is not a message id")
            return
        after = int(after_raw)
    database_url = websocket.app.state.settings.database_url
    hub = websocket.app.state.hub
    queue = hub.subscribe(conversation_id)  # before catching up, so nothing falls in between
    try:
        missed = await run_in_threadpool(_messages_after, database_url, conversation_id, after)
        if missed is None:
            await websocket.close(code=4404, reason="unknown conversation")
            return
        await websocket.accept()
        sent = after
        for message in missed:
            await websocket.send_json(message)
            sent = max(sent, message["id"])
        while True:
            receive = asyncio.ensure_future(websocket.receive())
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({receive, get}, return_when=asyncio.FIRST_COMPLETED)
            if receive in done:
                get.cancel()
                if receive.result().get("type") == "websocket.disconnect":
                    return
                continue
            receive.cancel()
            message = get.result()
            if message["id"] > sent:
                await websocket.send_json(message)
                sent = message["id"]
    except WebSocketDisconnect:
        return
    finally:
        hub.unsubscribe(conversation_id, queue)


def _origin_allowed(websocket: WebSocket) -> bool:
    """Browsers send Origin on WebSockets and CORS does not apply to them, so the gateway
    checks it itself: the page's own origin and the configured widget origins only."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    own = {f"http://{host}", f"https://{host}"}
    return origin in own or origin in websocket.app.state.settings.widget_origins


def _messages_after(
    database_url: str, conversation_id: str, after: int
) -> list[dict[str, Any]] | None:
    with unit_of_work(database_url) as session:
        if conversations.get_conversation(session, conversation_id) is None:
            return None
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after)
            .order_by(Message.id)
        )
        return [message_json(m) for m in rows]
