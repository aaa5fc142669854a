"""What gateway instances must share when there is more than one: live pushes to open web
chats, message rate limits, and one turn at a time per conversation.

With one gateway all three live in memory (``LiveHub``, ``RateLimiter``, ``LocalTurns``).
With ``REDIS_URL`` set, each gateway uses Redis for them, so a load balancer may send any
request to any instance:

- **Live pushes.** A message recorded by any gateway is delivered to its own open WebSockets
  at once and published on ``redress:live`` with the gateway's id; every other gateway
  receives it and delivers it to the web chats open on it. Order is kept by one publishing
  task per gateway. A push lost while Redis is down costs nothing: the page catches up from
  the database by message id when it reconnects.
- **Rate limits.** One sliding window per key in a Redis sorted set, checked and counted in
  one Lua script, so two gateways cannot both let the 13th message through. If Redis cannot
  be reached the message is let through (a limit protects, it must not refuse customers)
  and the failure is logged.
- **Turns.** A customer message, the assistant's answer and their recording happen under a
  Redis lock per conversation (``redress:turn:<id>``), so two messages of one conversation
  arriving at two gateways are recorded and answered one after the other, in the same order
  in our records and in Rasa's tracker. Rasa's own Redis lock store (scripts/run-rasa)
  orders the turns inside Rasa too. Without Redis, or if it fails, the lock is per gateway.

Everything else a gateway knows is already in the database: handoff state, Slack and
Telegram deliveries seen, outbox and alerts (claimed with compare-and-set).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from bot.live import LiveHub
from bot.rate_limit import WINDOW_SECONDS, RateLimiter

logger = logging.getLogger("redress.gateway.shared")

LIVE_CHANNEL = "redress:live"
RECONNECT_SECONDS = 2.0


class Turns(Protocol):
    """One turn at a time per conversation."""

    def hold(self, conversation_id: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class _Held:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class LocalTurns:
    """Per-conversation asyncio locks: enough for one gateway. A conversation nobody is
    waiting on keeps no lock in memory."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        held = self._held.setdefault(conversation_id, _Held())
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._held[conversation_id]

    def __len__(self) -> int:
        return len(self._held)


class RedisTurns:
    """A Redis lock per conversation, shared by every gateway; the local lock first, so a
    gateway queues its own messages without polling Redis for each."""

    def __init__(self, redis: Redis, *, hold_seconds: float, wait_seconds: float) -> None:
        self._redis = redis
        self._local = LocalTurns()
        self._hold = hold_seconds
        self._wait = wait_seconds

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        async with self._local.hold(conversation_id):
            lock = self._redis.lock(
                f"redress:turn:{conversation_id}",
                timeout=self._hold,  # a gateway that dies holding it frees it after this
                sleep=0.02,
                blocking_timeout=self._wait,
            )
            try:
                acquired = await lock.acquire()
            except RedisError as error:
                logger.error(
                    "Redis unreachable for the turn lock (%s); this gateway orders its own "
                    "messages only",
                    error,
                )
                acquired = False
                lock = None
            if lock is not None and not acquired:
                logger.warning(
                    "conversation %s: waited %.0f s for another gateway's turn; going on",
                    conversation_id,
                    self._wait,
                )
            try:
                yield
            finally:
                if lock is not None and acquired:
                    with contextlib.suppress(LockError, RedisError):
                        await lock.release()


class RedisLiveHub(LiveHub):
    """``LiveHub`` across gateways through Redis pub/sub (see the module notes)."""

    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self._redis = redis
        self.origin = secrets.token_hex(8)
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task[None]] = []

    def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        super().publish(conversation_id, message)  # this gateway's web chats: at once
        payload = json.dumps(
            {"origin": self.origin, "conversation": conversation_id, "message": message},
            default=str,
        )
        try:
            self._outgoing.put_nowait(payload)
        except asyncio.QueueFull:  # Redis far behind: pages catch up from the database
            logger.warning("live pushes to other gateways are behind; one was dropped")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send()), loop.create_task(self._listen())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _send(self) -> None:
        while True:
            payload = await self._outgoing.get()
            try:
                await self._redis.publish(LIVE_CHANNEL, payload)
            except RedisError as error:
                logger.warning("could not publish a live push to Redis: %s", error)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(LIVE_CHANNEL)
                    logger.info("receiving live pushes from other gateways through Redis")
                    async for item in pubsub.listen():
                        self._deliver(item)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                logger.warning(
                    "live pushes from other gateways paused (%s); trying Redis again in %.0f s",
                    error,
                    RECONNECT_SECONDS,
                )
                await asyncio.sleep(RECONNECT_SECONDS)

    def _deliver(self, item: dict[str, Any]) -> None:
        try:
            data = json.loads(item["data"])
        except (KeyError, TypeError, ValueError):
            return
        if data.get("origin") == self.origin or not isinstance(data.get("message"), dict):
            return
        LiveHub.publish(self, str(data.get("conversation")), data["message"])


# Checks and counts in one step: drop what left the window, refuse when full (returning
# the seconds until the oldest leaves), otherwise count this one.
_SLIDING_WINDOW = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(window - (t - tonumber(oldest[2])))
end
redis.call('ZADD', KEYS[1], t, ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return '-1'
"""


class RedisRateLimiter:
    """``RateLimiter`` across gateways: the same sliding minute, kept in Redis."""

    def __init__(self, redis: Redis, scope: str, per_minute: int) -> None:
        self._redis = redis
        self._scope = scope
        self._limit = per_minute
        self._script = redis.register_script(_SLIDING_WINDOW)

    async def check(self, key: str) -> int | None:
        """None if a message may pass now (and counts it); else seconds until one may."""
        try:
            wait = float(
                await self._script(
                    keys=[f"redress:rate:{self._scope}:{key}"],
                    args=[WINDOW_SECONDS, self._limit, f"{time.time()}:{secrets.token_hex(4)}"],
                )
            )
        except RedisError as error:
            logger.warning("rate limit not checked, Redis unreachable: %s", error)
            return None
        return None if wait < 0 else max(1, math.ceil(wait))


class LocalRateLimiter:
    """The in-memory ``RateLimiter`` behind the same awaitable ``check``."""

    def __init__(self, per_minute: int) -> None:
        self._limiter = RateLimiter(per_minute)

    async def check(self, key: str) -> int | None:
        return self._limiter.retry_after(key)
