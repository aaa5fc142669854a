"""The gateway application: the composition root that wires settings, the database, Rasa
and the channels together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import alerts_api, compensation_api, incidents_api, records_api, webchat
from bot.delivery import Delivery, Scheduler
from bot.errors import error
from bot.fulfilment import Fulfilment
from bot.live import LiveHub
from bot.rasa_client import RasaClient
from bot.relay import Relay
from bot.shared_state import (
    LocalRateLimiter,
    RedisLiveHub,
    RedisRateLimiter,
    RedisTurns,
)
from bot.slack import Desk, SlackChannel
from bot.telegram import TelegramChannel
from bot.telegram.webhook import receive_update as telegram_webhook
from redress.business import Business
from redress.clock import utcnow
from redress.settings import Settings

logger = logging.getLogger("redress.gateway")
STATIC = Path(__file__).with_name("static")
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


class SecurityHeaders:
    """Adds the headers every response should carry, and a CSP for the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal_error", "Something went wrong on our side. Please try again.")


def create_app(
    settings: Settings,
    business: Business,
    rasa: RasaClient | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The gateway. ``clock`` is the time the agent desk works by (tests move it on)."""
    rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_timeout_seconds)
    # Several gateways share live pushes, rate limits and turn order through Redis; one
    # keeps them in memory (bot/shared_state.py).
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub: LiveHub = RedisLiveHub(redis) if redis is not None else LiveHub()
    turns = (
        RedisTurns(
            redis,
            hold_seconds=settings.rasa_timeout_seconds + 60,
            wait_seconds=settings.rasa_timeout_seconds + 30,
        )
        if redis is not None
        else None
    )
    relay = Relay(
        settings.database_url, rasa, hub, business.brand.assistant_unavailable, turns=turns
    )
    telegram = (
        TelegramChannel(settings.telegram, settings.database_url, relay, business.brand)
        if settings.telegram is not None
        else None
    )

    # The Slack agent desk, when a bot token is set: the relay hands it the conversations a
    # person has taken over.
    slack = (
        SlackChannel(
            Desk(
                settings.slack,
                settings.database_url,
                relay,
                business,
                clock=clock,
                # Grants approved at the desk go to the billing webhook when there is one.
                fulfil=bool(settings.fulfilment_webhook_url and settings.fulfilment_webhook_secret),
            ),
            settings.database_url,
        )
        if settings.slack is not None
        else None
    )

    delivery = Delivery(settings.database_url, relay, business.hours.timezone)
    # Granted compensation goes to the billing webhook only when one is configured; without
    # it the ledger is the record.
    fulfilment = (
        Fulfilment(
            settings.database_url,
            settings.fulfilment_webhook_url,
            settings.fulfilment_webhook_secret,
            timeout_seconds=settings.fulfilment_timeout_seconds,
        )
        if settings.fulfilment_webhook_url and settings.fulfilment_webhook_secret
        else None
    )
    scheduler = Scheduler(
        delivery,
        outbox_seconds=settings.outbox_poll_seconds,
        promise_seconds=settings.promise_check_seconds,
        fulfilment=fulfilment,
        desk=slack.desk if slack is not None else None,
        alerts=slack.alerts if slack is not None else None,
        wait_seconds=business.handoff.waiting.check_every_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if isinstance(hub, RedisLiveHub):
            await hub.start()
        if slack is not None:
            await slack.start()  # Socket Mode connects in the background; HTTP mode waits
        if telegram is not None:
            await telegram.start()  # connects in the background; an outage is only logged
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown()
            if slack is not None:
                await slack.stop()
            if telegram is not None:
                await telegram.stop()
            if fulfilment is not None:
                await fulfilment.close()
            await rasa.close()
            if isinstance(hub, RedisLiveHub):
                await hub.stop()
            if redis is not None:
                await redis.aclose()

    channel_routes: list[Route] = []
    if telegram is not None and telegram.webhook_secret is not None:
        channel_routes.append(Route("/telegram/webhook", telegram_webhook, methods=["POST"]))
    if slack is not None and slack.mode == "http":
        channel_routes.append(Route("/slack/events", slack.endpoint, methods=["POST"]))

    app = Starlette(
        routes=[
            *channel_routes,
            Route("/", index),
            Route("/health", health),
            Route("/api/messages", webchat.post_message, methods=["POST"]),
            Route("/api/conversations/{conversation_id}", records_api.get_conversation),
            Route(
                "/api/conversations/{conversation_id}/messages",
                webchat.post_agent_message,
                methods=["POST"],
            ),
            WebSocketRoute("/api/conversations/{conversation_id}/live", webchat.live),
            Route("/api/incidents", incidents_api.list_incidents),
            Route("/api/incidents", incidents_api.create_incident, methods=["POST"]),
            Route("/api/incidents/{incident_id}", incidents_api.get_incident),
            Route("/api/incidents/{incident_id}", incidents_api.update_incident, methods=["PATCH"]),
            Route(
                "/api/incidents/{incident_id}/resolve",
                incidents_api.resolve_incident,
                methods=["POST"],
            ),
            Route("/api/alerts", alerts_api.list_alerts),
            Route(
                "/api/alerts/{alert_id}/acknowledge",
                alerts_api.acknowledge_alert,
                methods=["POST"],
            ),
            Route("/api/compensation/offers", compensation_api.list_offers),
            Route(
                "/api/compensation/offers/{reference}/approve",
                compensation_api.approve,
                methods=["POST"],
            ),
            Route(
                "/api/compensation/offers/{reference}/reject",
                compensation_api.reject,
                methods=["POST"],
            ),
            Route("/api/compensation/grants", compensation_api.list_grants),
            Route("/api/compensation/spend", compensation_api.spend),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
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
    app.state.settings = settings
    app.state.business = business
    app.state.hub = hub
    app.state.relay = relay
    app.state.telegram = telegram
    app.state.slack = slack
    app.state.delivery = delivery
    app.state.fulfilment = fulfilment
    app.state.scheduler = scheduler
    per_conversation = settings.messages_per_minute_per_conversation
    per_address = settings.messages_per_minute_per_address
    app.state.rate_limits = (
        {
            "conversation": RedisRateLimiter(redis, "conversation", per_conversation),
            "address": RedisRateLimiter(redis, "address", per_address),
        }
        if redis is not None
        else {
            "conversation": LocalRateLimiter(per_conversation),
            "address": LocalRateLimiter(per_address),
        }
    )
    return app
