"""How a recorded message is shown to channels, and what typed text may reach the assistant."""

from __future__ import annotations

from typing import Any

from redress.db.models import Message


def message_json(message: Message) -> dict[str, Any]:
    """A recorded message as channels show it; button payloads are the issued tokens."""
    shown: dict[str, Any] = {
        "id": message.id,
        "role": message.role,
        "text": message.text,
        "buttons": [{"title": b["title"], "payload": b["token"]} for b in message.buttons or []],
        "created_at": message.created_at.isoformat(),
    }
    if author := (message.details or {}).get("author"):
        shown["author"] = author
    return shown


def neutralise_slash(text: str) -> str:
    """Typed text that starts with "/" would reach Rasa as an intent ("/affirm") with
    entities of the sender's choosing. Only server-issued buttons may do that, so typed
    slashes are dropped and the rest goes through language understanding like any text."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    return stripped.lstrip("/").strip() or "slash"
