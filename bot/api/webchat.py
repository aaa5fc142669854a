"""The web chat API (docs/architecture.md, "Interfaces"): POST /api/messages and the live
WebSocket."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
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
from bot.hidden import hide
from bot.identity import InvalidIdentity
from bot.message_text import valid_text
from bot.relay import Relay, UnknownConversation, message_json
from bot.transactions import in_transaction
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Message

logger = logging.getLogger("redress.gateway.webchat")

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 10
# A conversation's first message sent again within this long, with the same client id of at
# least this many characters, is the same conversation (``_start``).
SAME_START_WITHIN = timedelta(minutes=10)
MIN_START_ID_CHARS = 16
CHANNEL = "web"


async def post_message(request: Request) -> Response:
    """Takes one customer message and answers with the assistant's replies."""
    settings = request.app.state.settings
    relay: Relay = request.app.state.relay
    token: str | None = None
    try:
        posted = parse_message(
            await bounded_body(request, MAX_BODY_BYTES), settings.max_message_chars
        )
        refusal = await _too_fast(request, "address", _address(request), posted.conversation_id)
        if refusal is not None:
            return refusal
        if posted.identity is not None:
            await in_transaction(settings.database_url, relay.check_identity, posted.identity)
        if posted.conversation_id is None:
            conversation_id, token = await in_transaction(
                settings.database_url, _start, posted.client_message_id, posted.text
            )
        else:
            conversation_id = posted.conversation_id
            await in_transaction(settings.database_url, _admit, conversation_id, posted.token)
            refusal = await _too_fast(request, "conversation", conversation_id, conversation_id)
            if refusal is not None:
                return refusal
        outcome = await relay.handle(
            conversation_id,
            posted.text,
            CHANNEL,
            identity=posted.identity,
            address=relay.address_key(_address(request)),
            client_message_id=posted.client_message_id,
        )
    except BadInput as bad:
        return bad.response()
    except InvalidIdentity as refused:
        logger.info("signed identity refused: %s", refused)
        return error(403, "invalid_identity", str(refused))
    except UnknownConversation:
        return unknown_conversation().response()
    except DBAPIError as problem:
        # The records cannot be reached: nothing could be kept, so nothing is promised but
        # the truth, and the client keeps the words to send again (same client_message_id).
        logger.error("records unavailable for a web chat message: %s", type(problem).__name__)
        not_taken = request.app.state.business.brand.message_not_taken
        return error(
            503,
            "records_unavailable",
            "The message could not be recorded, so it was not taken; send it again shortly "
            "(with the same client_message_id).",
            retry_after=RETRY_AFTER_SECONDS,
            replies=[{"text": not_taken, "buttons": []}],
        )
    body: dict[str, Any] = {"conversation_id": outcome.conversation_id}
    if token is not None:
        body["conversation_token"] = token  # given once: only its hash is kept
    body["message_id"] = outcome.customer_message["id"] if outcome.customer_message else None
    body["replies"] = [*outcome.shown_meanwhile, *outcome.replies]
    if not outcome.assistant_available:
        return error(
            503,
            "assistant_unavailable",
            "The assistant could not answer yet. The message is recorded and kept: its answer "
            "comes on the live WebSocket (and in the record) as soon as the assistant is back; "
            "it need not be sent again.",
            retry_after=RETRY_AFTER_SECONDS,
            **body,
        )
    return JSONResponse(body)


def unknown_conversation() -> BadInput:
    return BadInput(404, "unknown_conversation", "There is no conversation with that id.")


def refused_token(given: str | None) -> BadInput:
    """403 for a missing or wrong conversation_token, saying which and what to do."""
    problem = (
        "conversation_token is required to continue a conversation"
        if given is None
        else "conversation_token does not match this conversation"
    )
    return BadInput(
        403,
        "invalid_conversation_token",
        f"{problem}: send the one given in the reply that started it, or send "
        "conversation_id null to start a new conversation.",
    )


def _start(session: Session, client_message_id: str | None, text: str) -> tuple[str, str]:
    """A new web chat conversation and the secret that lets its client back in.

    The first message sent again (same ``client_message_id`` and words, within
    ``SAME_START_WITHIN``) is the same conversation: its client lost the answer that
    started it, so it gets the conversation again, with a new token (only the first one's
    hash is kept). The id must be long enough not to be guessed."""
    if client_message_id is not None and len(client_message_id) >= MIN_START_ID_CHARS:
        since = utcnow() - SAME_START_WITHIN
        same = conversations.started_by(session, CHANNEL, client_message_id, hide(text).text, since)
        if same is not None:
            return same.id, conversations.issue_client_token(same)
    conversation = conversations.start_conversation(session, CHANNEL)
    return conversation.id, conversations.issue_client_token(conversation)


def _admit(session: Session, conversation_id: str, token: str | None) -> None:
    """Lets a message into a conversation only with the token its client was given. A
    conversation on another channel (Telegram) has none, so it gets the same answer as a
    wrong token and nothing says which channel it is on."""
    conversation = conversations.get_conversation(session, conversation_id)
    if conversation is None:
        raise unknown_conversation()
    if conversation.channel != CHANNEL or not conversations.client_token_matches(
        conversation, token
    ):
        raise refused_token(token)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _too_fast(
    request: Request, kind: str, key: str, conversation_id: str | None
) -> Response | None:
    """A friendly "slow down" when one address, or one conversation, sends too fast. A
    conversation's own limit counts only messages let into it, so nobody without its token
    can use it up."""
    wait = await request.app.state.rate_limits[kind].check(key)
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
        conversation_id = request.path_params["conversation_id"]
        if not is_conversation_id(conversation_id):
            raise unknown_conversation()
        message = await relay.push(conversation_id, "agent", text, author=author.strip())
    except BadInput as bad:
        return bad.response()
    except UnknownConversation:
        return unknown_conversation().response()
    return JSONResponse(message, status_code=201)


@dataclass(frozen=True)
class Posted:
    """A valid POST /api/messages body."""

    conversation_id: str | None  # None starts a conversation
    token: str | None  # the conversation_token, when one was sent
    text: str
    # A signed login from the business's page: (account number, signature); docs/identity.md.
    identity: tuple[object, object] | None = None
    # The client's own id for this message: sent again, it is the same message.
    client_message_id: str | None = None


def _identity(value: Any) -> tuple[object, object] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"account_number", "signature"}:
        raise BadInput(
            400,
            "invalid_identity",
            'identity must be {"account_number": ..., "signature": ...}, as the business\'s '
            "page gives them (docs/identity.md), or left out.",
        )
    return value["account_number"], value["signature"]


def parse_message(raw: bytes, max_chars: int) -> Posted:
    """Validates a POST /api/messages body."""
    body = json_object(raw, '{"conversation_id": ..., "conversation_token": ..., "text": ...}')
    conversation_id = body.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise BadInput(
            400, "invalid_conversation_id", "conversation_id must be a string, or null to start."
        )
    if isinstance(conversation_id, str) and not is_conversation_id(conversation_id):
        raise unknown_conversation()
    token = body.get("conversation_token")
    if token is not None and not isinstance(token, str):
        raise BadInput(
            400,
            "invalid_conversation_token",
            "conversation_token must be the string given when the conversation started.",
        )
    text = valid_text(body.get("text"), max_chars)
    client_message_id = body.get("client_message_id")
    if client_message_id is not None and not (
        isinstance(client_message_id, str) and is_conversation_id(client_message_id)
    ):
        raise BadInput(
            400,
            "invalid_client_message_id",
            "client_message_id must be 1 to 64 letters, digits, _ or -, or left out.",
        )
    return Posted(conversation_id, token, text, _identity(body.get("identity")), client_message_id)


async def live(websocket: WebSocket) -> None:
    """Streams a conversation's new messages to the client holding its token (``?token=``);
    ``?after=<id>`` catches up on missed ones."""
    conversation_id = websocket.path_params["conversation_id"]
    if not _origin_allowed(websocket):
        await websocket.close(code=4403, reason="origin not allowed")
        return
    if not is_conversation_id(conversation_id):
        await _refuse(websocket, 4404, "unknown conversation")
        return
    after_raw = websocket.query_params.get("after", "0")
    after = 0
    if after_raw.isascii() and after_raw.isdigit():
        if len(after_raw) > 12 or int(after_raw) > MAX_ROW_ID:
            # No message can have that id: refused plainly, not read as "seen everything".
            await _refuse(websocket, 4400, "after is not a message id")
            return
        after = int(after_raw)
    token = websocket.query_params.get("token")
    database_url = websocket.app.state.settings.database_url
    hub = websocket.app.state.hub
    queue = hub.subscribe(conversation_id)  # before catching up, so nothing falls in between
    try:
        try:
            missed = await in_transaction(
                database_url, _messages_after, conversation_id, token, after
            )
        except BadInput as refused:
            await _refuse(websocket, *LIVE_REFUSALS[refused.code])
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


# The live WebSocket's close codes for the web chat API's refusals.
LIVE_REFUSALS = {
    "unknown_conversation": (4404, "unknown conversation"),
    "invalid_conversation_token": (4401, "conversation token missing or wrong"),
}


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Closes with ``code`` before anything is sent. A close before the handshake reaches a
    browser only as a failed connection, so the handshake completes first and the widget
    learns why (an unknown conversation, or a token that does not open it)."""
    await websocket.accept()
    await websocket.close(code=code, reason=reason)


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
    session: Session, conversation_id: str, token: str | None, after: int
) -> list[dict[str, Any]]:
    _admit(session, conversation_id, token)
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > after)
        .order_by(Message.id)
    )
    return [message_json(m) for m in rows]


class HideConversationTokens(logging.Filter):
    """The live WebSocket's address carries the conversation token (``?token=``), and the
    web server logs the address of every connection: the token is hidden in those lines."""

    TOKEN = re.compile(r"(?<=[?&]token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.TOKEN.sub("hidden", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def hide_tokens_in_server_logs() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(HideConversationTokens())
