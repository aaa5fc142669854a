"""Requests as Slack sends them to the gateway, signed the way Slack signs them.

Slack signs every HTTP request it sends an app with the app's signing secret: the header
``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` and
``X-Slack-Request-Timestamp`` is that timestamp (Unix seconds). Receivers reject a timestamp
more than five minutes away from their clock, so a "stale" request is just one signed with an
old timestamp, and a forged one is one signed with the wrong secret.

The builders return a :class:`SlackRequest` (the raw body, its content type and the decoded
payload); ``request.headers(secret)`` signs it::

    request = block_action("claim", "conv-1", channel=DESK, message_ts=ts)
    client.post("/slack/events", content=request.body, headers=request.headers(SECRET))

Events API bodies are JSON; interactivity payloads (``block_actions``) are form-encoded
``payload=<json>``, as Slack sends them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

# The workspace the fakes pretend to be. FakeSlack answers auth.test with these ids, so an
# event "from the bot" built here is recognised as the app's own by slack_bolt.
TEAM_ID = "T0REDRESS"
TEAM_DOMAIN = "redress-test"
APP_ID = "A0REDRESS"
BOT_ID = "B0BREE"
BOT_USER_ID = "U0BREE"
ENTERPRISE_ID = None
# The legacy verification token Slack still puts in bodies; nothing should rely on it.
VERIFICATION_TOKEN = "legacy-verification-token"

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_sequence = itertools.count(1)
_ts_lock = threading.Lock()
_last_micros = 0


def new_ts() -> str:
    """A fresh Slack message timestamp ``"1712345678.000123"``: unique and increasing."""
    global _last_micros
    with _ts_lock:
        micros = max(time.time_ns() // 1000, _last_micros + 1)
        _last_micros = micros
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def new_event_id() -> str:
    return f"Ev{next(_sequence):08d}{uuid.uuid4().hex[:6].upper()}"


def signature(signing_secret: str, body: bytes | str, timestamp: int | str) -> str:
    """``v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``, exactly as Slack computes it."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(
    signing_secret: str,
    body: bytes | str,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp and signature (``timestamp`` defaults
    to now), plus ``Content-Type`` and the Events API retry headers when given.

    Slack retries an event it got no 2xx for within 3 seconds, up to three times, adding
    ``X-Slack-Retry-Num`` (1, 2, 3) and ``X-Slack-Retry-Reason`` (``http_timeout``,
    ``http_error``, ``connection_failed``, ...) to the otherwise identical, re-signed request.
    """
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(signing_secret, body, stamp),
    }
    if content_type is not None:
        headers["Content-Type"] = content_type
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    elif retry_reason is not None:
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


@dataclass(frozen=True)
class SlackRequest:
    """One request body as Slack would POST it to the app's Request URL."""

    body: bytes
    content_type: str
    payload: dict[str, Any]

    def headers(
        self,
        signing_secret: str,
        *,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for this body (with its Content-Type)."""
        return signed_headers(
            signing_secret,
            self.body,
            timestamp,
            content_type=self.content_type,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )

    def tampered(self, **changes: Any) -> SlackRequest:
        """This request re-encoded with some payload fields changed. Sending its body with the
        original's ``headers(...)`` is a body the signature does not cover (tampering)."""
        payload = {**self.payload, **changes}
        if self.content_type == FORM_CONTENT_TYPE:
            return _form_request(payload)
        return _json_request(payload)


def _json_request(payload: dict[str, Any]) -> SlackRequest:
    return SlackRequest(json.dumps(payload).encode("utf-8"), JSON_CONTENT_TYPE, payload)


def _form_request(payload: dict[str, Any]) -> SlackRequest:
    body = urlencode({"payload": json.dumps(payload)}).encode("utf-8")
    return SlackRequest(body, FORM_CONTENT_TYPE, payload)


# Events API ---------------------------------------------------------------------------------


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> SlackRequest:
    """The handshake Slack sends when the Request URL is saved; answer with the challenge."""
    return _json_request(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def message_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = BOT_USER_ID,
    channel_type: str = "channel",
    team: str = TEAM_ID,
    bot_id: str | None = None,
    subtype: str | None = None,
) -> dict[str, Any]:
    """A ``message`` event: a person (or, with ``bot_id``, a bot) wrote ``text`` in
    ``channel``; with ``thread_ts`` it is a reply in that thread (``parent_user_id`` is who
    started the thread, by default the app's bot)."""
    stamp = ts or new_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": stamp,
        "event_ts": stamp,
        "channel_type": channel_type,
        "team": team,
    }
    if bot_id is None:
        event["client_msg_id"] = str(uuid.uuid4())
        event["blocks"] = [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:5],
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                ],
            }
        ]
    else:
        event["bot_id"] = bot_id
        event["app_id"] = APP_ID
    if subtype is not None:
        event["subtype"] = subtype
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        if parent_user_id is not None:
            event["parent_user_id"] = parent_user_id
    return event


def event_callback(
    event: dict[str, Any] | None = None,
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    authorized_user_id: str = BOT_USER_ID,
    **message: Any,
) -> SlackRequest:
    """An Events API ``event_callback`` delivering ``event``; without one, the keyword
    arguments build a :func:`message_event` (``channel``, ``user``, ``text``, ``thread_ts``,
    ...). Redelivering the same request (same ``event_id``) is what a Slack retry looks like.
    """
    if event is None:
        event = message_event(**message)
    elif message:
        raise TypeError("pass either an event or the fields of a message event, not both")
    return _json_request(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "context_team_id": team_id,
            "context_enterprise_id": ENTERPRISE_ID,
            "api_app_id": api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or new_event_id(),
            "event_time": event_time if event_time is not None else int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": ENTERPRISE_ID,
                    "team_id": team_id,
                    "user_id": authorized_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
    )


# Interactivity ------------------------------------------------------------------------------


def block_action(
    action_id: str,
    value: str,
    *,
    user_id: str = "U0AGENT1",
    user_name: str = "alex",
    channel: str,
    message_ts: str,
    channel_name: str = "redress-desk",
    thread_ts: str | None = None,
    message: dict[str, Any] | None = None,
    block_id: str = "desk_actions",
    button_text: str = "Claim",
    response_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    state: dict[str, Any] | None = None,
) -> SlackRequest:
    """A press on a button (``action_id``, ``value``) of the app's message ``message_ts`` in
    ``channel``: the ``block_actions`` interactivity payload, form-encoded as ``payload=``.

    ``message`` is the message as Slack echoes it back (by default a bot message with just
    the button); ``response_url`` defaults to a hooks.slack.com address nothing answers, so
    pass ``FakeSlack.response_url(channel, message_ts)`` when the handler will ``respond()``.
    """
    action_ts = new_ts()
    pressed_on = message or {
        "type": "message",
        "subtype": "bot_message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": team_id,
        "text": "(the app's message)",
        "ts": message_ts,
        "blocks": [
            {
                "type": "actions",
                "block_id": block_id,
                "elements": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "text": {"type": "plain_text", "text": button_text, "emoji": True},
                        "value": value,
                    }
                ],
            }
        ],
    }
    if thread_ts is not None and message is None:
        pressed_on["thread_ts"] = thread_ts
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or f"{int(time.time())}.{next(_sequence)}.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "message": pressed_on,
        "state": {"values": state or {}},
        "response_url": response_url
        or f"https://hooks.slack.com/actions/{team_id}/{next(_sequence)}/{uuid.uuid4().hex}",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    return _form_request(payload)
