"""POST /telegram/webhook: where Telegram delivers updates in webhook mode.

Telegram sends the secret we gave it in ``X-Telegram-Bot-Api-Secret-Token`` with every
update; anything without it is refused before it is read. An accepted update is queued and
answered with 200 at once: Telegram redelivers an update it did not see acknowledged in time,
so it must never wait for the assistant.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import Response

from bot.api._http import BadInput, bounded_body, error
from bot.telegram.channel import TelegramChannel

logger = logging.getLogger("redress.gateway.telegram.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1024 * 1024


async def receive_update(request: Request) -> Response:
    """Checks Telegram's secret, queues the update and answers 200 straight away."""
    channel: TelegramChannel | None = request.app.state.telegram
    if channel is None or channel.webhook_secret is None:
        return error(404, "not_found", "Telegram webhooks are not enabled on this gateway.")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), channel.webhook_secret.encode()):
        logger.warning("refused a Telegram webhook call without the right secret")
        return error(403, "forbidden", "Missing or wrong secret token.")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        # Telegram always sends JSON; anything else is not an update from it.
        return error(415, "unsupported_media_type", "Telegram updates are sent as JSON.")
    try:
        body = await bounded_body(request, MAX_UPDATE_BYTES)
    except BadInput as refused:
        return refused.response()
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        await channel.receive(data)
    except (ValueError, TypeError, KeyError) as problem:
        logger.warning("refused a webhook call that is not a Telegram update: %s", problem)
        return error(400, "invalid_update", "The body is not a Telegram update.")
    return Response(status_code=200)
