"""The gateway's sender for granted compensation: POSTs each grant to the billing webhook.

Runs as an APScheduler job next to outbox delivery (``bot/delivery.py``), only when
``FULFILMENT_WEBHOOK_URL`` is set. The database says what is due
(``redress/compensation/fulfilment.py``), so a restarted gateway carries on where the last
one stopped. Time comes from an injectable
clock, so tests can move it on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from starlette.concurrency import run_in_threadpool

from redress.clock import utcnow
from redress.compensation import fulfilment
from redress.db.session import unit_of_work

logger = logging.getLogger("redress.gateway.fulfilment")

Clock = Callable[[], datetime]


class Fulfilment:
    """Sends what ``fulfilment_deliveries`` holds to the billing system, signed."""

    def __init__(
        self,
        database_url: str,
        url: str,
        secret: str,
        *,
        clock: Clock = utcnow,
        timeout_seconds: float = 10.0,
        batch: int = 20,
        lease: timedelta = fulfilment.DEFAULT_LEASE,
        max_attempts: int = fulfilment.MAX_ATTEMPTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._database_url = database_url
        self._url = url
        self._secret = secret
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        # A redirect is not a receipt: anything but a 2xx is tried again later.
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, transport=transport
        )

    async def deliver_due(self) -> int:
        """Sends every grant that is due; returns how many the receiver accepted."""
        sent = 0
        while True:
            claimed, claimed_at = await run_in_threadpool(self._claim)
            for delivery_id in claimed:
                sent += await self._deliver(delivery_id, claimed_at)
            if len(claimed) < self._batch:
                return sent

    async def close(self) -> None:
        await self._client.aclose()

    def _claim(self) -> tuple[list[int], datetime]:
        now = self._clock()
        with unit_of_work(self._database_url) as session:
            claimed = fulfilment.claim_due(session, now, limit=self._batch, lease=self._lease)
            return claimed, now

    def _prepare(self, delivery_id: int, claimed_at: datetime) -> fulfilment.Prepared | None:
        with unit_of_work(self._database_url) as session:
            return fulfilment.prepare(session, delivery_id, claimed_at, self._clock())

    def _finish(
        self, delivery_id: int, claimed_at: datetime, delivered: bool, error: str | None
    ) -> str:
        with unit_of_work(self._database_url) as session:
            return fulfilment.finish(
                session,
                delivery_id,
                claimed_at,
                self._clock(),
                delivered=delivered,
                error=error,
                max_attempts=self._max_attempts,
            )

    async def _post(self, prepared: fulfilment.Prepared) -> str | None:
        """Sends one grant; None when the receiver accepted it, else what went wrong."""
        timestamp = int(self._clock().timestamp())
        headers = fulfilment.signed_headers(
            self._secret, prepared.reference, prepared.body, timestamp
        )
        try:
            response = await self._client.post(self._url, content=prepared.body, headers=headers)
        except httpx.TimeoutException:
            return "no answer in time"
        except httpx.HTTPError as problem:
            return f"could not reach the billing system ({type(problem).__name__})"
        if 200 <= response.status_code < 300:
            return None
        return f"the billing system answered HTTP {response.status_code}"

    async def _deliver(self, delivery_id: int, claimed_at: datetime) -> int:
        prepared = None
        try:
            prepared = await run_in_threadpool(self._prepare, delivery_id, claimed_at)
            if prepared is None:
                logger.info("grant delivery %s was taken over by another gateway", delivery_id)
                return 0
            error = await self._post(prepared)
            status = await run_in_threadpool(
                self._finish, delivery_id, prepared.claimed_at, error is None, error
            )
        except Exception as problem:  # one bad row must not stop the others
            logger.exception("sending grant delivery %s failed", delivery_id)
            if prepared is None:
                return 0  # the claim lapses and the row is taken up again later
            status = await run_in_threadpool(
                self._finish, delivery_id, prepared.claimed_at, False, type(problem).__name__
            )
            error = type(problem).__name__
        if status != fulfilment.SENT:
            logger.warning(
                "grant %s not accepted by the billing system (%s): %s",
                prepared.reference,
                status,
                error,
            )
        return int(status == fulfilment.SENT)
