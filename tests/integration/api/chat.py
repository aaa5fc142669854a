"""A web chat client for tests, as the widget is one: it starts a conversation, keeps the
conversation_token the first reply gives, and sends it with every later message and on the
live WebSocket."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.testclient import TestClient, WebSocketTestSession


class WebChat:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.conversation_id: str | None = None
        self.token: str | None = None

    def say(self, text: str, client_message_id: str | None = None) -> httpx.Response:
        """Posts one customer message: the first starts the conversation."""
        body: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "conversation_token": self.token,
            "text": text,
        }
        if client_message_id is not None:
            body["client_message_id"] = client_message_id
        response = self.client.post("/api/messages", json=body)
        body = response.json()
        if self.conversation_id is None and isinstance(body.get("conversation_token"), str):
            self.conversation_id = body["conversation_id"]
            self.token = body["conversation_token"]
        return response

    def live(self, after: int = 0, **kwargs: Any) -> WebSocketTestSession:
        """The conversation's live WebSocket, opened with its token."""
        query = urlencode({"after": after, "token": self.token or ""})
        return self.client.websocket_connect(
            f"/api/conversations/{self.conversation_id}/live?{query}", **kwargs
        )
