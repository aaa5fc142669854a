"""The one path to the Rasa server: the gateway's channel into it, on loopback
(rasa_addons/gateway_channel.py), which answers only requests carrying the internal secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from redress.internal_secret import bearer, internal_secret

logger = logging.getLogger("redress.gateway.rasa")


# What rasa_addons/action_results.py adds to a turn's replies when an action failed.
FAILED = "action_failed"


class AssistantUnavailable(RuntimeError):
    """Rasa (or the action server behind it) could not answer."""


@dataclass(frozen=True)
class AssistantReply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    # A custom payload for the gateway itself (e.g. {"redress": "send_code"}), not shown.
    custom: dict[str, Any] = field(default_factory=dict)


class RasaClient:
    def __init__(self, base_url: str, timeout_seconds: float, secret: str | None = None) -> None:
        """``secret`` is the internal secret; None reads it as every process does
        (REDRESS_INTERNAL_SECRET, or var/internal-secret outside production)."""
        self._url = f"{base_url}/webhooks/gateway/webhook"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=3.0),
            headers={"Authorization": bearer(secret or internal_secret())},
        )

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any]
    ) -> list[AssistantReply]:
        """Sends one customer message and returns the assistant's replies to it."""
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        try:
            response = await self._client.post(self._url, json=body)
            if response.status_code == 401:
                logger.error(
                    "Rasa refused the gateway: REDRESS_INTERNAL_SECRET must be the same for both"
                )
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as error:
            logger.warning("Rasa did not answer for %s: %r", conversation_id, error)
            raise AssistantUnavailable(str(error)) from error
        replies = [_reply(item) for item in payload if isinstance(item, dict)]
        replies = [reply for reply in replies if reply.text or reply.buttons or reply.custom]
        failed = [r.custom.get("action") for r in replies if r.custom.get("redress") == FAILED]
        if failed:
            # An action could not run (the action server is down, slow or failing): whatever
            # Rasa said after it ("I lost my place there…") is not an answer to the customer.
            logger.warning(
                "an action failed for %s: %s", conversation_id, ", ".join(map(str, failed))
            )
            raise AssistantUnavailable(f"action failed: {', '.join(map(str, failed))}")
        if not replies:
            # Every customer message gets an answer in this assistant; none means an action
            # failed (typically the action server is down), so the customer must hear so.
            logger.warning("Rasa gave no reply for %s (is the action server up?)", conversation_id)
            raise AssistantUnavailable("no reply from the assistant")
        return replies

    async def close(self) -> None:
        await self._client.aclose()


def _reply(item: dict[str, Any]) -> AssistantReply:
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
        if isinstance(b, dict) and b.get("payload")
    ]
    custom = item.get("custom")
    return AssistantReply(
        text=str(item.get("text") or ""),
        buttons=buttons,
        custom=custom if isinstance(custom, dict) else {},
    )
