"""Per-conversation and per-address limits on how fast messages may arrive."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class RateLimiter:
    """A sliding window of the last minute per key, in memory: for one gateway. Several
    gateways share one window per key in Redis (``bot.shared_state.RedisRateLimiter``)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._clock = clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        # Keys with nothing in the last minute are dropped once a minute, so memory follows
        # the conversations of the last minute, not every conversation since the start.
        self._next_sweep = clock() + WINDOW_SECONDS

    def __len__(self) -> int:
        """How many keys it remembers."""
        return len(self._seen)

    def retry_after(self, key: str) -> int | None:
        """None if a message may pass now (and counts it); else seconds until one may."""
        now = self._clock()
        seen = self._seen[key]
        while seen and now - seen[0] >= WINDOW_SECONDS:
            seen.popleft()
        if len(seen) >= self._limit:
            return max(1, math.ceil(WINDOW_SECONDS - (now - seen[0])))
        seen.append(now)
        if now >= self._next_sweep:
            self._forget_idle(now)
            self._next_sweep = now + WINDOW_SECONDS
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [
            k for k, seen in self._seen.items() if not seen or now - seen[-1] >= WINDOW_SECONDS
        ]:
            del self._seen[key]
