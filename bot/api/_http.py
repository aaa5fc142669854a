"""What every HTTP API here shares: clear, specific JSON errors (never a stack trace, never an
HTML error page), bounded bodies read as JSON objects, who is asking (the admin token or an
operator's token, and the role it has), and one transaction run off the event loop."""

from __future__ import annotations

import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.transactions import in_transaction as transaction
from redress.audit import ADMIN, BUILT_IN_ADMIN, ROLES, Actor
from redress.clock import utcnow
from redress.operators import tokens

# Conversation ids are made by secrets.token_urlsafe: anything else names no conversation
# (and a NUL or a megabyte of text never reaches the database).
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Row ids are 32-bit integers in the records; a larger number names no row.
MAX_ROW_ID = 2**31 - 1
# Longer than any token made here: not looked up at all.
MAX_TOKEN_CHARS = 200


def is_conversation_id(value: object) -> bool:
    return isinstance(value, str) and bool(CONVERSATION_ID.match(value))


def row_id(raw: str) -> int | None:
    """A row id from a path or query string, or None when it cannot name a row."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status, headers)


class BadInput(ValueError):
    """A request the API refuses; carries the status, code and a message for the sender."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        return error(self.status, self.code, self.message)


async def bounded_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_bytes``,
    so an oversized body is never read into memory whole."""
    too_large = BadInput(
        413, "body_too_large", f"The request body must be under {max_bytes} bytes."
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(raw: bytes, shape: str) -> dict[str, Any]:
    """The body as a JSON object, or a BadInput saying what is wrong with it."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(400, "invalid_utf8", "The request body is not valid UTF-8.") from None
    try:
        body: Any = json.loads(decoded)
    except json.JSONDecodeError as problem:
        raise BadInput(
            400, "invalid_json", f"The request body is not valid JSON: {problem.msg}."
        ) from None
    except RecursionError:
        raise BadInput(400, "invalid_json", "The request body is nested too deeply.") from None
    except ValueError:
        # json.JSONDecodeError is a ValueError too; what is left is a number too long to
        # read (Python refuses integers of more than 4,300 digits).
        raise BadInput(
            400, "invalid_json", "The request body has a number too long to read."
        ) from None
    if not isinstance(body, dict):
        raise BadInput(400, "invalid_body", f"Send a JSON object: {shape}.")
    return body


T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Runs ``work`` in one transaction off the event loop; the admin APIs map what it
    raises to their own JSON errors."""
    return await transaction(request.app.state.settings.database_url, work)


def requires(role: str) -> Callable[[Endpoint], Endpoint]:
    """An endpoint behind a token whose role includes ``role`` (agent < approver < admin):
    the admin token, or an operator's own token. The endpoint finds who is acting in
    ``request.state.actor``; its bad input (a ``BadInput`` raised anywhere in it) is answered
    with its clear, specific JSON error."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def guard(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            found = await authorised(request)
            if not isinstance(found, Actor):
                return found
            if not found.may(role):
                return error(
                    403,
                    "forbidden",
                    f"This needs a token with the {role} role; this token ({found.name}) has "
                    f"the {found.role} role.",
                    needs_role=role,
                )
            request.state.actor = found
            try:
                return await endpoint(request)
            except BadInput as bad:
                return bad.response()

        return guarded

    return guard


# Endpoints only the administrator may use.
admin_only = requires(ADMIN)


def actor(request: Request) -> Actor:
    """Who is acting on this request (set by ``requires``)."""
    found: Actor = request.state.actor
    return found


async def authorised(request: Request) -> Actor | Response:
    """Who sent the request: the built-in administrator for the admin token, the operator
    whose unrevoked token it is; otherwise the 401 to send. The admin token is compared in
    constant time; an operator token is found by its SHA-256 through a unique index."""
    admin_token = request.app.state.settings.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    if (
        given
        and admin_token is not None
        and hmac.compare_digest(given.encode(), admin_token.encode())
    ):
        return BUILT_IN_ADMIN
    try:
        if given.startswith(tokens.PREFIX) and len(given) <= MAX_TOKEN_CHARS:
            try:
                found = await in_transaction(
                    request, lambda session: tokens.actor_for(session, given, utcnow())
                )
            except tokens.RevokedToken as revoked:
                return error(
                    401, "token_revoked", f"Refused: {revoked}. Ask an administrator for a new one."
                )
            if found is not None:
                return found
        if admin_token is None and not await in_transaction(request, tokens.any_active):
            return error(
                401,
                "records_api_disabled",
                "The records API is off. Set REDRESS_ADMIN_TOKEN to use it, or make an operator "
                "token: python -m redress tokens create NAME --role agent.",
            )
    except SQLAlchemyError:
        return error(
            503,
            "records_unavailable",
            "The records cannot be reached just now, so the token cannot be checked. "
            "Please try again shortly.",
            retry_after=30,
        )
    if admin_token is None:
        return error(
            401, "unauthorised", "Send your operator token as: Authorization: Bearer <token>."
        )
    return error(
        401,
        "unauthorised",
        "Send the admin token or your operator token as: Authorization: Bearer <token>.",
    )
