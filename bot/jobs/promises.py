"""The gateway's watch over promises made to customers about their cases: every
``REDRESS_PROMISE_CHECK_SECONDS`` each open promise that is about to fall due is warned to
its team, and each one that has passed is missed, its team told and its customer told
honestly (redress/cases/promises.py). It runs with or without Slack: the team's notices are
operator alerts, listed by ``GET /api/alerts`` and posted to Slack when the desk is on.

Each promise is handled in its own transaction, so one that fails leaves the others to go
on; what was done is in the database, so a restarted or second gateway does it once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from redress.business import Business
from redress.cases import promises
from redress.clock import utcnow
from redress.db.session import unit_of_work

logger = logging.getLogger("redress.gateway.promises")


class PromiseCheck:
    """Warns and misses case promises as they fall due; wakes delivery when customers have
    messages waiting."""

    def __init__(
        self,
        database_url: str,
        business: Business,
        *,
        clock: Callable[[], datetime] = utcnow,
        warn_before: timedelta = promises.WARN_BEFORE,
    ) -> None:
        self._database_url = database_url
        self._business = business
        self._clock = clock
        self._warn_before = warn_before
        # Called after customers' messages were queued (the scheduler wakes delivery).
        self.on_queued: Callable[[], None] | None = None

    async def check_due(self) -> promises.Checked:
        checked = await run_in_threadpool(self._check)
        if checked.warned or checked.missed:
            logger.warning(
                "promises due soon: %d warned; promises missed: %d (%d customers told)",
                len(checked.warned),
                len(checked.missed),
                len(checked.told),
            )
        if checked.queued and self.on_queued is not None:
            self.on_queued()
        return checked

    def _check(self) -> promises.Checked:
        now = self._clock()
        with unit_of_work(self._database_url) as session:
            due = promises.due_for_check(session, now)
        checked = promises.Checked()
        for promise_id in due:
            done = promises.Checked()
            try:
                with unit_of_work(self._database_url) as session:
                    promises.check_one(
                        session,
                        promise_id,
                        self._business,
                        now,
                        done,
                        warn_before=self._warn_before,
                    )
            except Exception:  # one bad promise must not stop the others; tried next round
                logger.exception("checking promise %s failed", promise_id)
                continue
            # Counted once committed.
            for name in ("warned", "missed", "told", "cancelled"):
                getattr(checked, name).extend(getattr(done, name))
        return checked
