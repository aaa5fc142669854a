"""The incidents API: every refusal, the token, and the happy paths."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.integration.conftest import ADMIN_TOKEN
from tests.unit.incidents.test_incidents import data

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _create(client: TestClient, **changes: Any) -> Any:
    return client.post("/api/incidents", json=data(**changes), headers=AUTH)


def test_every_route_needs_the_admin_token(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    calls = [
        client.get("/api/incidents"),
        client.post("/api/incidents", json=data()),
        client.get("/api/incidents/INC-LS6-FIBRE"),
        client.patch("/api/incidents/INC-LS6-FIBRE", json={"status": "monitoring"}),
        client.post("/api/incidents/INC-LS6-FIBRE/resolve", json={"note": "Fixed."}),
        client.get("/api/incidents", headers={"Authorization": "Bearer wrong-token"}),
    ]
    assert [c.status_code for c in calls] == [401] * 6
    assert calls[0].json()["error"]["code"] == "unauthorised"
    assert client.get("/api/incidents", headers=AUTH).json() == {"incidents": []}


def test_create_update_resolve_and_history(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    created = _create(client)
    assert created.status_code == 201
    assert created.json()["id"] == "INC-LS6-FIBRE"
    assert [u["note"] for u in created.json()["history"]] == ["Incident opened"]

    patched = client.patch(
        "/api/incidents/INC-LS6-FIBRE",
        json={
            "status": "monitoring",
            "next_update_by": "+2h",
            "expected_fix": {"at": "+4h", "text": "We expect it back within four hours."},
            "note": "The cable is joined; we are checking each line.",
        },
        headers=AUTH,
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["status"] == "monitoring"
    assert patched.json()["expected_fix"]["text"] == "We expect it back within four hours."

    listed = client.get("/api/incidents?status=active", headers=AUTH).json()["incidents"]
    assert [i["id"] for i in listed] == ["INC-LS6-FIBRE"]

    resolved = client.post(
        "/api/incidents/INC-LS6-FIBRE/resolve", json={"note": "All lines are back."}, headers=AUTH
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved" and resolved.json()["end"]

    shown = client.get("/api/incidents/inc-ls6-fibre", headers=AUTH).json()
    assert [(u["status"], u["note"]) for u in shown["history"]] == [
        ("identified", "Incident opened"),
        ("monitoring", "The cable is joined; we are checking each line."),
        ("resolved", "All lines are back."),
    ]
    assert client.get("/api/incidents", headers=AUTH).json() == {"incidents": []}
    every = client.get("/api/incidents?status=all", headers=AUTH).json()["incidents"]
    assert [i["id"] for i in every] == ["INC-LS6-FIBRE"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"status": "sorted"}, "status", "unknown status"),
        ({"why": ...}, "why", "missing"),
        ({"end": "2026-11-01T00:00:00Z"}, "end", "before the start"),
        ({"next_update_by": "2026-11-01T00:00:00Z"}, "next_update_by", "in the past"),
        ({"categories": ["wifi"]}, "categories", "unknown category"),
        ({"areas": ["Atlantis"]}, "areas", "unknown area"),
        ({"accounts": ["12345"]}, "accounts", "is not an account number like BL-100001"),
        ({"accounts": "BL-1"}, "accounts", "is not an account number"),
        ({"why": "Our supplier cut the cable."}, "why", "blame-shifting phrase 'our supplier'"),
        (
            {
                "why": "Notwithstanding considerable organisational complications, "
                "comprehensive investigation necessitates extraordinary coordination."
            },
            "why",
            "reading ease",
        ),
        ({"start": "soon"}, "start", "not a time"),
        ({"services": "Broadband", "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_incidents_are_refused_naming_the_field(
    rasa_down_client: TestClient, changes: dict[str, Any], field: str, words: str
) -> None:
    response = _create(rasa_down_client, **changes)
    assert response.status_code == 400
    problem = response.json()["error"]
    assert problem["code"] == "invalid_incident"
    assert problem["field"] == field
    assert problem["message"].startswith(f"{field}: ") and words in problem["message"]
    assert rasa_down_client.get("/api/incidents", headers=AUTH).json() == {"incidents": []}


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not json", "invalid_json"), (b"[1, 2]", "invalid_body"), (b"\xff", "invalid_utf8")],
)
def test_malformed_bodies(rasa_down_client: TestClient, body: bytes, code: str) -> None:
    for method, url in [("POST", "/api/incidents"), ("PATCH", "/api/incidents/INC-X")]:
        response = rasa_down_client.request(method, url, content=body, headers=AUTH)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code


def test_a_duplicate_id_is_a_conflict(rasa_down_client: TestClient) -> None:
    assert _create(rasa_down_client).status_code == 201
    again = _create(rasa_down_client)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "incident_exists"


def test_unknown_incidents_are_404(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    for response in [
        client.get("/api/incidents/INC-NOPE", headers=AUTH),
        client.patch("/api/incidents/INC-NOPE", json={"status": "monitoring"}, headers=AUTH),
        client.post("/api/incidents/INC-NOPE/resolve", json={"note": "Fixed."}, headers=AUTH),
    ]:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_incident"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "done"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"status": 3}, "status"),
        ({"next_update_by": "-1h"}, "next_update_by"),
        ({"next_update_by": "tomorrow"}, "next_update_by"),
        ({"expected_fix": 12}, "expected_fix"),
        ({"what_we_are_doing": "We escalated your ticket."}, "what_we_are_doing"),
        ({"why": "  "}, "why"),
        ({}, "update"),
    ],
)
def test_invalid_updates_are_refused(
    rasa_down_client: TestClient, body: dict[str, Any], field: str
) -> None:
    assert _create(rasa_down_client).status_code == 201
    response = rasa_down_client.patch("/api/incidents/INC-LS6-FIBRE", json=body, headers=AUTH)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["field"] == field
    history = rasa_down_client.get("/api/incidents/INC-LS6-FIBRE", headers=AUTH).json()["history"]
    assert len(history) == 1


def test_a_resolved_incident_cannot_change(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    assert _create(client).status_code == 201
    url = "/api/incidents/INC-LS6-FIBRE"
    assert client.post(f"{url}/resolve", json={"note": "Fixed."}, headers=AUTH).status_code == 200
    for response in [
        client.patch(url, json={"status": "investigating"}, headers=AUTH),
        client.post(f"{url}/resolve", json={"note": "Again."}, headers=AUTH),
    ]:
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "incident_resolved"


def test_resolve_needs_a_note_and_list_a_known_status(rasa_down_client: TestClient) -> None:
    client = rasa_down_client
    assert _create(client).status_code == 201
    url = "/api/incidents/INC-LS6-FIBRE/resolve"
    for body in [{}, {"note": " "}, {"note": 5}, {"note": "Fixed.", "extra": 1}]:
        response = client.post(url, json=body, headers=AUTH)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_incident"
    listed = client.get("/api/incidents?status=finished", headers=AUTH)
    assert listed.status_code == 400
    assert listed.json()["error"]["code"] == "invalid_status"
