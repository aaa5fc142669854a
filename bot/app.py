"""The gateway application: the composition root that wires settings, the database, Rasa
and the channels together. ``create_app`` builds the services, mounts the routes and starts
the jobs; nothing else is decided here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Route

from bot.api.routes import routes
from bot.api.site import SecurityHeaders, http_error, server_error
from bot.console.desk import ConsoleDesk
from bot.console.routes import console_routes
from bot.identity import Verifier
from bot.jobs.delivery import Delivery
from bot.jobs.follow_ups import FollowUps
from bot.jobs.fulfilment import Fulfilment
from bot.jobs.promises import PromiseCheck
from bot.jobs.readiness import Readiness
from bot.jobs.retention import RetentionJob
from bot.jobs.scheduler import Scheduler
from bot.live import LiveHub
from bot.rasa_client import RasaClient
from bot.relay import Relay
from bot.shared_state import LocalRateLimiter, RedisLiveHub, RedisRateLimiter, RedisTurns
from bot.slack import Desk, SlackChannel
from bot.telegram import TelegramChannel
from bot.telegram.webhook import receive_update as telegram_webhook
from redress.business import Business
from redress.clock import utcnow
from redress.identity.config import IdentitySettings
from redress.settings import Settings


@dataclass
class Services:
    """Everything the gateway runs, built once from the settings. What is not configured
    (Redis, Telegram, Slack, the billing webhook) is None."""

    settings: Settings
    business: Business
    rasa: RasaClient
    redis: Redis | None
    hub: LiveHub
    relay: Relay
    telegram: TelegramChannel | None
    slack: SlackChannel | None
    delivery: Delivery
    fulfilment: Fulfilment | None
    scheduler: Scheduler
    rate_limits: dict[str, LocalRateLimiter | RedisRateLimiter]
    readiness: Readiness
    # The watch over promises made about cases (run by the scheduler).
    promises: PromiseCheck | None = None
    # The agent desk in the web console (always built; on once an operator account exists).
    console_desk: ConsoleDesk | None = None


def build_services(
    settings: Settings,
    business: Business,
    rasa: RasaClient | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    identity: IdentitySettings | None = None,
) -> Services:
    rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_timeout_seconds)
    # Several gateways share live pushes, rate limits and turn order through Redis; one
    # keeps them in memory (bot/shared_state.py).
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub: LiveHub = RedisLiveHub(redis) if redis is not None else LiveHub()
    turns = None
    if redis is not None:
        timeout = settings.rasa_timeout_seconds
        turns = RedisTurns(redis, hold_seconds=timeout + 60, wait_seconds=timeout + 30)
    relay = Relay(
        settings.database_url,
        rasa,
        hub,
        business.brand.assistant_unavailable,
        turns=turns,
        # The wait for Rasa and then some: a message left unanswered longer was left by a
        # gateway that stopped mid-turn.
        working_for=timedelta(seconds=settings.rasa_timeout_seconds + 30),
        taking_longer=(settings.slow_turn_notice_seconds, business.brand.taking_longer)
        if settings.slow_turn_notice_seconds
        else None,
        secrets_hidden=business.brand.secrets_hidden,
        business=business,
    )
    identity = identity or IdentitySettings.from_env()
    relay.attach_verifier(Verifier(settings.database_url, identity, business.brand.business_name))
    telegram = None
    if settings.telegram is not None:
        telegram = TelegramChannel(
            settings.telegram,
            settings.database_url,
            relay,
            business.brand,
            max_message_chars=settings.max_message_chars,
            # Each chat has the web chat's per-conversation limit.
            rate_limit=_rate_limits(settings, redis)["conversation"],
        )
    slack = _slack(settings, business, relay, clock)
    # Attached to the relay after Slack's desk: both hear every customer message and turn.
    console_desk = ConsoleDesk(
        settings.database_url, relay, hub, business, clock=clock, slack=slack is not None
    )
    fulfilment = _fulfilment(settings)
    delivery = Delivery(settings.database_url, relay, business.hours.timezone)
    readiness = Readiness(settings, redis)
    promises = PromiseCheck(
        settings.database_url,
        business,
        clock=clock,
        warn_before=timedelta(minutes=settings.promise_warn_minutes),
    )
    scheduler = Scheduler(
        delivery,
        outbox_seconds=settings.outbox_poll_seconds,
        promise_seconds=settings.promise_check_seconds,
        fulfilment=fulfilment,
        desk=slack.desk if slack is not None else None,
        alerts=slack.alerts if slack is not None else None,
        wait_seconds=business.handoff.waiting.check_every_seconds,
        readiness=readiness,
        ready_seconds=settings.ready_check_seconds,
        replay=relay.replay_due,
        retention=RetentionJob(
            settings.database_url, settings.tracker_url, business.privacy.retention, clock=clock
        ).run,
        retention_seconds=settings.retention_check_seconds,
        promises=promises,
        follow_ups=FollowUps(settings.database_url, business, clock=clock),
        follow_up_seconds=settings.follow_up_check_seconds,
        console=console_desk,
    )
    return Services(
        settings,
        business,
        rasa,
        redis,
        hub,
        relay,
        telegram,
        slack,
        delivery,
        fulfilment,
        scheduler,
        _rate_limits(settings, redis),
        readiness,
        promises,
        console_desk,
    )


def _webhook(settings: Settings) -> bool:
    """Grants go to the billing webhook only when one is configured; without it the ledger
    is the record."""
    return bool(settings.fulfilment_webhook_url and settings.fulfilment_webhook_secret)


def _slack(
    settings: Settings, business: Business, relay: Relay, clock: Callable[[], datetime]
) -> SlackChannel | None:
    """The Slack agent desk, when a bot token is set: the relay hands it the conversations
    a person has taken over."""
    if settings.slack is None:
        return None
    desk = Desk(
        settings.slack,
        settings.database_url,
        relay,
        business,
        clock=clock,
        fulfil=_webhook(settings),
    )
    return SlackChannel(desk, settings.database_url)


def _fulfilment(settings: Settings) -> Fulfilment | None:
    if not _webhook(settings):
        return None
    return Fulfilment(
        settings.database_url,
        settings.fulfilment_webhook_url,
        settings.fulfilment_webhook_secret,
        timeout_seconds=settings.fulfilment_timeout_seconds,
    )


def _rate_limits(
    settings: Settings, redis: Redis | None
) -> dict[str, LocalRateLimiter | RedisRateLimiter]:
    per_conversation = settings.messages_per_minute_per_conversation
    per_address = settings.messages_per_minute_per_address
    if redis is not None:
        return {
            "conversation": RedisRateLimiter(redis, "conversation", per_conversation),
            "address": RedisRateLimiter(redis, "address", per_address),
            "sign_in": RedisRateLimiter(redis, "sign_in", settings.sign_ins_per_minute),
        }
    return {
        "conversation": LocalRateLimiter(per_conversation),
        "address": LocalRateLimiter(per_address),
        "sign_in": LocalRateLimiter(settings.sign_ins_per_minute),
    }


def _channel_routes(services: Services) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    telegram, slack = services.telegram, services.slack
    if telegram is not None and telegram.webhook_secret is not None:
        found.append(Route("/telegram/webhook", telegram_webhook, methods=["POST"]))
    if slack is not None and slack.mode == "http":
        found.append(Route("/slack/events", slack.endpoint, methods=["POST"]))
    return found


@asynccontextmanager
async def _running(services: Services) -> AsyncIterator[None]:
    """Starts the channels and the jobs; stops them, and closes every connection, at the end."""
    s = services
    if isinstance(s.hub, RedisLiveHub):
        await s.hub.start()
    if s.console_desk is not None:
        await s.console_desk.start()
    if s.slack is not None:
        await s.slack.start()  # Socket Mode connects in the background; HTTP mode waits
    if s.telegram is not None:
        await s.telegram.start()  # connects in the background; an outage is only logged
    s.scheduler.start()
    try:
        yield
    finally:
        s.scheduler.shutdown()
        if s.slack is not None:
            await s.slack.stop()
        if s.telegram is not None:
            await s.telegram.stop()
        if s.fulfilment is not None:
            await s.fulfilment.close()
        await s.rasa.close()
        await s.readiness.close()
        if isinstance(s.hub, RedisLiveHub):
            await s.hub.stop()
        if s.redis is not None:
            await s.redis.aclose()


def create_app(
    settings: Settings,
    business: Business,
    rasa: RasaClient | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    identity: IdentitySettings | None = None,
) -> Starlette:
    """The gateway. ``clock`` is the time the agent desk works by (tests move it on);
    ``identity`` the identity settings (read from the environment when not given)."""
    services = build_services(settings, business, rasa, clock=clock, identity=identity)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _running(services):
            yield

    app = Starlette(
        routes=[*_channel_routes(services), *routes(), *console_routes()],
        middleware=[
            Middleware(SecurityHeaders),
            # Only the origins the business lists may embed the widget on their own pages.
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.widget_origins),
                allow_methods=["POST"],
                allow_headers=["content-type"],
                max_age=3600,
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    # What the endpoints read from request.app.state.
    for name in ("settings", "business", "hub", "relay", "telegram", "slack", "delivery"):
        setattr(app.state, name, getattr(services, name))
    for name in ("fulfilment", "scheduler", "rate_limits", "readiness", "promises", "console_desk"):
        setattr(app.state, name, getattr(services, name))
    return app
