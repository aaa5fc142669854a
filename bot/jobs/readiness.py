"""Readiness (docs/operations.md, "Health and readiness"): whether each thing a customer's
message needs is there, for ``GET /ready``, and an operator alert when one stays down.

``/health`` only says the gateway is running. ``/ready`` asks the Rasa server (through the
gateway's own channel, so a loaded model and the right internal secret), the action server,
the records database, Rasa's tracker store and Redis when it is configured. A dependency down
for longer than ``REDRESS_OUTAGE_ALERT_AFTER_SECONDS`` raises one operator alert (the alerts
API, ``python -m redress alerts`` and the Slack alerts channel); its recovery closes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.transactions import in_transaction
from redress.clock import utcnow
from redress.db.models import OperatorAlert
from redress.incidents.notices import raise_alert
from redress.internal_secret import bearer, internal_secret
from redress.settings import Settings

logger = logging.getLogger("redress.gateway.readiness")

CHECK_TIMEOUT_SECONDS = 3.0
# Rasa loading its model can take minutes on a busy machine: a dependency this gateway has
# not yet seen up is not an outage until this long after the gateway started.
STARTUP_GRACE = timedelta(minutes=5)
KIND = "dependency_down"
NAMES = {
    "rasa": "the Rasa server",
    "actions": "the action server",
    "records": "the records database",
    "tracker_store": "Rasa's tracker store",
    "redis": "Redis",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""


class Readiness:
    def __init__(
        self,
        settings: Settings,
        redis: Redis | None,
        *,
        startup_grace: timedelta = STARTUP_GRACE,
    ) -> None:
        self._settings = settings
        self._started = utcnow()
        self._startup_grace = startup_grace
        # Dependencies seen up since this gateway started: their outages count at once.
        self.seen_up: set[str] = set()
        self._redis = redis
        self._http = httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS)
        self._secret = settings.internal_secret or internal_secret()
        self._tracker: Engine | None = None
        self.down_since: dict[str, datetime] = {}

    async def check(self) -> dict[str, Check]:
        """Every dependency, checked at once, each within a few seconds."""
        checks: dict[str, Callable[[], Awaitable[Check]]] = {
            "rasa": self._rasa,
            "actions": self._actions,
            "records": self._records,
            "tracker_store": self._tracker_store,
        }
        if self._redis is not None:
            checks["redis"] = self._redis_ping
        results = await asyncio.gather(*(_bounded(check()) for check in checks.values()))
        return dict(zip(checks, results, strict=True))

    async def _rasa(self) -> Check:
        url = f"{self._settings.rasa_url}/webhooks/gateway/"
        answer = await self._http.get(url, headers={"Authorization": bearer(self._secret)})
        if answer.status_code == 401:
            return Check(False, "refused the internal secret")
        return _status(answer)

    async def _actions(self) -> Check:
        answer = await self._http.get(f"{self._settings.action_server_url}/health")
        return _status(answer)

    async def _records(self) -> Check:
        await in_transaction(self._settings.database_url, _select_one)
        return Check(True)

    async def _tracker_store(self) -> Check:
        return await run_in_threadpool(self._ping_tracker)

    def _ping_tracker(self) -> Check:
        url = self._settings.tracker_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return Check(False, "no tracker database yet")  # Rasa makes it; never made here
        if self._tracker is None:
            self._tracker = create_engine(
                _our_driver(url), pool_pre_ping=True, connect_args=_connect_timeout(url)
            )
        with self._tracker.connect() as connection:
            connection.execute(text("SELECT 1"))
        return Check(True)

    async def _redis_ping(self) -> Check:
        assert self._redis is not None
        return Check(bool(await self._redis.ping()))

    async def watch(self) -> None:
        """One round of the outage watch: raises an alert for a dependency down too long,
        closes it when the dependency is back."""
        checks = await self.check()
        now = utcnow()
        after = timedelta(seconds=self._settings.outage_alert_after_seconds)
        starting = now - self._started < self._startup_grace
        for name, result in checks.items():
            if result.ok:
                self.seen_up.add(name)
            if not result.ok:
                since = self.down_since.setdefault(name, now)
                still_starting = starting and name not in self.seen_up
                if now - since >= after and not still_starting and checks["records"].ok:
                    await in_transaction(
                        self._settings.database_url, _raise, name, since, result.detail, now
                    )
            elif name in self.down_since:
                since = self.down_since.pop(name)
                logger.info("%s is back after %s", NAMES[name], now - since)
                if checks["records"].ok:
                    await in_transaction(self._settings.database_url, _close, name, now)

    async def close(self) -> None:
        await self._http.aclose()
        if self._tracker is not None:
            self._tracker.dispose()


async def _bounded(check: Awaitable[Check]) -> Check:
    """A check's result; a failure or a check slower than the timeout is "down", with why."""
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS + 1)
    except asyncio.TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as problem:
        return Check(False, type(problem).__name__)


def _status(answer: httpx.Response) -> Check:
    ok = answer.status_code == 200
    return Check(ok, "" if ok else f"HTTP {answer.status_code}")


def _select_one(session: Session) -> None:
    session.execute(text("SELECT 1"))


def _our_driver(url: str) -> str:
    """Rasa's tracker URL with the driver this environment has (psycopg 3)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _connect_timeout(url: str) -> dict[str, object]:
    return {"connect_timeout": int(CHECK_TIMEOUT_SECONDS)} if url.startswith("postgres") else {}


def _key(name: str) -> str:
    return f"{KIND}:{name}"


def _raise(session: Session, name: str, since: datetime, detail: str, now: datetime) -> None:
    minutes = max(1, int((now - since).total_seconds() // 60))
    if raise_alert(
        session,
        kind=KIND,
        dedupe_key=_key(name),
        summary=(
            f"{NAMES[name][0].upper()}{NAMES[name][1:]} has been unreachable for {minutes} "
            f"minute{'s' if minutes != 1 else ''} ({detail or 'down'}). Customers are told "
            "their message was kept but not read."
        ),
        detail={"dependency": name, "since": since.isoformat(), "detail": detail},
        now=now,
    ):
        logger.error("%s has been down since %s: alert raised", NAMES[name], since.isoformat())


def _close(session: Session, name: str, now: datetime) -> None:
    """Closes the open alert for ``name`` (acknowledged as recovered), freeing its key."""
    alert = session.scalar(select(OperatorAlert).where(OperatorAlert.dedupe_key == _key(name)))
    if alert is None:
        return
    alert.dedupe_key = f"{_key(name)}:closed:{alert.id}"
    alert.acknowledged_at = alert.acknowledged_at or now
    alert.acknowledged_by = alert.acknowledged_by or "recovered"
    alert.detail = {**(alert.detail or {}), "recovered_at": now.isoformat()}
