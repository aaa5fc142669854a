"""A fake Telegram Bot API server on 127.0.0.1 for tests.

It speaks the HTTP protocol python-telegram-bot uses (``POST /bot<token>/<method>`` with
form-encoded parameters, JSON answers ``{"ok": ..., "result": ...}``) for the methods the
gateway calls: getMe, setWebhook, deleteWebhook, getUpdates, sendMessage,
answerCallbackQuery and editMessageReplyMarkup. It records every call, serves updates to
long polling, and can be told to refuse a chat (403, the customer blocked the bot) or to
apply flood control once (429 with ``retry_after``).
"""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Bree",
    "username": "redress_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# Parameters PTB sends JSON-encoded; every other value is a plain string.
JSON_PARAMETERS = {
    "chat_id", "message_id", "reply_markup", "allowed_updates", "offset", "limit", "timeout",
    "max_connections", "drop_pending_updates", "show_alert", "cache_time",
}  # fmt: skip
BLOCKED = "Forbidden: bot was blocked by the user"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    answer: dict[str, Any]

    @property
    def message_id(self) -> int | None:
        """The id of the message a successful sendMessage created."""
        result = self.answer.get("result")
        return result.get("message_id") if isinstance(result, dict) else None


class FakeTelegram:
    """The fake server; use as a context manager, or call ``start`` and ``close``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.blocked: set[int] = set()  # chats that answer 403
        self.flood_once: set[int] = set()  # chats whose next sendMessage gets one 429
        self.webhook: dict[str, Any] | None = None
        self._updates: list[dict[str, Any]] = []
        self._message_ids = itertools.count(10_000)
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        """What TELEGRAM_API_URL should be: the token is appended to it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What tests look at ------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> None:
        """Queues an update for getUpdates (long polling)."""
        with self._changed:
            self._updates.append(update)
            self._changed.notify_all()

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._changed:
            calls = list(self.calls)
        return [
            c
            for c in calls
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def delivered(self, chat_id: int) -> list[Call]:
        """sendMessage calls to this chat that succeeded, in order."""
        return [c for c in self.calls_to("sendMessage", chat_id) if c.status == 200]

    def texts(self, chat_id: int) -> list[str]:
        """What the customer saw: the delivered texts, HTML entities resolved."""
        return [html.unescape(c.params["text"]) for c in self.delivered(chat_id)]

    def wait_for(
        self, condition: Callable[[], Any], timeout: float = 60, what: str = "the condition"
    ) -> Any:
        """Polls ``condition`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.calls[-10:]}")
            time.sleep(0.1)

    # The Bot API methods -----------------------------------------------------------------

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "setWebhook":
            self.webhook = params
            return _ok(True)
        if method == "deleteWebhook":
            self.webhook = None
            return _ok(True)
        if method == "getUpdates":
            return _ok(self._take_updates(params))
        if method == "sendMessage":
            if chat_id in self.blocked:
                return 403, {"ok": False, "error_code": 403, "description": BLOCKED}
            if chat_id in self.flood_once:
                self.flood_once.discard(chat_id)
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
            return _ok(self._message(params))
        if method in {"answerCallbackQuery", "editMessageReplyMarkup"}:
            return _ok(True)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params["chat_id"]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            "text": html.unescape(params.get("text", "")),
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _take_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # Short waits keep shutdown quick; the client simply asks again.
        wait = min(float(params.get("timeout") or 0), 1.0)
        with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and wait:
                self._changed.wait(wait)
            return list(self._updates)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                prefix = f"/bot{fake.token}/"
                if not self.path.startswith(prefix):
                    self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                    return
                method = self.path[len(prefix) :].split("?", 1)[0]
                params = _parameters(body, self.headers.get("content-type", ""))
                status, answer = fake._answer(method, params)
                with fake._changed:
                    fake.calls.append(Call(method, params, status, answer))
                    fake._changed.notify_all()
                self._reply(status, answer)

            def _reply(self, status: int, answer: dict[str, Any]) -> None:
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _parameters(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(body)
    params: dict[str, Any] = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for name in JSON_PARAMETERS & params.keys():
        params[name] = json.loads(params[name])
    return params


# Updates as Telegram sends them ------------------------------------------------------------

_update_ids = itertools.count(int(time.time() * 1000) % 10**9)
_message_ids = itertools.count(500)


def next_update_id() -> int:
    return next(_update_ids)


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Sam", "language_code": "en"}


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Sam"}
    return {"id": chat_id, "type": "supergroup", "title": "Neighbours"}


def message(chat_id: int, *, user_id: int | None = None, **content: Any) -> dict[str, Any]:
    """A Telegram message in a chat (private for positive ids, a supergroup for negative)."""
    return {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": _chat(chat_id),
        "from": _user(user_id or abs(chat_id)),
        **content,
    }


def text_update(
    chat_id: int, text: str, *, update_id: int | None = None, edited: bool = False
) -> dict[str, Any]:
    """A text message update; commands carry the bot_command entity Telegram adds."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split()[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if edited:
        content["edit_date"] = int(time.time())
    key = "edited_message" if edited else "message"
    return {"update_id": update_id or next_update_id(), key: message(chat_id, **content)}


def photo_update(chat_id: int) -> dict[str, Any]:
    sizes = [
        {"file_id": "AgAD-small", "file_unique_id": "s1", "width": 90, "height": 90},
        {"file_id": "AgAD-large", "file_unique_id": "l1", "width": 800, "height": 800},
    ]
    return {"update_id": next_update_id(), "message": message(chat_id, photo=sizes)}


def button_update(chat_id: int, data: str, *, message_id: int) -> dict[str, Any]:
    """A press on an inline button of the bot's message ``message_id``."""
    pressed_on = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": _chat(chat_id),
        "from": BOT_USER,
        "text": "(the bot's message)",
    }
    return {
        "update_id": next_update_id(),
        "callback_query": {
            "id": f"cbq-{next_update_id()}",
            "from": _user(chat_id),
            "chat_instance": f"ci-{chat_id}",
            "message": pressed_on,
            "data": data,
        },
    }
