"""What the agent desk and the alert poster share: work done after Slack has had its
answer (Slack wants one within 3 seconds), the database off the event loop, Slack calls made
inline that wait out rate limits, people's display names, and what a failed call means."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.transactions import in_transaction

Sleep = Callable[[float], Awaitable[None]]
CALL_ERRORS = (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)

# Slack errors an operator has to fix; retrying alone will not help.
NEEDS_OPERATOR = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "no_permission",
    "restricted_action",
    "team_access_not_granted",
    "invalid_blocks",
    "msg_too_long",
}
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
DEFAULT_RETRY_AFTER = 30
MAX_INLINE_WAIT = 60.0  # seconds an inline call waits for a rate limit before giving up


@dataclass(frozen=True)
class SlackFailure:
    """A Slack call that did not work: the error code, and how long Slack asked us to wait."""

    error: str
    retry_after: float | None = None

    @property
    def needs_operator(self) -> bool:
        return self.error in NEEDS_OPERATOR

    @property
    def wait(self) -> timedelta | None:
        """How long Slack asked us to wait before the next try, if it said."""
        return None if self.retry_after is None else timedelta(seconds=self.retry_after)


def failure_of(problem: Exception) -> SlackFailure:
    """The error code of a failed Slack call (``ratelimited`` with its Retry-After)."""
    if isinstance(problem, SlackApiError):
        response = problem.response
        error = str(response.get("error") or f"http_{response.status_code}")
        retry_after = None
        if response.status_code == 429 or error == "ratelimited":
            error = "ratelimited"
            raw = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
                "retry-after"
            )
            try:
                retry_after = float(raw) if raw is not None else float(DEFAULT_RETRY_AFTER)
            except (TypeError, ValueError):
                retry_after = float(DEFAULT_RETRY_AFTER)
        return SlackFailure(error, retry_after)
    return SlackFailure(type(problem).__name__)


class SlackWorker:
    """Background work, database access and inline Slack calls, for one part of the desk.
    ``what`` names the part in logs ("agent desk", "operator alerts")."""

    what = "agent desk"

    def __init__(
        self,
        client: AsyncWebClient,
        database_url: str,
        *,
        sleep: Sleep = asyncio.sleep,
        logger: logging.Logger,
    ) -> None:
        self.client = client
        self._database_url = database_url
        self._sleep = sleep
        self._logger = logger
        self._names: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Runs ``work`` after the caller has answered (Slack needs an answer within 3 s)."""

        async def run() -> None:
            try:
                await work
            except Exception:  # one failed piece of work must not stop the others
                self._logger.exception("%s: %s failed", self.what, what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Waits until the background work in hand (and any it started) is done."""
        while True:
            for _ in range(20):  # let just-acknowledged Slack listeners start their work
                await asyncio.sleep(0)
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.idle()

    async def _db(self, work: Callable[..., Any], *args: Any) -> Any:
        return await in_transaction(self._database_url, work, *args)

    async def _post_in_thread(self, what: str, channel: str, thread: str, **fields: Any) -> Any:
        """A message in a thread (``fields``: text, blocks, reply_broadcast...), as ``_call``."""
        return await self._call(
            what, self.client.chat_postMessage, channel=channel, thread_ts=thread, **fields
        )

    async def _call(self, what: str, method: Callable[..., Awaitable[Any]], **params: Any) -> Any:
        """One Slack call made inline: waits out rate limits (as long as Slack asks, within
        reason); on other errors logs them, tells ``call_failed``, and returns None."""
        waited = 0.0
        while True:
            try:
                return await method(**{k: v for k, v in params.items() if v is not None})
            except CALL_ERRORS as error:
                failure = failure_of(error)
            if failure.retry_after is not None and waited + failure.retry_after <= MAX_INLINE_WAIT:
                waited += failure.retry_after
                await self._sleep(failure.retry_after)
                continue
            self._logger.error("%s: %s failed: %s", self.what, what, failure.error)
            await self.call_failed(failure, what)
            return None

    async def post_new(self, **params: Any) -> Any:
        """chat.postMessage for a new message (a card, an alert), without link previews: the
        answer, or the SlackFailure to be tried again later (not waited out here)."""
        try:
            return await self.client.chat_postMessage(
                unfurl_links=False, unfurl_media=False, **params
            )
        except CALL_ERRORS as problem:
            return failure_of(problem)

    async def call_failed(self, failure: SlackFailure, what: str) -> None:
        """What else to do when an inline call failed for good (nothing, here)."""

    async def display_name(self, user_id: str, *, fallback: Any = None) -> str:
        """The name Slack shows for a person (display name, else real name), remembered; the
        given fallback, else the id, when Slack cannot say."""
        if user_id in self._names:
            return self._names[user_id]
        answer = await self._call("looking up a name", self.client.users_info, user=user_id)
        if answer is None:
            return str(fallback or user_id)
        found = answer.get("user") or {}
        profile = found.get("profile") or {}
        name = str(
            profile.get("display_name")
            or profile.get("real_name")
            or found.get("real_name")
            or found.get("name")
            or fallback
            or user_id
        )
        self._names[user_id] = name
        return name
