"""The Slack side of the gateway: a slack_bolt ``AsyncApp`` that receives the desk's events
and button presses, in HTTP mode (Slack POSTs to the gateway's ``/slack/events``) or in
Socket Mode (the gateway connects out to Slack; no public address needed).

How a request flows::

    POST /slack/events ─┐                         (bolt's own middleware)
                        ├─► AsyncApp ─► signature check ─► auth ─► ignore own ─► url check
    Socket Mode ────────┘               (HTTP only: bad or                         │
                                        stale → 401)                               ▼
                                                       once_only: event_id / trigger seen?
                                                          │ yes → 200, nothing done
                                                          ▼ no
                          listeners: message · handoff buttons · case buttons · offer buttons
                                   (each hands its work to the desk, then acknowledges)

Bolt runs with ``process_before_response=False``: the answer goes back to Slack as soon as
the listener acknowledges (well within Slack's 3 seconds), and the desk does the work in the
background. Slack retries a delivery it thinks failed (``X-Slack-Retry-Num``), and may
deliver an event twice; the event id (``trigger_id`` for button presses) is recorded the
first time, in the database, so each is processed once, even across gateways and restarts.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.api._http import error
from bot.slack.alerts import ACKNOWLEDGE, AlertPoster
from bot.slack.card import APPROVE, HAND_BACK, REJECT, RESOLVE, TAKE_OVER
from bot.slack.case_card import CASE_BUTTONS, REASSIGN
from bot.slack.desk import Desk
from bot.slack.worker import AUTH_ERRORS, CALL_ERRORS, Sleep, failure_of
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records

logger = logging.getLogger("redress.gateway.slack")

RETRY_CONNECT_SECONDS = (5, 15, 30, 60, 120, 300)


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery from Slack: the Events API's ``event_id``, or an
    interaction's ``trigger_id`` (unique per press)."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("type") == "block_actions":
        if body.get("trigger_id"):
            return f"action:{body['trigger_id']}"
        action = (body.get("actions") or [{}])[0]
        user = (body.get("user") or {}).get("id")
        if action.get("action_ts") and user:
            return f"action:{user}:{action['action_ts']}"
    return None


def build_bolt_app(
    desk: Desk, alerts: AlertPoster, *, http_mode: bool, database_url: str
) -> AsyncApp:
    settings = desk.settings
    app = AsyncApp(
        client=desk.client,  # carries the bot token and the Web API's address
        signing_secret=settings.signing_secret or "",
        # In Socket Mode nothing arrives over HTTP, and there is no signing secret.
        request_verification_enabled=http_mode,
        process_before_response=False,
        logger=logging.getLogger("redress.gateway.slack.bolt"),
    )

    def first_sighting(key: str) -> bool:
        with unit_of_work(database_url) as session:
            return handoff_records.first_sighting(session, key)

    @app.middleware
    async def once_only(req: AsyncBoltRequest, resp: BoltResponse, next: Any) -> BoltResponse:
        key = delivery_key(req.body)
        if key is not None and not await run_in_threadpool(first_sighting, key):
            retry = (req.headers.get("x-slack-retry-num") or [None])[0]
            reason = (req.headers.get("x-slack-retry-reason") or [None])[0]
            logger.info(
                "Slack delivered %s again (retry %s, %s); already handled", key, retry, reason
            )
            return BoltResponse(status=200, body="")
        return await next()

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        desk.on_message(event)  # acknowledged automatically; the desk works in the background

    async def on_handoff_button(ack: Any, body: dict[str, Any]) -> None:
        desk.on_button(body)
        await ack()

    for action_id in (TAKE_OVER, HAND_BACK, RESOLVE):
        app.action(action_id)(on_handoff_button)

    async def on_offer_button(ack: Any, body: dict[str, Any]) -> None:
        desk.on_offer_button(body)  # approve or reject a pending offer, in the agent's name
        await ack()

    for action_id in (APPROVE, REJECT):
        app.action(action_id)(on_offer_button)

    async def on_case_button(ack: Any, body: dict[str, Any]) -> None:
        desk.on_case_button(body)  # claim, status, resolve, done, reassign: in the agent's name
        await ack()

    for action_id in (*CASE_BUTTONS, REASSIGN):
        app.action(action_id)(on_case_button)

    @app.action(ACKNOWLEDGE)
    async def on_alert_button(ack: Any, body: dict[str, Any]) -> None:
        alerts.on_acknowledge(body)  # an operator alert posted to the channel
        await ack()

    @app.event("app_mention")
    async def on_mention() -> None:
        return None  # mentions of the app are not requests; acknowledged and ignored

    return app


class SlackChannel:
    """The Slack agent desk in the gateway: the desk, the Bolt app, and how Slack reaches it
    (the ``/slack/events`` endpoint in HTTP mode, an outgoing connection in Socket Mode)."""

    def __init__(self, desk: Desk, database_url: str, *, sleep: Sleep = asyncio.sleep) -> None:
        self.desk = desk
        self._sleep = sleep
        self.mode = desk.settings.mode
        # Operator alerts go to the same channel, on the same client and clock.
        self.alerts = AlertPoster(
            desk.client,
            desk.settings.escalation_channel,
            database_url,
            desk.business,
            clock=desk.clock,
        )
        self.app = build_bolt_app(
            desk, self.alerts, http_mode=self.mode == "http", database_url=database_url
        )
        self._handler = AsyncSlackRequestHandler(self.app)
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def endpoint(self, request: Request) -> Response:
        """POST /slack/events: events and button presses, signed by Slack. A request that
        cannot be signed (no signature, a timestamp that is not a number) is refused with
        401 before anything reads it; anything else the handler cannot read is a 400, with
        one log line, never a stack trace."""
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not (
            signature.startswith("v0=")
        ):
            return error(401, "unauthorised", "This request is not signed by Slack.")
        try:
            return await self._handler.handle(request)
        except Exception as problem:
            logger.warning("Refused a Slack request the handler could not read: %r", problem)
            return error(400, "bad_request", "The gateway could not read this Slack request.")

    async def start(self) -> None:
        """In Socket Mode, connects to Slack in the background; an outage is only logged."""
        if self.mode == "socket":
            self._connecting = asyncio.create_task(self._connect_until_connected())

    async def stop(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close_async()
        await self.desk.close()
        await self.alerts.close()

    async def _connect_until_connected(self) -> None:
        """Checks the app-level token with Slack first (slack_sdk's own connect only logs a
        refusal and retries every few seconds, forever), backing off and alerting operators
        while Slack refuses it; then connects, and slack_sdk keeps the connection up."""
        token = self.desk.settings.app_token or ""
        for attempt in itertools.count():
            try:
                opened = await self.desk.client.apps_connections_open(app_token=token)
                break
            except CALL_ERRORS as error:
                failure = failure_of(error)
            wait = RETRY_CONNECT_SECONDS[min(attempt, len(RETRY_CONNECT_SECONDS) - 1)]
            if failure.retry_after is not None:
                wait = max(wait, int(failure.retry_after))
            logger.error(
                "Could not connect to Slack in Socket Mode (%s%s). Web chat and Telegram keep "
                "working; trying again in %d s.",
                failure.error,
                ": check SLACK_APP_TOKEN" if failure.error in AUTH_ERRORS else "",
                wait,
            )
            if failure.needs_operator:
                await self.desk.alert(
                    failure, "connecting in Socket Mode", setting="SLACK_APP_TOKEN"
                )
            await self._sleep(wait)
        self._socket = AsyncSocketModeHandler(self.app, token, web_client=self.desk.client)
        self._socket.client.wss_uri = str(opened["url"])  # the address just issued: use it
        await self._socket.connect_async()
        logger.info("Slack Socket Mode connected")
