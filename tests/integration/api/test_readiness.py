"""/ready says which dependency is missing, and an outage long enough raises one operator
alert that its recovery closes. The real gateway on a real database; Rasa and the action
server are really absent (nothing listens on their ports) or faked."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, select
from starlette.testclient import TestClient

from bot.app import create_app
from bot.jobs.readiness import Readiness
from redress.business import Business
from redress.db.models import OperatorAlert
from redress.db.session import unit_of_work
from tests.integration.conftest import closed_port, gateway_settings


def _tracker(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    create_engine(url).connect().close()  # as Rasa makes it
    return url


def test_ready_names_what_is_missing(database_url: str, business: Business, tmp_path: Path) -> None:
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        action_server_url=f"http://127.0.0.1:{closed_port()}",
        tracker_url=_tracker(tmp_path),
    )
    with TestClient(create_app(settings, business)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        answer = client.get("/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not_ready"
    dependencies = body["dependencies"]
    assert dependencies["records"] == {"ok": True}
    assert dependencies["tracker_store"] == {"ok": True}
    assert dependencies["rasa"]["ok"] is False and dependencies["rasa"]["detail"]
    assert dependencies["actions"]["ok"] is False
    assert "redis" not in dependencies  # not configured, not checked


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def _alerts(database_url: str) -> list[OperatorAlert]:
    with unit_of_work(database_url) as session:
        rows = session.scalars(select(OperatorAlert).where(OperatorAlert.kind == "dependency_down"))
        found = list(rows)
        session.expunge_all()
        return found


def test_an_outage_raises_one_alert_and_recovery_closes_it(
    database_url: str, tmp_path: Path
) -> None:
    actions_port = closed_port()
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        action_server_url=f"http://127.0.0.1:{actions_port}",
        tracker_url=_tracker(tmp_path),
        outage_alert_after_seconds=0,
    )
    readiness = Readiness(settings, None, startup_grace=timedelta(0))
    asyncio.run(readiness.watch())
    asyncio.run(readiness.watch())  # still down: still one alert each
    open_alerts = {a.detail["dependency"]: a for a in _alerts(database_url)}
    assert set(open_alerts) == {"rasa", "actions"}
    assert all(a.acknowledged_at is None for a in open_alerts.values())
    assert open_alerts["actions"].summary.startswith("The action server has been unreachable")

    # The action server comes back: its alert is closed; Rasa's stays open.
    server = ThreadingHTTPServer(("127.0.0.1", actions_port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        asyncio.run(readiness.watch())
    finally:
        server.shutdown()
        server.server_close()
        asyncio.run(readiness.close())
    after = {a.detail["dependency"]: a for a in _alerts(database_url)}
    assert after["actions"].acknowledged_by == "recovered"
    assert "recovered_at" in after["actions"].detail
    assert after["rasa"].acknowledged_at is None
    assert len(_alerts(database_url)) == 2


def test_a_dependency_still_starting_raises_no_alert_until_it_was_up(
    database_url: str, tmp_path: Path
) -> None:
    """Rasa loading its model for minutes after a deploy is not an outage; once it has
    been up, its going down is."""
    actions_port = closed_port()
    settings = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"),
        action_server_url=f"http://127.0.0.1:{actions_port}",
        tracker_url=_tracker(tmp_path),
        outage_alert_after_seconds=0,
    )
    readiness = Readiness(settings, None)  # the default grace: minutes
    asyncio.run(readiness.watch())
    assert _alerts(database_url) == []
    server = ThreadingHTTPServer(("127.0.0.1", actions_port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        asyncio.run(readiness.watch())  # the action server is up now
    finally:
        server.shutdown()
        server.server_close()
    asyncio.run(readiness.watch())  # and down again
    asyncio.run(readiness.close())
    assert [a.detail["dependency"] for a in _alerts(database_url)] == ["actions"]
