"""The gateway's channel into Rasa: Rasa's REST channel at ``/webhooks/gateway/webhook``
that answers only requests carrying the internal secret (``Authorization: Bearer
<secret>``, REDRESS_INTERNAL_SECRET, given in credentials.yml).

Without it anyone who could reach Rasa could talk to the assistant past the gateway: a
message that is not in the records, under a conversation id of their choosing, with an
intent of their choosing ("/affirm"). Everything else is Rasa's REST channel unchanged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger("redress.rasa.gateway_channel")

MIN_SECRET_LENGTH = 16  # as redress/settings.py, which this environment does not import


class GatewayInput(RestInput):
    """Rasa's REST channel, for the gateway alone."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        secret = str((credentials or {}).get("secret") or "").strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise RasaException(
                "The gateway channel needs the internal secret: credentials.yml gives it "
                "`secret: ${REDRESS_INTERNAL_SECRET}` (16 or more characters); "
                "scripts/run-rasa sets it."
            )
        return cls(secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        channel = super().blueprint(on_new_message)

        async def refuse_strangers(request: Request) -> HTTPResponse | None:
            return self._refuse_strangers(request)

        # A plain function: Sanic 21's Blueprint.middleware takes anything else (a bound
        # method too) for the decorator form, and would silently register nothing.
        channel.middleware(refuse_strangers, "request")
        return channel

    def _refuse_strangers(self, request: Request) -> HTTPResponse | None:
        """None for the gateway (the request goes on); a 401 for anyone else."""
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), self._secret
        ):
            return None
        logger.warning(
            "Refused %s %s from %s: without the internal secret only the gateway may send messages",
            request.method,
            request.path,
            request.ip,
        )
        return response.json(
            {
                "error": {
                    "code": "unauthorised",
                    "message": "Only the gateway may send messages here.",
                }
            },
            status=401,
        )
