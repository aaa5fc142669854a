"""Every HTTP endpoint the gateway always serves, fed bad input: each answer is a 4xx in the
project's error shape (or a documented 2xx), never a 500, and nothing is half-written. The
battery's size is printed. Telegram's webhook and Slack's events have their own batteries in
tests/integration/telegram/ and tests/integration/slack/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from redress.business import Business
from redress.db.models import Conversation, Incident, Message
from redress.db.session import unit_of_work
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WRONG = {"Authorization": "Bearer not-the-token-0123456789"}

# Bodies that are not what any endpoint takes.
BAD_BODIES: list[Any] = [
    b"",
    b"not json",
    b"[1, 2, 3]",
    b"null",
    b'"a string"',
    b"{" * 5000 + b"}" * 5000,
    b'{"text": ' + b"9" * 5000 + b"}",
    b'{"text": "\\ud800"}',
    b'{"text": "a\\u0000b"}',
    b'{"text": {"nested": [1, {"deeper": null}]}}',
    b'{"text": 12}',
    b'{"conversation_id": 5, "text": "hi"}',
    b'{"conversation_id": "../../etc/passwd", "text": "hi"}',
    b'{"text": "' + b"x" * 70_000 + b'"}',
    b"\xff\xfe\x00\x00",
]
BAD_IDS = ["%00", "x" * 300, "999999999999999999", "-1", "%F0%9F%92%A9", "..%2F..", "1e9"]

POSTS = [
    ("/api/messages", None),
    ("/api/conversations/{id}/messages", AUTH),
    ("/api/incidents", AUTH),
    ("/api/incidents/{id}/resolve", AUTH),
    ("/api/alerts/{id}/acknowledge", AUTH),
    ("/api/compensation/offers/{id}/approve", AUTH),
    ("/api/compensation/offers/{id}/reject", AUTH),
    ("/api/privacy/erasures", AUTH),
]
GETS = [
    "/api/conversations/{id}",
    "/api/incidents/{id}",
    "/api/incidents?status=%00",
    "/api/alerts?status=nonsense",
    "/api/compensation/offers?status=%00",
    "/api/compensation/grants?limit=-5",
    "/api/compensation/spend?days=99999999999999999999",
    "/api/privacy/export?account_number={id}",
    "/api/privacy/export?conversation_id={id}&request_reference=%00",
    "/api/privacy/export?account_number={id}&conversation_id={id}",
    "/api/audit?subject={id}",
    "/api/audit?action={id}&limit=%00",
    "/api/audit?limit={id}",
]


@pytest.fixture
def client(database_url: str, business: Business) -> Iterator[TestClient]:
    settings = gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}")
    with TestClient(create_app(settings, business), raise_server_exceptions=False) as client:
        yield client


def _counts(database_url: str) -> tuple[int, int, int]:
    with unit_of_work(database_url) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (Conversation, Message, Incident)
        )


def _refused_properly(answer: Any, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:200]}"
    if answer.status_code >= 400:
        body = answer.json()
        assert set(body["error"]) >= {"code", "message"}, f"{what}: {body}"


def test_no_bad_input_gets_a_500_or_writes_anything(
    client: TestClient, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(database_url)
    tried = 0
    for path, auth in POSTS:
        for ident in ["1", *BAD_IDS]:
            url = path.replace("{id}", ident)
            for body in BAD_BODIES:
                for headers in ({**(auth or {}), "content-type": "application/json"}, WRONG):
                    answer = client.post(url, content=body, headers=headers)
                    _refused_properly(answer, f"POST {url} {body[:40]!r}")
                    tried += 1
    for path in GETS:
        for ident in BAD_IDS:
            url = path.replace("{id}", ident)
            for headers in (AUTH, WRONG, {}):
                _refused_properly(client.get(url, headers=headers), f"GET {url}")
                tried += 1
    for ident in BAD_IDS:
        for query in ("", "?after=99999999999999999999999", "?after=-1&token=x", "?token=%00"):
            try:
                with client.websocket_connect(f"/api/conversations/{ident}/live{query}") as ws:
                    ws.receive_json()
            except WebSocketDisconnect as closed:
                assert 4000 <= closed.code < 5000 or closed.code == 1000, closed.code
            tried += 1
    assert _counts(database_url) == before  # nothing half-written by any of them
    with capsys.disabled():
        print(f"\nbad-input battery: {tried} requests, none answered with a 5xx")
    assert tried > 1000


def test_a_refused_input_is_one_log_line_not_a_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.post("/api/messages", content=b"{" * 5000 + b"}" * 5000)
    client.post("/api/messages", content=json.dumps({"text": 12}))
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
