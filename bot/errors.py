"""Clear, specific JSON errors. Never a stack trace, never an HTML error page on the API."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


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
