"""Operator tokens and the audit log, on SQLite and PostgreSQL: the admin token still works as
the built-in administrator; each operator's token does what its role allows (an approver up
to its limit) and nothing more; a revoked token is refused at once; tokens are kept only as
hashes; every operator action is in GET /api/audit with who and when; and the command line
makes, lists and revokes tokens, refusing bad requests clearly."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from bot.app import create_app
from redress.__main__ import main
from redress.business import Business
from redress.clock import utcnow
from redress.compensation import ledger
from redress.db.models import CompensationGrant, CompensationOffer, OperatorAlert, OperatorToken
from redress.db.session import unit_of_work
from redress.incidents import records as incidents_records
from redress.incidents.model import incident_from_mapping
from redress.incidents.notices import raise_alert
from redress.operators import tokens
from tests.integration.compensation.test_fulfilment import POLICY, make_offer
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings
from tests.integration.privacy.customer import tracker_store
from tests.unit.incidents.test_incidents import REGIONS, data

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BUILT_IN = "administrator (REDRESS_ADMIN_TOKEN)"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(database_url: str, name: str, role: str, up_to: str | None = None) -> str:
    with unit_of_work(database_url) as session:
        return tokens.create(session, name, role, up_to, utcnow())[1]


def gateway(database_url: str, business: Business, **settings: Any) -> TestClient:
    config = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"), **settings
    )
    return TestClient(create_app(config, replace(business, compensation=POLICY)))


@pytest.fixture
def api(database_url: str, business: Business, tmp_path: Path) -> Iterator[TestClient]:
    """The gateway with the small compensation policy and a tracker store of its own."""
    with (
        tracker_store(database_url, tmp_path) as (tracker_url, _),
        gateway(database_url, business, tracker_url=tracker_url) as client,
    ):
        yield client


def offer(database_url: str, reference: str) -> CompensationOffer:
    with unit_of_work(database_url) as session:
        row = session.scalar(
            select(CompensationOffer).where(CompensationOffer.reference == reference)
        )
        assert row is not None
        session.expunge(row)
        return row


def grants(database_url: str) -> list[CompensationGrant]:
    with unit_of_work(database_url) as session:
        rows = list(session.scalars(select(CompensationGrant)))
        session.expunge_all()
        return rows


def new_alert(session: Session, key: str) -> int:
    now = utcnow()
    summary = "Something to look at."
    raise_alert(
        session, kind="delivery_failed", dedupe_key=key, summary=summary, detail={}, now=now
    )
    return session.scalars(select(OperatorAlert).where(OperatorAlert.dedupe_key == key)).one().id


def audit_log(api: TestClient, **filters: str) -> list[dict[str, Any]]:
    answer = api.get("/api/audit", params=filters, headers=ADMIN)
    assert answer.status_code == 200, answer.json()
    return answer.json()["entries"]


# Roles and limits -------------------------------------------------------------------------------


def test_each_token_does_what_its_role_allows_and_an_approver_only_up_to_its_limit(
    api: TestClient, database_url: str
) -> None:
    agent = make_token(database_url, "ann", "agent")
    small = make_token(database_url, "sam", "approver", "25.00")
    lead = make_token(database_url, "priya", "approver", "50")
    first = make_offer(database_url, "BL-100001", "delay", at=utcnow())  # £30, waiting
    second = make_offer(database_url, "BL-100002", "delay", at=utcnow())

    # An agent reads the conversation, the offers and the alerts...
    record = api.get(f"/api/conversations/{first.conversation_id}", headers=bearer(agent))
    assert record.status_code == 200
    assert record.json()["offers"][0]["reference"] == first.reference
    listed = api.get("/api/compensation/offers", headers=bearer(agent))
    assert {o["reference"] for o in listed.json()["offers"]} == {first.reference, second.reference}
    assert api.get("/api/alerts", headers=bearer(agent)).status_code == 200
    # ...but decides no money, changes no incident and reads no audit log.
    refused = api.post(
        f"/api/compensation/offers/{first.reference}/approve", json={}, headers=bearer(agent)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "approver role" in refused.json()["error"]["message"]
    assert refused.json()["needs_role"] == "approver"
    made = api.post("/api/incidents", json=data(), headers=bearer(agent))
    assert (made.status_code, made.json()["needs_role"]) == (403, "admin")
    assert api.get("/api/audit", headers=bearer(agent)).status_code == 403
    assert api.get("/api/incidents/INC-LS6-FIBRE", headers=ADMIN).status_code == 404

    # An approver with a £25 limit may not approve (or reject) a £30 offer: nothing changes.
    for action, body in (("approve", {}), ("reject", {"reason": "Credited by phone."})):
        over = api.post(
            f"/api/compensation/offers/{first.reference}/{action}", json=body, headers=bearer(small)
        )
        assert over.status_code == 403, over.json()
        assert over.json()["error"]["code"] == "over_approval_limit"
        assert "£25" in over.json()["error"]["message"]
        assert "£30" in over.json()["error"]["message"]
        assert over.json()["approve_up_to"] == "£25"
    assert offer(database_url, first.reference).status == ledger.PENDING_APPROVAL
    assert grants(database_url) == []

    # One with a £50 limit approves it, in the token's name.
    approved = api.post(
        f"/api/compensation/offers/{first.reference}/approve", json={}, headers=bearer(lead)
    )
    assert approved.status_code == 200, approved.json()
    assert approved.json()["grant"]["approved_by"] == "priya (token)"
    assert offer(database_url, first.reference).decided_by == "priya (token)"
    (granted,) = grants(database_url)
    assert granted.approved_by == "priya (token)"

    # The admin token works as it always did, with the name it is given.
    rejected = api.post(
        f"/api/compensation/offers/{second.reference}/reject",
        json={"by": "Jo", "reason": "Already credited by phone."},
        headers=ADMIN,
    )
    assert rejected.status_code == 200
    assert offer(database_url, second.reference).decided_by == "Jo"

    # Each decision, and each refused attempt, is in the audit log with who and when.
    entries = audit_log(api, subject=first.reference)
    assert [(e["action"], e["actor"], e["via"]) for e in entries] == [
        ("approve", "priya (token)", "operator_token"),
        ("reject_refused", "sam (token)", "operator_token"),
        ("approve_refused", "sam (token)", "operator_token"),
    ]
    assert entries[0]["detail"]["grant"] == granted.reference
    assert entries[0]["detail"]["amount"] == "£30"
    assert entries[1]["detail"]["limit_pence"] == 2500
    assert all(e["created_at"] for e in entries)
    (second_entry,) = audit_log(api, subject=second.reference)
    assert (second_entry["action"], second_entry["actor"]) == ("reject", BUILT_IN)
    assert second_entry["detail"]["by"] == "Jo"
    assert [e["subject"] for e in audit_log(api, action="approve")] == [first.reference]


def test_a_revoked_token_is_refused_at_once_and_tokens_are_kept_only_as_hashes(
    api: TestClient, database_url: str
) -> None:
    token = make_token(database_url, "dana", "agent")
    assert token.startswith("rdo_") and len(token) > 40
    assert api.get("/api/alerts", headers=bearer(token)).status_code == 200
    with unit_of_work(database_url) as session:
        row = session.scalars(select(OperatorToken)).one()
        stored = [str(getattr(row, c.key)) for c in OperatorToken.__table__.columns]
        assert token not in " ".join(stored)
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used_at is not None
        used = row.last_used_at
        tokens.revoke(session, "dana", utcnow())

    answer = api.get("/api/alerts", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "token_revoked"
    assert "revoked" in answer.json()["error"]["message"]
    # A token that merely looks like one, or a prefix of a real one, is nobody's.
    for wrong in ("rdo_" + "x" * 43, token[:-1], token + "x"):
        assert api.get("/api/alerts", headers=bearer(wrong)).json()["error"]["code"] == (
            "unauthorised"
        )
    # The admin token is unaffected.
    assert api.get("/api/alerts", headers=ADMIN).status_code == 200
    with unit_of_work(database_url) as session:
        assert session.scalars(select(OperatorToken)).one().last_used_at == used


def test_last_used_is_noted_at_most_once_a_minute(database_url: str) -> None:
    token = make_token(database_url, "script", "agent")
    start = utcnow()
    moments = [start, start + timedelta(seconds=30), start + timedelta(seconds=61)]
    seen = []
    for moment in moments:
        with unit_of_work(database_url) as session:
            actor = tokens.actor_for(session, token, moment)
            assert actor is not None and (actor.name, actor.role) == ("script", "agent")
        with unit_of_work(database_url) as session:
            seen.append(session.scalars(select(OperatorToken)).one().last_used_at)
    assert seen == [start, start, moments[2]]


def test_without_the_admin_token_the_api_is_off_until_an_operator_token_exists(
    database_url: str, business: Business
) -> None:
    with gateway(database_url, business, admin_token=None) as client:
        off = client.get("/api/alerts", headers=bearer("rdo_nothing"))
        assert off.status_code == 401
        assert off.json()["error"]["code"] == "records_api_disabled"
        assert "REDRESS_ADMIN_TOKEN" in off.json()["error"]["message"]
        token = make_token(database_url, "ops", "admin")
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
        wrong = client.get("/api/alerts", headers=bearer("rdo_nothing"))
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "unauthorised")
        assert client.get("/api/alerts", headers=ADMIN).status_code == 401


# The audit log ----------------------------------------------------------------------------------


def test_every_operator_action_is_in_the_audit_log_with_who_and_when(
    api: TestClient, database_url: str
) -> None:
    ops = make_token(database_url, "ops lead", "admin")
    agent = make_token(database_url, "ann", "agent")

    made = api.post("/api/incidents", json=data(), headers=bearer(ops))
    assert made.status_code == 201, made.json()
    changed = api.patch(
        "/api/incidents/INC-LS6-FIBRE",
        json={"status": "monitoring", "note": "Cable joined."},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.json()
    fixed = api.post(
        "/api/incidents/INC-LS6-FIBRE/resolve", json={"note": "All back."}, headers=bearer(ops)
    )
    assert fixed.status_code == 200

    with unit_of_work(database_url) as session:
        alert_id = new_alert(session, "audit-test")
    # Acknowledging is an agent's job; acknowledging again is not a second action.
    for _ in range(2):
        acked = api.post(f"/api/alerts/{alert_id}/acknowledge", headers=bearer(agent))
        assert acked.status_code == 200
        assert acked.json()["acknowledged_by"] == "ann (token)"

    exported = api.get("/api/privacy/export?account_number=BL-100003", headers=bearer(ops))
    assert exported.status_code == 200, exported.json()
    # Privacy needs the admin role.
    assert (
        api.get("/api/privacy/export?account_number=BL-100003", headers=bearer(agent)).json()[
            "needs_role"
        ]
        == "admin"
    )
    erased = api.post(
        "/api/privacy/erasures", json={"account_number": "BL-100003"}, headers=bearer(ops)
    )
    assert erased.status_code == 200, erased.json()

    entries = audit_log(api)
    assert [(e["action"], e["subject_kind"], e["subject"], e["actor"]) for e in entries] == [
        ("erase", "privacy_audit", str(erased.json()["audit_id"]), "ops lead (token)"),
        ("export", "privacy_audit", entries[1]["subject"], "ops lead (token)"),
        ("alert_acknowledge", "alert", str(alert_id), "ann (token)"),
        ("incident_resolve", "incident", "INC-LS6-FIBRE", "ops lead (token)"),
        ("incident_update", "incident", "INC-LS6-FIBRE", BUILT_IN),
        ("incident_create", "incident", "INC-LS6-FIBRE", "ops lead (token)"),
    ]
    # No personal data: the erasure names its privacy audit row and counts, not the customer.
    assert "BL-100003" not in str(entries[0]) and "BL-100003" not in str(entries[1])
    assert entries[0]["detail"]["by"] == "ops lead (token)"
    assert entries[4]["detail"]["note"] == "Cable joined."
    assert all(e["created_at"].endswith("+00:00") for e in entries)
    newest_first = [e["id"] for e in entries]
    assert newest_first == sorted(newest_first, reverse=True)

    assert [e["action"] for e in audit_log(api, subject="INC-LS6-FIBRE", limit="1")] == [
        "incident_resolve"
    ]
    for bad, code in (({"limit": "0"}, "invalid_limit"), ({"who": "x"}, "unknown_parameter")):
        refused = api.get("/api/audit", params=bad, headers=ADMIN)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, code)


# The command line -------------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("REDRESS_BUSINESS_DIR", raising=False)
    monkeypatch.setenv("USER", "morgan")
    monkeypatch.setenv("LOGNAME", "morgan")
    return database_url


def test_the_command_line_makes_lists_and_revokes_tokens(
    cli: str,
    business: Business,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert main(["tokens", "list"]) == 0
    assert "No operator tokens" in capsys.readouterr().out

    assert main(["tokens", "create", "priya", "--role", "approver", "--approve-up-to", "50"]) == 0
    shown = capsys.readouterr().out
    (token,) = [word for word in shown.split() if word.startswith("rdo_")]
    assert "approving offers up to £50" in shown and "shown only now" in shown
    assert main(["tokens", "create", "reader", "--role", "agent"]) == 0
    capsys.readouterr()

    assert main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert token not in listing
    lines = listing.splitlines()
    assert [line.split()[:2] for line in lines] == [["priya", "approver"], ["reader", "agent"]]
    assert "up to £50" in lines[0] and "never used" in lines[0] and "active" in lines[0]

    with gateway(cli, business) as client:
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
        assert main(["tokens", "revoke", "priya"]) == 0
        assert "refused from now on" in capsys.readouterr().out
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 401
    assert main(["tokens", "revoke", "priya"]) == 0
    assert "already revoked" in capsys.readouterr().out
    assert main(["tokens", "list"]) == 0
    assert "REVOKED" in capsys.readouterr().out.splitlines()[0]

    approver = ["tokens", "create", "x", "--role", "approver"]
    refusals = [
        (["tokens", "create", "reader", "--role", "agent"], "already exists"),
        (["tokens", "create", "priya", "--role", "agent"], "already exists"),
        (["tokens", "create", "x", "--role", "boss"], "unknown role 'boss'"),
        (approver, "needs a limit"),
        (
            ["tokens", "create", "x", "--role", "approver", "--approve-up-to", "lots"],
            "not an amount",
        ),
        (["tokens", "create", "x", "--role", "approver", "--approve-up-to", "0"], "more than £0"),
        (
            ["tokens", "create", "x", "--role", "approver", "--approve-up-to", "1.234"],
            "not an amount",
        ),
        (["tokens", "create", "x", "--role", "agent", "--approve-up-to", "5"], "only an approver"),
        (["tokens", "create", "  ", "--role", "agent"], "a token's name"),
        (["tokens", "revoke", "nobody"], "no token named 'nobody'"),
    ]
    for argv, reason in refusals:
        caplog.clear()
        assert main(argv) == 2, argv
        assert reason in caplog.text, (argv, caplog.text)
    with unit_of_work(cli) as session:
        assert [row.name for row in tokens.all_tokens(session)] == ["priya", "reader"]

    # Making and revoking tokens is in the audit log, in the login name of who ran it.
    assert main(["audit", "--subject", "priya"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "token_revoke" in lines[0] and "by morgan (cli)" in lines[0]
    assert "token_create" in lines[1]
    assert main(["audit", "--action", "approve"]) == 0
    assert capsys.readouterr().out == "No audit entries match.\n"
    assert main(["audit", "--limit", "0"]) == 2


def test_command_line_actions_are_audited_in_the_name_given(
    cli: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = make_offer(cli, "BL-100001", "delay", at=utcnow())
    reject = ["reject", made.reference, "--by", "Priya", "--reason", "Credited by phone."]
    assert main(["compensation", *reject]) == 0
    with unit_of_work(cli) as session:
        alert_id = new_alert(session, "cli-audit")
    assert main(["alerts", "ack", str(alert_id)]) == 0
    assert main(["alerts", "ack", str(alert_id)]) == 0
    assert "already acknowledged" in capsys.readouterr().out
    with unit_of_work(cli) as session:
        now = utcnow()
        incidents_records.create_incident(session, incident_from_mapping(data(), now, REGIONS), now)
    update = ["incidents", "update", "INC-LS6-FIBRE", "--status", "monitoring", "--note", "Joined."]
    assert main(update) == 0
    assert main(["incidents", "resolve", "INC-LS6-FIBRE", "--note", "All back."]) == 0
    capsys.readouterr()

    assert main(["audit"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    assert [line.split()[2:5] for line in lines] == [
        ["incident_resolve", "incident", "INC-LS6-FIBRE"],
        ["incident_update", "incident", "INC-LS6-FIBRE"],
        ["alert_acknowledge", "alert", str(alert_id)],
        ["reject", "offer", made.reference],
    ]
    assert all(line.endswith("by morgan (cli)") for line in lines[:3])
    assert lines[3].endswith("by Priya (cli)")
