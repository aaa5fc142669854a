"""The report over the admin API (JSON and CSV) and the command line, on the hand-built
records: who may read it, clear refusals of bad parameters, and CSV that holds the same rows
as the JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from redress.__main__ import main
from redress.clock import utcnow
from redress.db.models import Complaint, Conversation, Message
from redress.db.session import unit_of_work
from redress.operators import tokens
from redress.reports.figures import SECTION_KEYS
from tests.integration.conftest import ADMIN_TOKEN
from tests.integration.reports.records import seed

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PERIOD = {"start": "2026-11-08", "end": "2026-12-07"}


@pytest.fixture
def client(rasa_down_client: TestClient) -> TestClient:
    seed(rasa_down_client.database_url)  # type: ignore[attr-defined]
    return rasa_down_client


def agent_token(database_url: str) -> dict[str, str]:
    with unit_of_work(database_url) as session:
        token = tokens.create(session, "reports-agent", "agent", None, utcnow())[1]
    return {"Authorization": f"Bearer {token}"}


def test_the_report_needs_an_operator_token(client: TestClient) -> None:
    assert client.get("/api/reports", params=PERIOD).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert client.get("/api/reports", params=PERIOD, headers=wrong).status_code == 401
    assert client.get("/api/reports/satisfaction.csv", params=PERIOD).status_code == 401
    agent = agent_token(client.database_url)  # type: ignore[attr-defined]
    answer = client.get("/api/reports", params=PERIOD, headers=agent)
    assert answer.status_code == 200
    body = answer.json()
    assert body["period"] == {
        "start": "2026-11-08",
        "end": "2026-12-07",
        "days": 30,
        "team": None,
        "category": None,
    }
    assert [s["key"] for s in body["sections"]] == list(SECTION_KEYS)
    reopen = next(s for s in body["sections"] if s["key"] == "reopen_rate")
    assert reopen["columns"] == ["team", "category", "resolutions", "reopened", "reopen_rate_pct"]
    assert reopen["rows"][-1] == ["All", "All", 2, 1, 50.0]
    assert reopen["note"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "30/11/2026"}, "start must be a date like 2026-11-30, not '30/11/2026'."),
        ({"end": "2026-02-30"}, "end must be a date like 2026-11-30, not '2026-02-30'."),
        (
            {"start": "2026-12-07", "end": "2026-12-01"},
            "The end date (2026-12-01) is before the start date (2026-12-07).",
        ),
        (
            {"start": "2025-01-01", "end": "2026-12-07"},
            "The period is 706 days; a report covers at most 366 days.",
        ),
        ({"team": "nobody", **PERIOD}, "There is no team 'nobody'. Use one of: billing, "
         "customer_care, network, retention, security."),
        ({"category": "weather", **PERIOD}, "There is no category 'weather'. Use one of: "
         "outage, slow_service, billing, delay, faulty_equipment, staff_conduct, refund, "
         "cancellation, account_access, other."),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_clearly(
    client: TestClient, params: dict[str, str], says: str
) -> None:
    for path in ("/api/reports", "/api/reports/satisfaction.csv"):
        answer = client.get(path, params=params, headers=ADMIN)
        assert answer.status_code == 400
        assert answer.json() == {"error": {"code": "invalid_report", "message": says}}


def test_an_unknown_section_has_no_csv(client: TestClient) -> None:
    answer = client.get("/api/reports/everything.csv", headers=ADMIN)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_section"
    assert "recovery_quality" in answer.json()["error"]["message"]


@pytest.mark.parametrize("key", SECTION_KEYS)
def test_each_csv_holds_the_rows_the_json_has(client: TestClient, key: str) -> None:
    sections = client.get("/api/reports", params=PERIOD, headers=ADMIN).json()["sections"]
    section = next(s for s in sections if s["key"] == key)
    answer = client.get(f"/api/reports/{key}.csv", params=PERIOD, headers=ADMIN)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="redress-{key}-2026-11-08-to-2026-12-07.csv"'
    )
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == section["columns"]
    expected = [["" if v is None else str(v) for v in row] for row in section["rows"]]
    if key == "recovery_quality":
        # A wait still open grows between the two requests; the rest is the same.
        wait = section["columns"].index("longest_wait_minutes")
        for row in [*table[1:], *expected]:
            if row[wait + 1] == "yes":
                row[wait] = "still open"
    assert table[1:] == expected


def test_a_formula_a_customer_typed_stays_text_in_the_csv(client: TestClient) -> None:
    url = client.database_url  # type: ignore[attr-defined]
    when = utcnow() - timedelta(days=1)
    with unit_of_work(url) as session:
        session.add(Conversation(id="conv-formula", channel="web", created_at=when))
        session.flush()
        session.add(Message(conversation_id="conv-formula", role="customer", channel="web",
                            text="=HYPERLINK(\"http://x\")", created_at=when))  # fmt: skip
        session.add(
            Complaint(
                reference="=1+2", conversation_id="conv-formula", category="other",
                severity="low", team="customer_care", summary="=1+2", created_at=when,
            )
        )  # fmt: skip
    answer = client.get("/api/reports/recovery_quality.csv", headers=ADMIN)
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert ["conv-formula", "'=1+2", "other"] in [row[:3] for row in rows]


def _settled(sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sections without what moves with the clock: recovery quality's open waits."""
    found = []
    for section in sections:
        if section["key"] == "recovery_quality":
            still = section["columns"].index("wait_still_open")
            wait = section["columns"].index("longest_wait_minutes")
            rows = [
                [None if i == wait and row[still] == "yes" else v for i, v in enumerate(row)]
                for row in section["rows"]
            ]
            section = {**section, "rows": rows, "summary": None}
        found.append(section)
    return found


def test_the_command_line_prints_tables_json_and_csv(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = client.database_url  # type: ignore[attr-defined]
    monkeypatch.setenv("DATABASE_URL", url)
    period = ["--start", "2026-11-08", "--end", "2026-12-07"]
    assert main(["reports", *period, "--section", "reopen_rate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Report for 2026-11-08 to 2026-12-07"
    assert "Reopen rate" in lines
    assert lines[-1].split() == ["All", "All", "2", "1", "50.0"]

    assert main(["reports", *period, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    api = client.get("/api/reports", params=PERIOD, headers=ADMIN).json()
    # A wait still open grows between the two reports (and the averages over waits with
    # it); everything else is the same.
    assert _settled(body["sections"]) == _settled(api["sections"])

    assert main(["reports", *period, "--section", "satisfaction", "--csv"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0][:3] == ["resolved_via", "resolutions", "ratings"]
    assert table[1][:4] == ["agent", "1", "1", "2.0"]

    assert main(["reports", *period, "--team", "network", "--section", "handoff_reasons"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Report for 2026-11-08 to 2026-12-07 (team network)")
    assert "asked_for_person" in out and "angry" not in out


def test_the_command_line_refuses_bad_requests_clearly(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DATABASE_URL", client.database_url)  # type: ignore[attr-defined]
    assert main(["reports", "--start", "yesterday"]) == 2
    assert "Refused: start must be a date like 2026-11-30, not 'yesterday'." in caplog.text
    assert main(["reports", "--csv"]) == 2
    assert "--csv writes one table; choose it with --section" in caplog.text
    assert capsys.readouterr().out == ""
