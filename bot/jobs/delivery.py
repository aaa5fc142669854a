"""Delivering the outbox to customers and keeping incident promises, through the same
channels as every other message. The scheduler (``bot/jobs/scheduler.py``) runs it; what is
due lives in the database, so a restarted gateway simply carries on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from bot.api.webchat import CHANNEL as WEB_CHANNEL
from bot.relay import Relay, message_json
from redress.clock import utcnow
from redress.db.session import unit_of_work
from redress.delivery import outbox
from redress.incidents import notices as incident_notices

if TYPE_CHECKING:
    pass

logger = logging.getLogger("redress.gateway.delivery")

Clock = Callable[[], datetime]


class Delivery:
    """Sends what the outbox holds, through the same channels as every other message."""

    def __init__(
        self,
        database_url: str,
        relay: Relay,
        zone: str,
        *,
        clock: Clock = utcnow,
        batch: int = 50,
        lease: timedelta = outbox.DEFAULT_LEASE,
        max_attempts: int = 8,
    ) -> None:
        self._database_url = database_url
        self._relay = relay
        self._zone = zone
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts

    async def deliver_due(self) -> int:
        """Delivers every message that is due; returns how many were delivered."""
        delivered = 0
        while True:
            claimed, claimed_at = await run_in_threadpool(self._claim)
            for outbox_id in claimed:
                delivered += await self._deliver(outbox_id, claimed_at)
            if len(claimed) < self._batch:
                return delivered

    async def check_promises(self) -> list[str]:
        """Holding messages and alerts for promised update times that passed."""

        def work() -> list[str]:
            with unit_of_work(self._database_url) as session:
                return incident_notices.check_promises(session, self._clock(), self._zone)

        handled = await run_in_threadpool(work)
        if handled:
            logger.warning("promised updates missed for %s", ", ".join(handled))
            await self.deliver_due()
        return handled

    def _claim(self) -> tuple[list[int], datetime]:
        now = self._clock()
        with unit_of_work(self._database_url) as session:
            claimed = outbox.claim_due(session, now, limit=self._batch, lease=self._lease)
            return claimed, now

    def _prepare(self, outbox_id: int, claimed_at: datetime) -> outbox.Prepared | None:
        with unit_of_work(self._database_url) as session:
            prepared = outbox.prepare(session, outbox_id, claimed_at, self._clock())
            if prepared is not None:
                session.expunge(prepared.message)
            return prepared

    def _confirmed(self, outbox_id: int) -> tuple[bool, bool]:
        with unit_of_work(self._database_url) as session:
            return outbox.confirmed(session, outbox_id)

    def _finish(self, outbox_id: int, **outcome: object) -> str:
        with unit_of_work(self._database_url) as session:
            return outbox.finish(
                session,
                outbox_id,
                self._clock(),
                max_attempts=self._max_attempts,
                **outcome,  # type: ignore[arg-type]
            )

    async def _deliver(self, outbox_id: int, claimed_at: datetime) -> int:
        try:
            prepared = await run_in_threadpool(self._prepare, outbox_id, claimed_at)
            if prepared is None:
                logger.info("outbox message %s was taken over by another gateway", outbox_id)
                return 0
            if prepared.confirmed:
                # Sent before a restart, and the channel confirmed it: never send it again.
                await run_in_threadpool(self._finish, outbox_id, delivered=True)
                return 1
            if not prepared.reachable:
                await run_in_threadpool(self._finish, outbox_id, delivered=False, unreachable=True)
                return 0
            confirms = self._relay.confirms_delivery(prepared.channel)
            if not confirms and prepared.channel != WEB_CHANNEL:
                # A channel this gateway cannot send on (Telegram not configured here): keep
                # the message for a later try rather than call it sent.
                error = f"no {prepared.channel} sender on this gateway"
                await run_in_threadpool(self._finish, outbox_id, delivered=False, error=error)
                logger.warning("outbox message %s not delivered: %s", outbox_id, error)
                return 0
            shown = message_json(prepared.message)
            await self._relay.deliver(prepared.conversation_id, prepared.channel, shown)
            if not confirms:
                # Web chat: recorded and published; the page shows it live or when it loads.
                await run_in_threadpool(self._finish, outbox_id, delivered=True)
                return 1
            was_confirmed, reachable = await run_in_threadpool(self._confirmed, outbox_id)
            status = await run_in_threadpool(
                self._finish,
                outbox_id,
                delivered=was_confirmed,
                unreachable=not reachable,
                error=None if was_confirmed else f"{prepared.channel} did not accept it",
            )
        except Exception as problem:  # one bad message must not stop the others
            logger.exception("delivering outbox message %s failed", outbox_id)
            status = await run_in_threadpool(
                self._finish, outbox_id, delivered=False, error=f"{type(problem).__name__}"
            )
        if status != outbox.SENT:
            logger.warning("outbox message %s not delivered: %s", outbox_id, status)
        return int(status == outbox.SENT)
