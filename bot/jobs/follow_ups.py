"""The gateway's follow-up after a resolution: every ``REDRESS_FOLLOW_UP_CHECK_SECONDS``
each case resolved longer ago than business/handoff.yml's
``after_resolution.follow_up_after_days`` gets its "is everything still working?", in its
team's opening hours, on the customer's own channel through the outbox
(redress/cases/follow_up.py). ``follow_up_after_days: 0`` turns it off.

What was sent is in the database (the resolution and its outbox message, written in one
transaction), so a restarted or second gateway sends each follow-up once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from redress.business import Business
from redress.cases import follow_up
from redress.clock import utcnow
from redress.db.session import unit_of_work

logger = logging.getLogger("redress.gateway.follow_ups")


class FollowUps:
    """Queues the follow-ups that are due; wakes delivery when it queued any."""

    def __init__(
        self, database_url: str, business: Business, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._database_url = database_url
        self._business = business
        self._clock = clock
        # Called after follow-ups were queued (the scheduler wakes delivery).
        self.on_queued: Callable[[], None] | None = None

    @property
    def after(self) -> timedelta | None:
        """How long after a resolution its follow-up goes; None: never (turned off)."""
        days = self._business.handoff.after_resolution.follow_up_after_days
        return timedelta(days=days) if days else None

    async def send_due(self) -> list[str]:
        """Queues each follow-up due now. Returns the case references asked about."""
        sent = await run_in_threadpool(self._send)
        if sent:
            logger.info("follow-ups queued for %d cases", len(sent))
            if self.on_queued is not None:
                self.on_queued()
        return sent

    def _send(self) -> list[str]:
        after = self.after
        if after is None:
            return []
        with unit_of_work(self._database_url) as session:
            return follow_up.send_due(session, self._business, self._clock(), after)
