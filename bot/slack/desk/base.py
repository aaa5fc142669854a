"""The desk's shared state and Slack helpers: the client, the records, the relay, the clock,
one lock per thread, and alerts for failures an operator must fix."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.relay import Relay
from bot.slack.worker import AUTH_ERRORS, SlackFailure, SlackWorker, Sleep
from redress.business import Business
from redress.clock import utcnow
from redress.handoff import posting as handoff_posting
from redress.settings import SlackSettings

logger = logging.getLogger("redress.gateway.slack")

Clock = Callable[[], datetime]


class DeskBase(SlackWorker):
    """The agent desk's work: Slack Web API calls, the records, and the relay to customers."""

    what = "agent desk"

    def __init__(
        self,
        settings: SlackSettings,
        database_url: str,
        relay: Relay,
        business: Business,
        *,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        client: AsyncWebClient | None = None,
        fulfil: bool = False,
    ) -> None:
        self.settings = settings
        # Whether an approved grant goes to the billing webhook (one is configured).
        self._fulfil = fulfil
        # Called when the desk put messages for customers in the outbox (the scheduler's
        # wake-up, so they go now rather than at the next poll).
        self.on_queued: Callable[[], None] | None = None
        super().__init__(
            client or AsyncWebClient(token=settings.bot_token, base_url=settings.api_url),
            database_url,
            sleep=sleep,
            logger=logger,
        )
        self._relay = relay
        self.business = business
        self.clock = clock
        self._thread_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._posting = asyncio.Lock()
        relay.attach_desk(self)

    async def _tell_agent(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        await self._call(
            "telling an agent",
            self.client.chat_postEphemeral,
            channel=channel,
            user=user,
            thread_ts=thread_ts or None,
            text=text,
        )

    async def call_failed(self, failure: SlackFailure, what: str) -> None:
        if failure.needs_operator or failure.error == "ratelimited":
            await self.alert(failure, what)

    async def alert(
        self, failure: SlackFailure, what: str, *, setting: str = "SLACK_BOT_TOKEN"
    ) -> None:
        """Raises an operator alert for a Slack failure someone must fix (one a day per
        cause). ``setting`` names the token an authentication error points at."""
        now = self.clock()
        scope = setting if failure.error in AUTH_ERRORS else what
        key = f"desk:{failure.error}:{scope}:{now.date().isoformat()}"
        summary = f"The agent desk in Slack failed while {what} ({failure.error})."
        if failure.error in AUTH_ERRORS:
            summary += f" Check {setting}: Slack no longer accepts it."
        await self._db(
            lambda session: handoff_posting.raise_desk_alert(
                session, failure.error, now, key=key, summary=summary, detail={"while": what}
            )
        )
