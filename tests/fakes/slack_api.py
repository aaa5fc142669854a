"""A fake Slack Web API server on 127.0.0.1 for tests.

It speaks the HTTP protocol slack_sdk uses (``POST``/``GET`` ``{base_url}{method}``, the bot
token in ``Authorization: Bearer xoxb-...``, parameters in the query string, a form-encoded
or a JSON body; answers ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``) so the
real ``WebClient``/``AsyncWebClient`` and slack_bolt's ``AsyncApp`` run against it::

    with FakeSlack(TOKEN) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)

Methods: auth.test, chat.postMessage, chat.update, chat.delete, chat.postEphemeral, users.info,
conversations.info, conversations.replies and conversations.history (posting to a user id
posts in the DM ``"D" + user_id[1:]``, as Slack answers with the DM's id), and
apps.connections.open once :meth:`FakeSlack.serve_socket_mode` has switched Socket Mode on
(it takes the app-level token, not the bot token, and answers the URL of a
``tests.fakes.slack_socket.FakeSocketMode`` server). It also serves
``response_url`` webhooks (see :meth:`FakeSlack.response_url`). Every call is recorded; a
wrong token answers ``invalid_auth`` (HTTP 200, as Slack does); :meth:`FakeSlack.fail_next`
makes the next calls fail (``ratelimited`` is an HTTP 429 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.slack_requests import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    new_ts,
)
from tests.fakes.slack_socket import FakeSocketMode

DEFAULT_TOKEN = "xoxb-1000000001-2000000002-RedressFakeSlackToken0"
DEFAULT_APP_TOKEN = "xapp-1-A0REDRESS-3000000003-RedressFakeSlackAppToken0"
APPS_CONNECTIONS_OPEN = "apps.connections.open"
DESK_CHANNEL = "C0DESK0001"
DESK_CHANNEL_NAME = "redress-desk"
AGENT_ID = "U0AGENT1"  # the default user of slack_requests.block_action
AGENT_NAME = "Alex Agent"
AGENT_DISPLAY_NAME = "alex"
BOT_NAME = "bree"

# Parameters that arrive JSON-encoded inside form or query parameters.
JSON_PARAMETERS = {"blocks", "attachments", "metadata"}
MAX_TEXT = 40_000
MAX_BLOCKS = 50
API_PREFIX = "/api/"
RESPONSE_URL_PREFIX = "/actions/"
RESPONSE_URL_METHOD = "response_url"  # how response_url posts appear in ``calls``


@dataclass
class Call:
    """One request the fake answered."""

    method: str  # the Web API method, e.g. "chat.postMessage", or "response_url"
    params: dict[str, Any]  # query string, form and JSON body merged; blocks decoded
    headers: dict[str, str]  # lower-cased names
    http_verb: str
    status: int
    answer: dict[str, Any]
    encoding: str  # "json", "form" or "query": how the parameters came

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.answer.get("ok"))

    @property
    def error(self) -> str | None:
        return self.answer.get("error")


@dataclass
class _Failure:
    method: str | None  # None: any method
    error: str
    status: int
    retry_after: int | None
    remaining: int


class FakeSlack:
    """The fake server; use as a context manager, or call ``start`` and ``close``.

    The workspace starts with the app's bot user (``BOT_USER_ID``), one agent (``AGENT_ID``,
    "Alex Agent" / ``alex``) and the desk channel ``DESK_CHANNEL`` (the bot is a member);
    :meth:`add_user` and :meth:`add_channel` add more.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        team_id: str = TEAM_ID,
        team_name: str = "Redress Test",
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_id: str = APP_ID,
        bot_name: str = BOT_NAME,
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self._lock = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._members: dict[str, set[str] | None] = {}  # None: everyone is in the channel
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._response_urls: dict[str, tuple[str, str, str]] = {}
        # Socket Mode: off until serve_socket_mode() (apps.connections.open refuses every token).
        self.app_token: str | None = None
        self.socket_mode: FakeSocketMode | None = None
        self.add_user(bot_user_id, bot_name, bot_name, is_bot=True)
        self.add_user(AGENT_ID, AGENT_NAME, AGENT_DISPLAY_NAME)
        self.add_channel(DESK_CHANNEL, DESK_CHANNEL_NAME)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` takes: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.origin}{API_PREFIX}"

    def start(self) -> FakeSlack:
        self._server_thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.socket_mode is not None:
            self.socket_mode.close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Setting the workspace up -------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        real_name: str,
        display_name: str = "",
        *,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
    ) -> dict[str, Any]:
        """Adds (or replaces) a user of the directory ``users.info`` answers from."""
        handle = display_name or real_name.split()[0].lower()
        profile: dict[str, Any] = {
            "avatar_hash": uuid.uuid4().hex[:12],
            "status_text": "",
            "status_emoji": "",
            "real_name": real_name,
            "display_name": display_name,
            "real_name_normalized": real_name,
            "display_name_normalized": display_name,
            "image_24": f"https://avatars.example/{user_id}_24.png",
            "image_72": f"https://avatars.example/{user_id}_72.png",
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else f"B{user_id[1:]}"
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "has_2fa": False,
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
        members: set[str] | None = None,
    ) -> dict[str, Any]:
        """Adds (or replaces) a channel. ``is_member``: the bot is in it (posting to a channel
        it is not in answers ``not_in_channel``). ``members``: the users chat.postEphemeral
        may address (None: everyone)."""
        now = int(time.time())
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": now,
            "creator": AGENT_ID,
            "is_archived": is_archived,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": now * 1000,
            "is_member": is_member,
            "last_read": "0000000000.000000",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "Complaints handed to people", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        with self._lock:
            self._channels[channel_id] = channel
            self._members[channel_id] = None if members is None else set(members)
            self._messages.setdefault(channel_id, [])
        return copy.deepcopy(channel)

    def post_as_user(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person writes in ``channel`` (in a thread with ``thread_ts``): the message is
        stored as Slack would store it, and returned; feed it to
        ``slack_requests.event_callback(event=...)`` to deliver the matching event."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": new_ts(),
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
        }
        with self._lock:
            self._store(channel, message, thread_ts)
            event = {**copy.deepcopy(message), "channel": channel, "event_ts": message["ts"]}
            event["channel_type"] = "group" if self._is_private(channel) else "channel"
        return event

    def response_url(self, channel: str, message_ts: str, user: str = AGENT_ID) -> str:
        """A ``response_url`` for an interaction on message ``message_ts``, served here:
        ``replace_original`` edits that message, ``delete_original`` deletes it,
        ``response_type: in_channel`` posts a new message (in ``thread_ts`` if given),
        anything else is an ephemeral message to ``user`` (the one who clicked)."""
        key = uuid.uuid4().hex
        with self._lock:
            self._response_urls[key] = (channel, message_ts, user)
        return f"{self.origin}{RESPONSE_URL_PREFIX}{self.team_id}/{key}"

    def serve_socket_mode(self, app_token: str = DEFAULT_APP_TOKEN) -> FakeSocketMode:
        """Switches Socket Mode on: ``apps.connections.open`` with ``app_token`` (the app-level
        token, ``Authorization: Bearer xapp-...``) answers a one-time ``ws://`` URL of a fake
        Socket Mode server, started here and closed with this fake. Returns that server. Any
        other app token answers ``invalid_auth``; a bot token ``not_allowed_token_type``."""
        with self._lock:
            if self.socket_mode is None:
                self.socket_mode = FakeSocketMode(app_id=self.app_id).start()
            self.app_token = app_token
            return self.socket_mode

    def fail_next(
        self,
        method: str | None = None,
        error: str = "ratelimited",
        *,
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls to ``method`` (None: any method) fail with ``error``.

        ``ratelimited`` answers HTTP 429 with ``Retry-After: retry_after`` as Slack does;
        other errors answer HTTP 200 ``{"ok": false, "error": error}`` (e.g.
        ``channel_not_found``, ``invalid_auth``, ``fatal_error``) unless ``status`` says
        otherwise: ``fail_next(m, "internal_error", status=500)`` is a server error.
        """
        answer_status = status if status is not None else (429 if error == "ratelimited" else 200)
        with self._lock:
            self._failures.append(
                _Failure(
                    method,
                    error,
                    answer_status,
                    retry_after if answer_status == 429 else None,
                    times,
                )
            )

    # What tests look at --------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls (to ``method``, or all), in order."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Every message in ``channel``, top-level and thread replies, oldest first."""
        with self._lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find(channel, ts)
            return copy.deepcopy(found) if found else None

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread under message ``ts``: the parent first, then its replies, oldest first
        (just the message if it has no replies; empty if there is no such message)."""
        with self._lock:
            return copy.deepcopy(self._thread(channel, ts))

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and response_url), oldest first; each has
        ``channel`` and ``user`` (who saw it) besides the message fields."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if (channel is None or e["channel"] == channel)
                and (user is None or e["user"] == user)
            ]

    def wait_for(
        self, condition: Callable[[], Any], timeout: float = 10, what: str = "the condition"
    ) -> Any:
        """Blocks until ``condition()`` is truthy (re-checked on every call); returns it.
        Only for code running in another thread or process: it blocks the event loop."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = condition()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {self._tail()}")
                self._lock.wait(min(left, 0.1))

    async def wait_for_async(
        self, condition: Callable[[], Any], timeout: float = 10, what: str = "the condition"
    ) -> Any:
        """:meth:`wait_for` for code running on the caller's own event loop (slack_bolt
        listeners still running after ``ack()``)."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {self._tail()}")
            await asyncio.sleep(0.01)

    def _tail(self) -> list[str]:
        return [f"{c.method} {c.status} {c.answer.get('error', 'ok')}" for c in self.calls()[-10:]]

    # The store -----------------------------------------------------------------------------

    def _is_private(self, channel: str) -> bool:
        return bool(self._channels.get(channel, {}).get("is_private"))

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        parent = self._find(channel, ts)
        if parent is None:
            return []
        replies = [
            m for m in self._messages.get(channel, []) if m.get("thread_ts") == ts and m["ts"] != ts
        ]
        return [parent, *replies]

    def _store(self, channel: str, message: dict[str, Any], thread_ts: str | None) -> None:
        """Adds ``message`` to ``channel``; a reply updates its parent's thread fields."""
        if thread_ts:
            parent = self._find(channel, thread_ts)
            if parent is not None and parent.get("thread_ts", parent["ts"]) != parent["ts"]:
                # Replying to a reply threads under that reply's parent, as in Slack.
                thread_ts = parent["thread_ts"]
                parent = self._find(channel, thread_ts)
            message["thread_ts"] = thread_ts
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if message.get("user") not in users:
                    users.append(message.get("user"))
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
        self._messages.setdefault(channel, []).append(message)

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": params.get("text") or "",
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "icons": {"image_48": "https://avatars.example/bot_48.png"},
                "deleted": False,
                "updated": int(time.time()),
                "team_id": self.team_id,
            },
        }
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name):
                message[name] = _with_block_ids(params[name]) if name == "blocks" else params[name]
        return message

    # The Web API methods ---------------------------------------------------------------------

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handlers: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            APPS_CONNECTIONS_OPEN: self._apps_connections_open,
        }
        handler = handlers.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(
            url=f"https://{TEAM_DOMAIN}.slack.com/",
            team=self.team_name,
            user=self.bot_name,
            team_id=self.team_id,
            user_id=self.bot_user_id,
            bot_id=self.bot_id,
            is_enterprise_install=False,
        )

    def _channel_error(self, channel: str | None) -> str | None:
        """Why the bot cannot post to ``channel`` (a channel id, or a user id for a DM)."""
        if not channel:
            return "channel_not_found"
        if channel in self._users:
            return None
        found = self._channels.get(channel)
        if found is None:
            return "channel_not_found"
        if found["is_archived"]:
            return "is_archived"
        if not found["is_member"]:
            return "not_in_channel"
        return None

    def _content_error(self, params: dict[str, Any]) -> str | None:
        blocks = params.get("blocks")
        if blocks is not None and (
            not isinstance(blocks, list)
            or len(blocks) > MAX_BLOCKS
            or not all(isinstance(b, dict) and b.get("type") for b in blocks)
        ):
            return "invalid_blocks"
        if not (params.get("text") or blocks or params.get("attachments")):
            return "no_text"
        if len(params.get("text") or "") > MAX_TEXT:
            return "msg_too_long"
        return None

    def _chat_post_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        error = self._channel_error(params.get("channel")) or self._content_error(params)
        if error:
            return _error(error)
        channel = params["channel"]
        if channel in self._users:  # a user id: Slack posts in the DM with that user
            channel = "D" + channel[1:]
            self._messages.setdefault(channel, [])
        message = self._bot_message(params, new_ts())
        self._store(channel, message, params.get("thread_ts") or None)
        return _ok(channel=channel, ts=message["ts"], message=copy.deepcopy(message))

    def _chat_update(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or (channel not in self._channels and not channel.startswith("D")):
            return _error("channel_not_found")
        message = self._find(channel, ts or "")
        if message is None:
            return _error("message_not_found")
        if message.get("bot_id") != self.bot_id:
            return _error("cant_update_message")
        error = self._content_error(params)
        if error:
            return _error(error)
        if "text" in params:
            message["text"] = params["text"]
        for name in ("blocks", "attachments", "metadata"):
            if name in params:
                if params[name]:
                    message[name] = (
                        _with_block_ids(params[name]) if name == "blocks" else params[name]
                    )
                else:
                    message.pop(name, None)
        message["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        return _ok(channel=channel, ts=ts, text=message["text"], message=copy.deepcopy(message))

    def _chat_delete(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """As Slack answers a bot token: its own messages go; a person's is refused."""
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or (channel not in self._channels and not channel.startswith("D")):
            return _error("channel_not_found")
        message = self._find(channel, ts or "")
        if message is None:
            return _error("message_not_found")
        if message.get("bot_id") != self.bot_id:
            return _error("cant_delete_message")
        self._messages[channel].remove(message)
        return _ok(channel=channel, ts=ts)

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel, user = params.get("channel"), params.get("user")
        error = self._channel_error(channel) or self._content_error(params)
        if error:
            return _error(error)
        if user not in self._users:
            return _error("user_not_found")
        members = self._members.get(channel or "")
        if members is not None and user not in members:
            return _error("user_not_in_channel")
        ts = new_ts()
        message = {**self._bot_message(params, ts), "channel": channel, "user": user}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self._ephemerals.append(message)
        return _ok(message_ts=ts)

    def _users_info(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user = self._users.get(params.get("user") or "")
        if user is None:
            return _error("user_not_found")
        return _ok(user=copy.deepcopy(user))

    def _conversations_info(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = self._channels.get(params.get("channel") or "")
        if channel is None:
            return _error("channel_not_found")
        return _ok(channel=copy.deepcopy(channel))

    def _conversations_replies(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = params.get("channel") or ""
        if channel not in self._channels:
            return _error("channel_not_found")
        thread = self._thread(channel, params.get("ts") or "")
        if not thread:
            return _error("thread_not_found")
        return _ok(messages=copy.deepcopy(thread), has_more=False)

    def _conversations_history(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        channel = params.get("channel") or ""
        if channel not in self._channels:
            return _error("channel_not_found")
        top = [m for m in self._messages[channel] if m.get("thread_ts", m["ts"]) == m["ts"]]
        return _ok(messages=copy.deepcopy(top[::-1]), has_more=False, pin_count=0)

    def _apps_connections_open(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # The app token was checked by _auth_error; without Socket Mode on, none passes.
        assert self.socket_mode is not None
        return _ok(url=self.socket_mode.new_url())

    def _respond(self, key: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A POST to a response_url."""
        target = self._response_urls.get(key)
        if target is None:
            return 404, {"ok": False, "error": "expired_url"}
        channel, message_ts, user = target
        message = self._find(channel, message_ts)
        if params.get("delete_original"):
            if message is not None:
                self._messages[channel].remove(message)
            return _ok()
        if params.get("replace_original"):
            if message is None:
                return 404, {"ok": False, "error": "message_not_found"}
            message["text"] = params.get("text") or ""
            if params.get("blocks"):
                message["blocks"] = _with_block_ids(params["blocks"])
            else:
                message.pop("blocks", None)
            return _ok()
        new = self._bot_message(params, new_ts())
        if params.get("response_type") == "in_channel":
            self._store(channel, new, params.get("thread_ts") or None)
        else:
            self._ephemerals.append({**new, "channel": channel, "user": user})
        return _ok()

    # HTTP ---------------------------------------------------------------------------------------

    def _serve(
        self, verb: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = urlsplit(path)
        params, encoding = _parameters(url.query, body, headers.get("content-type", ""))
        extra_headers: dict[str, str] = {}
        with self._lock:
            if url.path.startswith(RESPONSE_URL_PREFIX):
                method = RESPONSE_URL_METHOD
                status, answer = self._respond(url.path.rsplit("/", 1)[-1], params)
            elif url.path.startswith(API_PREFIX):
                method = url.path[len(API_PREFIX) :]
                failure = self._take_failure(method)
                if failure is not None:
                    status, answer = failure.status, {"ok": False, "error": failure.error}
                    if failure.retry_after is not None:
                        extra_headers["Retry-After"] = str(failure.retry_after)
                else:
                    auth_error = self._auth_error(headers, params, method)
                    if auth_error:
                        status, answer = _error(auth_error)
                    else:
                        status, answer = self._answer(method, params)
            else:
                method = url.path
                status, answer = 404, {"ok": False, "error": "unknown_method"}
            self._calls.append(Call(method, params, headers, verb, status, answer, encoding))
            self._lock.notify_all()
        return status, answer, extra_headers

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method in (None, method):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _auth_error(
        self, headers: dict[str, str], params: dict[str, Any], method: str = ""
    ) -> str | None:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[len("bearer ") :].strip()
        else:
            token = str(params.get("token") or "")
        if not token:
            return "not_authed"
        if method == APPS_CONNECTIONS_OPEN:  # takes the app-level token only, as Slack does
            if not token.startswith("xapp-"):
                return "not_allowed_token_type"
            return None if token == self.app_token else "invalid_auth"
        return None if token == self.token else "invalid_auth"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

            def _handle(self, verb: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, answer, extra = fake._serve(verb, self.path, headers, body)
                except ValueError:  # an undecodable body
                    status, answer, extra = 200, {"ok": False, "error": "invalid_arguments"}, {}
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-slack-req-id", uuid.uuid4().hex)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _ok(**fields: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, **fields}


def _error(error: str) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": False, "error": error}


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks as Slack stores them: each gets a ``block_id`` if it had none."""
    return [{**b, "block_id": b.get("block_id") or uuid.uuid4().hex[:5]} for b in blocks]


def _parameters(query: str, body: bytes, content_type: str) -> tuple[dict[str, Any], str]:
    """Query string and body merged, as Slack reads them; JSON-in-form fields decoded."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    encoding = "query"
    if body and content_type.startswith("application/json"):
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("a JSON body must be an object")
        params.update(decoded)
        encoding = "json"
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        encoding = "form"
    for name in JSON_PARAMETERS & params.keys():
        if isinstance(params[name], str) and params[name]:
            # Undecodable JSON stays a string: the method answers invalid_blocks.
            with contextlib.suppress(ValueError):
                params[name] = json.loads(params[name])
    return params, encoding
