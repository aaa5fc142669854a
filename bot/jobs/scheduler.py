"""The gateway's time-driven work: delivering the outbox, keeping incident and case promises and
applying the retention periods of business/privacy.yml (and, when a billing webhook is
configured, sending granted compensation to it; with the Slack agent desk on, posting case and
handoff cards, checking on customers who wait for a person, and posting operator alerts;
without it, the web console's desk checks on waiting customers; and the console's pages hear
of new handoffs and cases).

APScheduler runs the interval jobs in the gateway's event loop. Nothing about what is due
lives in the scheduler: pending messages are rows in the outbox, promises are each
incident's "next update by" and grants to send are rows in ``fulfilment_deliveries``, so a
restarted gateway simply carries on from the database. Every job takes the time from an
injectable clock, so tests can move time on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bot.console.desk import ConsoleDesk
    from bot.jobs.delivery import Delivery
    from bot.jobs.follow_ups import FollowUps
    from bot.jobs.fulfilment import Fulfilment
    from bot.jobs.promises import PromiseCheck
    from bot.jobs.readiness import Readiness
    from bot.slack.alerts import AlertPoster
    from bot.slack.desk import Desk


class Scheduler:
    """The interval jobs, and a way to run delivery at once after a change."""

    DELIVER = "deliver-outbox"
    PROMISES = "incident-promises"
    CASE_PROMISES = "case-promises"
    FULFIL = "send-grants"
    HANDOFFS = "post-handoffs"
    CASES = "post-cases"
    WAITS = "handoff-waits"
    ALERTS = "post-alerts"
    READY = "watch-dependencies"
    REPLAY = "answer-kept-messages"
    RETENTION = "retention"
    FOLLOW_UPS = "follow-ups"
    CONSOLE_NEWS = "console-news"
    # The first retention run waits this long (or its interval, if shorter), so it never
    # slows a gateway that is starting up or restarting.
    RETENTION_FIRST_RUN_AFTER = timedelta(minutes=5)

    def __init__(
        self,
        delivery: Delivery,
        *,
        outbox_seconds: float,
        promise_seconds: float,
        fulfilment: Fulfilment | None = None,
        desk: Desk | None = None,
        alerts: AlertPoster | None = None,
        wait_seconds: float = 30,
        readiness: Readiness | None = None,
        ready_seconds: float = 15,
        replay: Callable[[], Awaitable[None]] | None = None,
        retention: Callable[[], Awaitable[object]] | None = None,
        retention_seconds: float = 3600,
        promises: PromiseCheck | None = None,
        follow_ups: FollowUps | None = None,
        follow_up_seconds: float = 300,
        console: ConsoleDesk | None = None,
    ) -> None:
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        # Both run once as soon as the gateway starts, then at their intervals.
        common = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": None,
            "next_run_time": datetime.now(timezone.utc),
        }
        self._scheduler.add_job(
            delivery.deliver_due, "interval", seconds=outbox_seconds, id=self.DELIVER, **common
        )
        self._scheduler.add_job(
            delivery.check_promises,
            "interval",
            seconds=promise_seconds,
            id=self.PROMISES,
            **common,
        )
        if promises is not None:
            # Promises made about cases: warned before they fall due, missed honestly.
            self._scheduler.add_job(
                promises.check_due,
                "interval",
                seconds=promise_seconds,
                id=self.CASE_PROMISES,
                **common,
            )
            promises.on_queued = self.wake
        if follow_ups is not None and follow_up_seconds > 0:
            # "Is everything still working?" a while after each resolution.
            self._scheduler.add_job(
                follow_ups.send_due,
                "interval",
                seconds=follow_up_seconds,
                id=self.FOLLOW_UPS,
                **common,
            )
            follow_ups.on_queued = self.wake
        if fulfilment is not None:
            # Granted compensation to the billing webhook: only when one is configured.
            self._scheduler.add_job(
                fulfilment.deliver_due,
                "interval",
                seconds=outbox_seconds,
                id=self.FULFIL,
                **common,
            )
        if desk is not None:
            # Handoff cards for the Slack agent desk (posted, or tried again): only with Slack.
            self._scheduler.add_job(
                desk.post_due, "interval", seconds=outbox_seconds, id=self.HANDOFFS, **common
            )
            # Every new case's card, to its team's channel (posted, or tried again).
            self._scheduler.add_job(
                desk.post_due_cases, "interval", seconds=outbox_seconds, id=self.CASES, **common
            )
            # Customers waiting for a person: updates, follow-up offers, re-alerts.
            self._scheduler.add_job(
                desk.check_waits, "interval", seconds=wait_seconds, id=self.WAITS, **common
            )
            desk.on_queued = self.wake_all
        elif console is not None:
            # No Slack: the console is the desk, and keeps waiting customers informed (once
            # an operator account exists, so someone can answer).
            self._scheduler.add_job(
                console.check_waits, "interval", seconds=wait_seconds, id=self.WAITS, **common
            )
            console.on_queued = self.wake
        if console is not None:
            # New handoffs and cases, shown live on this gateway's console pages.
            self._scheduler.add_job(
                console.check_news,
                "interval",
                seconds=outbox_seconds,
                id=self.CONSOLE_NEWS,
                **common,
            )
        if alerts is not None:
            # Operator alerts to the desk's channel.
            self._scheduler.add_job(
                alerts.post_due, "interval", seconds=promise_seconds, id=self.ALERTS, **common
            )

        if replay is not None:
            # Customer messages kept while the assistant was down: answered when it is back.
            self._scheduler.add_job(
                replay, "interval", seconds=outbox_seconds, id=self.REPLAY, **common
            )
        if retention is not None and retention_seconds > 0:
            # What is older than business/privacy.yml keeps: anonymised or deleted.
            first = min(self.RETENTION_FIRST_RUN_AFTER, timedelta(seconds=retention_seconds))
            self._scheduler.add_job(
                retention,
                "interval",
                seconds=retention_seconds,
                id=self.RETENTION,
                **{**common, "next_run_time": datetime.now(timezone.utc) + first},
            )
        if readiness is not None:
            # Dependencies down too long raise an operator alert; back, it is closed.
            self._scheduler.add_job(
                readiness.watch, "interval", seconds=ready_seconds, id=self.READY, **common
            )

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def wake(self) -> None:
        """Runs delivery now (an operator just changed an incident)."""
        if self._scheduler.running:
            self._scheduler.modify_job(self.DELIVER, next_run_time=datetime.now(timezone.utc))

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    def wake_all(self) -> None:
        """Delivers messages and sends grants now (the agent desk just queued some)."""
        self.wake()
        self.wake_fulfilment()

    def wake_fulfilment(self) -> None:
        """Sends grants now (a person just approved one), when a webhook is configured."""
        if self._scheduler.running and self._scheduler.get_job(self.FULFIL) is not None:
            self._scheduler.modify_job(self.FULFIL, next_run_time=datetime.now(timezone.utc))
