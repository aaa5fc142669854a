"""The gateway's retention job: every ``REDRESS_RETENTION_CHECK_SECONDS`` (an hour by
default) what is older than business/privacy.yml keeps is anonymised or deleted, a batch per
store at a time (redress/privacy/retention.py; docs/privacy.md, "Retention")."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from redress.clock import utcnow
from redress.privacy import retention
from redress.privacy.config import Retention

logger = logging.getLogger("redress.gateway.retention")


class RetentionJob:
    """Runs retention on the records and Rasa's tracker store, off the event loop."""

    def __init__(
        self,
        database_url: str,
        tracker_url: str | None,
        days: Retention,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch: int = retention.DEFAULT_BATCH,
    ) -> None:
        self._database_url = database_url
        self._tracker_url = tracker_url
        self._days = days
        self._clock = clock
        self._batch = batch

    async def run(self) -> retention.RetentionReport:
        report = await run_in_threadpool(self._run)
        if report.changed():
            logger.info("%s", report.text())
        return report

    def _run(self) -> retention.RetentionReport:
        return retention.run(
            self._database_url,
            self._tracker_url,
            self._days,
            self._clock(),
            batch=self._batch,
            performed_by="gateway",
        )
