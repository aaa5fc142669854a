"""POST /telegram/webhook: where Telegram delivers updates in webhook mode.

Telegram sends the secret we gave it in ``X-Telegram-Bot-Api-Secret-Token`` with every
update; anything without it is refused before it is read. An accepted update is written down
and queued, then answered with 200, without waiting for the assistant: Telegram redelivers an
update it did not see acknowledged in time, and never one it did. So an update that could not
be written down gets a 503 (Telegram tries again later), and one that can never be answered
(not an update, or text that is not text) gets a 200 and one log line: retrying cannot help.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import Response

from bot.api._http import BadInput, bounded_body, error
from bot.telegram.channel import TelegramChannel
from bot.telegram.inbound import NotRecorded

logger = logging.getLogger("redress.gateway.telegram.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 10


async def receive_update(request: Request) -> Response:
    """Checks Telegram's secret, writes the update down and queues it, and answers 200
    without waiting for the assistant."""
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
        update = channel.read(data)
    except Exception as problem:  # whatever the library cannot read is not an update
        logger.warning(
            "refused a webhook call that is not a Telegram update (%s: %s)",
            problem.__class__.__name__,
            problem,
        )
        return Response(status_code=200)
    try:
        await channel.receive(update)
    except NotRecorded as problem:
        logger.error("Telegram update %s not acknowledged: %s", update.update_id, problem)
        return error(
            503,
            "not_recorded",
            "The update could not be recorded; send it again.",
            retry_after=RETRY_AFTER_SECONDS,
        )
    return Response(status_code=200)
