"""A fake Slack Socket Mode server on 127.0.0.1 for tests.

In Socket Mode an app calls the Web API's ``apps.connections.open`` with its app-level token
(``xapp-...``), gets a one-time WebSocket URL, and connects to it; Slack then sends every
event and interaction over that connection instead of POSTing it. :class:`FakeSocketMode` is
that WebSocket end, speaking the protocol slack_sdk's ``SocketModeClient`` expects (checked
against slack_sdk 3.47's ``socket_mode/aiohttp`` and ``async_client``)::

    server → {"type": "hello", "num_connections": 1, "connection_info": {"app_id": ...},
              "debug_info": {...}}                                   once, on connecting
    server → {"envelope_id": "...", "type": "events_api" | "interactive" | ...,
              "payload": {...}, "accepts_response_payload": false,
              "retry_attempt": 0, "retry_reason": ""}                (retry_* for events_api)
    client → {"envelope_id": "..."}     the acknowledgement (with "payload" when it answers)
    server → {"type": "disconnect", "reason": "refresh_requested", ...}
             the client fetches a new URL from apps.connections.open and reconnects
    ping/pong: WebSocket control frames, both ways; the client pings with
             ``sdk-ping-pong:<time>`` and expects the same bytes back.

Normally :meth:`tests.fakes.slack_api.FakeSlack.serve_socket_mode` starts it and hands its URLs
out from ``apps.connections.open``; each URL (its ``ticket``) is good for one connection, a
used or unknown one is refused with HTTP 401. The server runs aiohttp on its own event loop
in its own thread, so tests drive it from their own thread: :meth:`events_api` and
:meth:`interactive` send envelopes, :meth:`wait_for_ack` waits for the client's answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

DEFAULT_APP_ID = "A0REDRESS"
LINK_PATH = "/link/"
SEND_TIMEOUT = 10.0

_envelopes = itertools.count(1)


@dataclass
class Connection:
    """One WebSocket connection a client opened."""

    number: int  # 1 for the first connection, 2 for the next, ...
    ticket: str
    received: list[dict[str, Any]] = field(default_factory=list)  # JSON messages from the client
    pings: list[bytes] = field(default_factory=list)  # ping frames from the client
    pongs: list[bytes] = field(default_factory=list)  # pong frames from the client
    closed: bool = False


class FakeSocketMode:
    """The fake Socket Mode server; ``start`` it and ``close`` it (or use ``with``)."""

    def __init__(self, *, app_id: str = DEFAULT_APP_ID, host: str = "applink-fake-1") -> None:
        self.app_id = app_id
        self.host = host
        self._lock = threading.Condition(threading.RLock())
        self._tickets: dict[str, bool] = {}  # ticket → used
        self._connections: list[Connection] = []
        self._sockets: dict[int, web.WebSocketResponse] = {}  # by Connection.number
        self._refused: list[str] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-socket-mode", daemon=True)

    @property
    def origin(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> FakeSocketMode:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Socket Mode server did not start")
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            self._listener.close()
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(SEND_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(SEND_TIMEOUT)
        self._listener.close()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # What apps.connections.open hands out -----------------------------------------------------

    def new_url(self) -> str:
        """A fresh one-time URL, as ``apps.connections.open`` answers it."""
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets[ticket] = False
        return f"{self.origin}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    # What tests send --------------------------------------------------------------------------

    def events_api(
        self,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: Connection | None = None,
    ) -> str:
        """Delivers an Events API ``event_callback`` body (``payload``); returns the envelope
        id. A Slack retry of the same event is the same payload with ``retry_attempt`` 1, 2, 3
        and a ``retry_reason`` such as ``"timeout"``."""
        envelope_id = envelope_id or new_envelope_id()
        self.send(
            {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": retry_reason,
            },
            connection,
        )
        return envelope_id

    def interactive(
        self,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool = False,
        connection: Connection | None = None,
    ) -> str:
        """Delivers an interactivity payload (``block_actions``, ...); returns the envelope
        id. Slack sets ``accepts_response_payload`` for payloads the answer can carry a
        response to (view submissions, ...), not for button presses."""
        envelope_id = envelope_id or new_envelope_id()
        self.send(
            {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": "interactive",
                "accepts_response_payload": accepts_response_payload,
            },
            connection,
        )
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Tells the client to reconnect, as Slack does every few hours (``refresh_requested``)
        or before maintenance (``warning``)."""
        self.send({"type": "disconnect", "reason": reason, "debug_info": {"host": self.host}})

    def send(self, message: dict[str, Any], connection: Connection | None = None) -> None:
        """Sends ``message`` as a text frame on ``connection`` (default: the newest open one)."""
        target = connection or self.open_connection()
        self._run(self._socket(target).send_str(json.dumps(message)))

    def ping(self, data: bytes = b"slack-ping", connection: Connection | None = None) -> None:
        """Sends a ping frame; the client's pong lands in ``Connection.pongs``."""
        target = connection or self.open_connection()
        self._run(self._socket(target).ping(data))

    # What tests look at -----------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        """Every connection opened so far, oldest first (closed ones too)."""
        with self._lock:
            return list(self._connections)

    @property
    def refused(self) -> list[str]:
        """Tickets of connection attempts refused (unknown or already used)."""
        with self._lock:
            return list(self._refused)

    def open_connection(self) -> Connection:
        with self._lock:
            for connection in reversed(self._connections):
                if not connection.closed:
                    return connection
        raise AssertionError("no client is connected to the fake Socket Mode server")

    def acks(self) -> list[dict[str, Any]]:
        """The acknowledgements received (messages with an ``envelope_id``), oldest first."""
        with self._lock:
            return [
                dict(message)
                for connection in self._connections
                for message in connection.received
                if "envelope_id" in message
            ]

    def wait_for_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """Waits for the client to acknowledge ``envelope_id``; returns the acknowledgement."""
        return self.wait_for(
            lambda: next((a for a in self.acks() if a["envelope_id"] == envelope_id), None),
            timeout,
            f"the acknowledgement of {envelope_id}",
        )

    def wait_for_connection(self, number: int = 1, timeout: float = 10) -> Connection:
        """Waits until the ``number``-th connection is open (or was); returns it."""
        return self.wait_for(
            lambda: next((c for c in self.connections if c.number == number), None),
            timeout,
            f"connection {number}",
        )

    def wait_for(
        self, condition: Callable[[], Any], timeout: float = 10, what: str = "the condition"
    ) -> Any:
        """Blocks until ``condition()`` is truthy; returns it. For a client on another thread."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = condition()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting for {what}; connections: {self.connections}"
                    )
                self._lock.wait(min(left, 0.1))

    # The server -------------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_get(LINK_PATH, self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._listener).start()

    async def _shutdown(self) -> None:
        with self._lock:
            sockets = list(self._sockets.values())
        for ws in sockets:
            await ws.close(code=1001, message=b"server going away")
        if self._runner is not None:
            await self._runner.cleanup()

    def _run(self, work: Any) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(SEND_TIMEOUT)

    def _socket(self, connection: Connection) -> web.WebSocketResponse:
        with self._lock:
            return self._sockets[connection.number]

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            fresh = self._tickets.get(ticket) is False
            if fresh:
                self._tickets[ticket] = True
            else:
                self._refused.append(ticket)
                self._lock.notify_all()
        if not fresh:
            return web.Response(status=401, text="invalid or used ticket")
        ws = web.WebSocketResponse(autoping=False)  # pings are answered (and counted) here
        await ws.prepare(request)
        with self._lock:
            open_count = 1 + sum(not c.closed for c in self._connections)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": open_count,
                    "debug_info": {
                        "host": self.host,
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        with self._lock:  # a connection is announced once its hello is sent
            connection = Connection(len(self._connections) + 1, ticket)
            self._connections.append(connection)
            self._sockets[connection.number] = ws
            self._lock.notify_all()
        try:
            async for message in ws:
                with self._lock:
                    if message.type == WSMsgType.TEXT:
                        connection.received.append(json.loads(message.data))
                    elif message.type == WSMsgType.PING:
                        connection.pings.append(bytes(message.data))
                    elif message.type == WSMsgType.PONG:
                        connection.pongs.append(bytes(message.data))
                    self._lock.notify_all()
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
        finally:
            with self._lock:
                connection.closed = True
                self._sockets.pop(connection.number, None)
                self._lock.notify_all()
        return ws


def new_envelope_id() -> str:
    return f"{uuid.uuid4()}-{next(_envelopes)}"
