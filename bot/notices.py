"""The notice that a turn is taking longer than usual (REDRESS_SLOW_TURN_NOTICE_SECONDS)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("redress.gateway.relay")


class SlowTurnNotice:
    """Says once that a turn is taking longer, if it is still running after ``after``
    seconds (``say`` records it and shows it to the customer). Settled when the turn ends:
    not said if it was not due yet; waited for if it is being said, so it is recorded and
    shown before the answer."""

    def __init__(self, after: float, say: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._saying = False
        self._task = asyncio.create_task(self._run(after, say))

    async def _run(
        self, after: float, say: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        await asyncio.sleep(after)
        self._saying = True
        return await say()

    async def settle(self) -> list[dict[str, Any]]:
        """The notice, if it was said (an empty list if not)."""
        if not self._saying:
            self._task.cancel()
            return []
        try:
            return [await self._task]
        except Exception:
            logger.exception("could not say that a turn is taking longer")
            return []
