"""Rasa's REST webhook on 127.0.0.1, for gateway tests where the assistant is not under test:
answers every message with ``prefix`` + the message, after ``delay`` seconds, remembers each
one, and notes the most turns of one conversation it was ever asked at the same time. A message
starting "ask " is answered with Yes and No buttons (payloads /affirm and /deny); while
``failures`` is above 0, each message is answered with a 500 and counts it down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeRasa:
    def __init__(self, prefix: str = "I hear you: ", delay: float = 0.0) -> None:
        self.prefix = prefix
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.most_at_once = 0
        self.failures = 0
        self.answered_bodies: list[dict[str, Any]] = []
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                sender = str(body.get("sender"))
                with fake._lock:
                    fake.received.append(body)
                    fake._busy[sender] = fake._busy.get(sender, 0) + 1
                    fake.most_at_once = max(fake.most_at_once, fake._busy[sender])
                if fake.delay:
                    time.sleep(fake.delay)
                with fake._lock:
                    fake._busy[sender] -= 1
                    failing = fake.failures > 0
                    fake.failures = max(0, fake.failures - 1)
                    if not failing:
                        fake.answered_bodies.append(body)
                reply: dict[str, Any] = {"text": f"{fake.prefix}{body['message']}"}
                if str(body["message"]).startswith("ask "):
                    reply["buttons"] = [
                        {"title": "Yes", "payload": "/affirm"},
                        {"title": "No", "payload": "/deny"},
                    ]
                answer = json.dumps([reply]).encode()
                self.send_response(500 if failing else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def messages(self, conversation_id: str) -> list[str]:
        with self._lock:
            return [r["message"] for r in self.received if r["sender"] == conversation_id]

    def answered(self, conversation_id: str) -> list[str]:
        """The messages of a conversation answered with a 200, in order."""
        with self._lock:
            return [r["message"] for r in self.answered_bodies if r["sender"] == conversation_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
