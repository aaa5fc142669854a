"""The page, the health check, the headers every response carries, and the JSON errors the
whole gateway answers with instead of HTML or a stack trace."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api._http import error

logger = logging.getLogger("redress.gateway")
STATIC = Path(__file__).parent.parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# The console's pages: the same policy, except that their forms post back to the console,
# and no other site may frame them.
CONSOLE_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Adds the headers every response should carry, and a CSP for the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _plain_path(scope.get("path", "")):
            # A NUL, a control character or a kilobyte of path names nothing here, and must
            # never reach a database query as an id.
            refused = error(404, "not_found", "There is nothing at that address.")
            await refused(scope, receive, send)
            return

        console = scope.get("path", "").startswith("/console")
        policy = CONSOLE_SECURITY_POLICY if console else CONTENT_SECURITY_POLICY
        # The console's forms are checked for a same-site Origin; with "no-referrer" a browser
        # sends "Origin: null" instead, so console pages share the referrer with themselves only.
        referrer = b"same-origin" if console else b"no-referrer"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", referrer),
                    (b"content-security-policy", policy.encode()),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _plain_path(path: str) -> bool:
    return len(path) <= 1000 and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in path)


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def health(request: Request) -> Response:
    """Liveness: the gateway is running (nothing else is checked)."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Readiness: each dependency a customer's message needs, and whether it answers."""
    checks = await request.app.state.readiness.check()
    ok = all(check.ok for check in checks.values())
    body = {
        "status": "ready" if ok else "not_ready",
        "dependencies": {
            name: {"ok": check.ok, **({"detail": check.detail} if check.detail else {})}
            for name, check in checks.items()
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal_error", "Something went wrong on our side. Please try again.")
