"""Operator alerts over the admin API and the command line: the token, listing newest
first, open or all, and acknowledging (once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from redress.__main__ import main
from redress.alerts import list_alerts
from redress.clock import utcnow
from redress.db.session import unit_of_work
from redress.incidents.notices import raise_alert
from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.incidents.test_incident_notices import INCIDENT, open_incident

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FIELDS = {
    "id",
    "kind",
    "summary",
    "detail",
    "incident_id",
    "created_at",
    "acknowledged_at",
    "acknowledged_by",
}


def seed_alerts(database_url: str) -> dict[str, int]:
    """Three alerts a few minutes apart, oldest first; ids by kind."""
    now = utcnow().replace(microsecond=0)
    open_incident(database_url, now=now)  # its promise is hours away: no alert of its own
    raised = [
        ("possible_incident", None, {"district": "LS6", "complaints": ["RD-AAAAAA"]}),
        ("promise_missed", INCIDENT, {"subscribers": 3}),
        ("delivery_failed", INCIDENT, {"outbox": 7}),
    ]
    with unit_of_work(database_url) as session:
        for minutes_ago, (kind, incident_id, detail) in zip((30, 20, 10), raised, strict=True):
            raise_alert(
                session,
                kind=kind,
                dedupe_key=f"{kind}:test",
                summary=f"Something to look at: {kind}.",
                detail=detail,
                incident_id=incident_id,
                now=now - timedelta(minutes=minutes_ago),
            )
    with unit_of_work(database_url) as session:
        return {alert.kind: alert.id for alert in list_alerts(session, open_only=False)}


def test_alerts_need_the_admin_token(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    ids = seed_alerts(client.database_url)  # type: ignore[attr-defined]
    some = ids["promise_missed"]
    wrong = {"Authorization": "Bearer not-the-token"}
    calls = [
        client.get("/api/alerts"),
        client.get("/api/alerts?status=all", headers=wrong),
        client.post(f"/api/alerts/{some}/acknowledge"),
        client.post(f"/api/alerts/{some}/acknowledge", headers=wrong),
        client.get("/api/alerts", headers={"Authorization": ADMIN_TOKEN}),  # no "Bearer"
    ]
    assert [c.status_code for c in calls] == [401] * 5
    assert {c.json()["error"]["code"] for c in calls} == {"unauthorised"}
    # The refused acknowledgements changed nothing.
    listed = client.get("/api/alerts", headers=AUTH).json()["alerts"]
    assert len(listed) == 3 and all(a["acknowledged_at"] is None for a in listed)


def test_listing_filtering_and_acknowledging(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    assert client.get("/api/alerts", headers=AUTH).json() == {"alerts": []}
    ids = seed_alerts(client.database_url)  # type: ignore[attr-defined]

    listed = client.get("/api/alerts", headers=AUTH)
    assert listed.status_code == 200
    alerts = listed.json()["alerts"]
    assert [a["kind"] for a in alerts] == ["delivery_failed", "promise_missed", "possible_incident"]
    assert all(set(a) == FIELDS for a in alerts)
    newest = alerts[0]
    assert newest["id"] == ids["delivery_failed"]
    assert newest["summary"] == "Something to look at: delivery_failed."
    assert newest["detail"] == {"outbox": 7}
    assert newest["incident_id"] == INCIDENT
    assert alerts[2]["incident_id"] is None
    assert alerts[2]["detail"]["complaints"] == ["RD-AAAAAA"]
    assert newest["created_at"] > alerts[1]["created_at"] > alerts[2]["created_at"]
    assert client.get("/api/alerts?status=all", headers=AUTH).json()["alerts"] == alerts

    acked = client.post(f"/api/alerts/{ids['promise_missed']}/acknowledge", headers=AUTH)
    assert acked.status_code == 200
    first_time = acked.json()["acknowledged_at"]
    assert first_time is not None
    changed = {"acknowledged_at", "acknowledged_by"}
    assert {k: v for k, v in acked.json().items() if k not in changed} == {
        k: v for k, v in alerts[1].items() if k not in changed
    }
    assert acked.json()["acknowledged_by"] == "administrator (REDRESS_ADMIN_TOKEN)"
    # Again: fine, and the first time stands.
    again = client.post(f"/api/alerts/{ids['promise_missed']}/acknowledge", headers=AUTH)
    assert again.status_code == 200 and again.json()["acknowledged_at"] == first_time

    still_open = client.get("/api/alerts?status=open", headers=AUTH).json()["alerts"]
    assert [a["kind"] for a in still_open] == ["delivery_failed", "possible_incident"]
    every = client.get("/api/alerts?status=all", headers=AUTH).json()["alerts"]
    assert [(a["kind"], a["acknowledged_at"]) for a in every] == [
        ("delivery_failed", None),
        ("promise_missed", first_time),
        ("possible_incident", None),
    ]


def test_unknown_statuses_and_alerts_are_refused_clearly(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    for status in ("acknowledged", "", "OPEN", "all,open"):
        refused = client.get("/api/alerts", params={"status": status}, headers=AUTH)
        assert refused.status_code == 400, status
        assert refused.json()["error"] == {
            "code": "invalid_status",
            "message": "status must be open or all.",
        }
    for alert_id in ("999999", "abc", "-1", "1.5", "9" * 40):
        refused = client.post(f"/api/alerts/{alert_id}/acknowledge", headers=AUTH)
        assert refused.status_code == 404, alert_id
        assert refused.json()["error"] == {
            "code": "unknown_alert",
            "message": "There is no alert with that id.",
        }


def test_the_command_line_lists_and_acknowledges(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("REDRESS_BUSINESS_DIR", raising=False)
    assert main(["alerts"]) == 0
    assert capsys.readouterr().out == "No open alerts.\n"
    ids = seed_alerts(database_url)

    assert main(["alerts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].split()[0] == str(ids["delivery_failed"])
    assert "delivery_failed" in lines[0] and "Something to look at" in lines[0]
    assert "possible_incident" in lines[2]

    assert main(["alerts", "ack", str(ids["delivery_failed"])]) == 0
    assert capsys.readouterr().out == f"acknowledged alert {ids['delivery_failed']}\n"
    assert main(["alerts"]) == 0
    assert "delivery_failed" not in capsys.readouterr().out
    assert main(["alerts", "--all"]) == 0
    every = capsys.readouterr().out.splitlines()
    assert len(every) == 3 and "acked" in every[0] and "open" in every[1]

    assert main(["alerts", "ack", "999999"]) == 2
    assert "no alert 999999" in caplog.text


@pytest.mark.parametrize("alert_id", ["999999999999999999", "2147483648", "0", "12a", "٣"])
def test_alert_ids_that_cannot_exist_are_404_not_a_crash(
    rasa_down_client: TestClient, alert_id: str
) -> None:
    response = rasa_down_client.post(f"/api/alerts/{alert_id}/acknowledge", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_alert"
