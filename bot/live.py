"""Pushes messages that arrive later (agent replies, incident updates) to open web chats."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any


class LiveHub:
    """In-process fan-out of new messages to each conversation's open WebSockets.

    Clients catch up from the database by message id when they (re)connect, so a message
    published while a client was away is not lost; the hub only carries what is new.
    """

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribe(self, conversation_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._queues[conversation_id].add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        queues = self._queues.get(conversation_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[conversation_id]

    def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        for queue in list(self._queues.get(conversation_id, ())):
            if queue.full():
                queue.get_nowait()  # a stalled client catches up from the database instead
            queue.put_nowait(message)
