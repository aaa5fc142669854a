"""The compensation API and command line, on SQLite and PostgreSQL: who may use them, what
operators see, approving and rejecting (and what the customer is told), the limits holding,
and the spending figures. Offers are made through the real ledger with a small policy."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.app import create_app
from bot.jobs.delivery import Delivery
from bot.jobs.scheduler import Scheduler
from bot.live import LiveHub
from bot.rasa_client import RasaClient
from bot.relay import Relay
from redress.__main__ import main
from redress.business import Business
from redress.clock import utcnow
from redress.compensation import ledger
from redress.compensation.operators import approved_text, rejected_text
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    FulfilmentDelivery,
    Handoff,
    Message,
    OutboxMessage,
)
from redress.db.session import unit_of_work
from redress.incidents import records as incidents_records
from redress.incidents.model import incident_from_mapping
from redress.plain_language import check_text
from redress.settings import REPO_ROOT
from tests.integration.compensation.test_fulfilment import (
    POLICY,
    POLICY_DATA,
    SECRET,
    Made,
    make_offer,
)
from tests.integration.conftest import ADMIN_TOKEN, closed_port, gateway_settings
from tests.unit.incidents.test_incidents import REGIONS, data

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INCIDENT = "INC-LS6-FIBRE"


@contextmanager
def client_for(database_url: str, business: Business, **settings: Any) -> Iterator[TestClient]:
    config = replace(
        gateway_settings(database_url, f"http://127.0.0.1:{closed_port()}"), **settings
    )
    app = create_app(config, replace(business, compensation=POLICY))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def api(database_url: str, business: Business) -> Iterator[TestClient]:
    """The gateway with the small policy and no billing webhook."""
    with client_for(database_url, business) as client:
        yield client


def bot_messages(database_url: str, conversation_id: str) -> list[Message]:
    with unit_of_work(database_url) as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.role == "bot")
                .order_by(Message.id)
            )
        )


def grant_count(database_url: str) -> int:
    with unit_of_work(database_url) as session:
        return session.scalar(select(func.count()).select_from(CompensationGrant)) or 0


def offer_status(database_url: str, reference: str) -> str:
    with unit_of_work(database_url) as session:
        offer = session.scalar(
            select(CompensationOffer).where(CompensationOffer.reference == reference)
        )
        assert offer is not None
        return offer.status


def approve(api: TestClient, reference: str, by: str = "Priya (team lead)") -> Any:
    return api.post(f"/api/compensation/offers/{reference}/approve", json={"by": by}, headers=AUTH)


def reject(api: TestClient, reference: str, reason: str = "Already credited by phone.") -> Any:
    return api.post(
        f"/api/compensation/offers/{reference}/reject",
        json={"by": "Sam", "reason": reason},
        headers=AUTH,
    )


def open_incident(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        now = utcnow()
        incidents_records.create_incident(session, incident_from_mapping(data(), now, REGIONS), now)


# The token ----------------------------------------------------------------------------------


def test_every_route_needs_the_admin_token(api: TestClient, database_url: str) -> None:
    made = make_offer(database_url, category="delay", at=utcnow())
    routes = [
        ("get", "/api/compensation/offers"),
        ("get", "/api/compensation/offers?status=all"),
        ("post", f"/api/compensation/offers/{made.reference}/approve"),
        ("post", f"/api/compensation/offers/{made.reference}/reject"),
        ("get", "/api/compensation/grants?account=BL-100001"),
        ("get", "/api/compensation/spend"),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": ADMIN_TOKEN}):
        for method, path in routes:
            answer = api.request(method, path, headers=headers, json={"by": "x", "reason": "y"})
            assert answer.status_code == 401, (method, path, headers)
            assert answer.json()["error"]["code"] == "unauthorised"
    # Nothing was granted or rejected by those calls.
    assert offer_status(database_url, made.reference) == ledger.PENDING_APPROVAL
    assert grant_count(database_url) == 0
    assert bot_messages(database_url, made.conversation_id) == []


# Listing offers -----------------------------------------------------------------------------


def test_offers_waiting_for_a_person_are_listed_with_whose_they_are_and_why(
    api: TestClient, database_url: str
) -> None:
    now = utcnow()
    waiting = make_offer(database_url, "BL-100003", "delay", at=now)
    at_once = make_offer(database_url, "BL-100004", "billing", at=now)

    answer = api.get("/api/compensation/offers", headers=AUTH)
    assert answer.status_code == 200
    (offer,) = answer.json()["offers"]
    assert offer["reference"] == waiting.reference
    assert offer["status"] == "pending_approval"
    assert (offer["amount_pence"], offer["amount"]) == (3000, "£30")
    assert offer["remedy"] == "account_credit"
    assert offer["account_number"] == "BL-100003"
    assert offer["customer_name"] == "Margaret Hughes"
    assert offer["complaint"] == waiting.complaint
    assert offer["conversation_id"] == waiting.conversation_id
    assert "rule missed-appointment-credit" in offer["explanation"]
    assert "above the £25 a person must approve" in offer["explanation"]
    assert offer["grant"] is None

    every = api.get("/api/compensation/offers?status=all", headers=AUTH).json()["offers"]
    assert [o["reference"] for o in every] == [waiting.reference, at_once.reference]
    offered = api.get("/api/compensation/offers?status=offered", headers=AUTH).json()["offers"]
    assert [(o["reference"], o["amount"]) for o in offered] == [(at_once.reference, "£10")]

    bad = api.get("/api/compensation/offers?status=open", headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_status"
    assert "pending_approval" in bad.json()["error"]["message"]
    assert api.get("/api/compensation/offers?limit=0", headers=AUTH).status_code == 400


# Approving ----------------------------------------------------------------------------------


def test_approving_grants_once_and_tells_the_customer_in_their_conversation(
    api: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100001", "delay", at=utcnow())
    with unit_of_work(database_url) as session:  # the customer's web chat holds its token
        conversation = conversations.get_conversation(session, made.conversation_id)
        assert conversation is not None
        token = conversations.issue_client_token(conversation)

    live_url = f"/api/conversations/{made.conversation_id}/live?token={token}"
    with api.websocket_connect(live_url) as live:
        answer = approve(api, made.reference.lower())
        assert answer.status_code == 200, answer.json()
        shown = live.receive_json()

    body = answer.json()
    granted = body["grant"]
    assert granted["reference"].startswith("CR-")
    assert granted["offer"] == made.reference
    assert (granted["amount_pence"], granted["amount"]) == (3000, "£30")
    assert granted["approved_by"] == "Priya (team lead)"
    assert granted["account_number"] == "BL-100001"
    assert granted["fulfilment"] is None  # no webhook: the ledger is the record
    assert body["offer"]["status"] == "granted"
    assert body["offer"]["decided_by"] == "Priya (team lead)"
    assert body["already_decided"] is False

    # The customer reads it in their conversation: live on the open page, and in the record.
    text = body["customer_message"]
    assert text == approved_text("account_credit", 3000, granted["reference"])
    assert text.startswith("Good news: a person on our team approved it.")
    assert "£30 credit" in text and granted["reference"] in text
    assert check_text(text) == []
    (message,) = bot_messages(database_url, made.conversation_id)
    assert message.text == text
    assert (shown["id"], shown["text"]) == (message.id, text)
    record = api.get(f"/api/conversations/{made.conversation_id}", headers=AUTH).json()
    assert record["messages"][-1]["text"] == text

    # Approving again (a double click, a second person) gives the same grant and says nothing.
    again = approve(api, made.reference, by="Someone else")
    assert again.status_code == 200
    assert again.json()["grant"]["reference"] == granted["reference"]
    assert again.json()["grant"]["approved_by"] == "Priya (team lead)"
    assert again.json()["already_decided"] is True
    assert again.json()["customer_message"] is None
    assert len(bot_messages(database_url, made.conversation_id)) == 1
    assert grant_count(database_url) == 1
    with unit_of_work(database_url) as session:
        assert session.scalars(select(FulfilmentDelivery)).all() == []

    # It is listed as a grant, and is no longer waiting.
    grants = api.get("/api/compensation/grants", headers=AUTH).json()["grants"]
    assert [g["reference"] for g in grants] == [granted["reference"]]
    assert api.get("/api/compensation/offers", headers=AUTH).json() == {"offers": []}

    # A granted offer cannot be rejected afterwards.
    late = reject(api, made.reference)
    assert late.status_code == 409
    assert late.json()["reason"] == "the offer is granted"


def test_two_people_approving_at_once_make_one_grant_and_one_message(
    api: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100006", "delay", at=utcnow())
    start = threading.Barrier(2)

    def click(name: str) -> Any:
        start.wait()
        return approve(api, made.reference, by=name)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(click, ["Priya", "Sam"]))
    assert [a.status_code for a in answers] == [200, 200]
    bodies = [a.json() for a in answers]
    assert len({b["grant"]["reference"] for b in bodies}) == 1
    assert sorted(b["already_decided"] for b in bodies) == [False, True]
    assert grant_count(database_url) == 1
    assert len(bot_messages(database_url, made.conversation_id)) == 1


def test_approving_beyond_the_limits_is_refused_with_the_reason_and_grants_nothing(
    api: TestClient, database_url: str
) -> None:
    now = utcnow()
    # Four £30 offers for one customer; the policy allows three remedies (and £100) in 90 days.
    offers = [make_offer(database_url, "BL-100005", "delay", at=now) for _ in range(4)]
    for made in offers[:3]:
        assert approve(api, made.reference).status_code == 200

    refused = approve(api, offers[3].reference)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_grantable"
    assert refused.json()["reason"] == "the customer already had 3 remedies in 90 days"
    assert "already had 3 remedies" in refused.json()["error"]["message"]
    assert grant_count(database_url) == 3
    # Nothing changed: the offer still waits for a person, and the customer heard nothing.
    assert offer_status(database_url, offers[3].reference) == "pending_approval"
    assert bot_messages(database_url, offers[3].conversation_id) == []
    spent = api.get("/api/compensation/grants?account=BL-100005", headers=AUTH).json()
    assert sum(g["amount_pence"] for g in spent["grants"]) == 9000

    # The person can still reject it, so the customer is told where they stand.
    assert reject(api, offers[3].reference, "Over the limit for this year.").status_code == 200
    (message,) = bot_messages(database_url, offers[3].conversation_id)
    assert message.text == rejected_text("account_credit", 3000)


def test_an_incident_budget_holds_when_a_person_approves(
    api: TestClient, database_url: str
) -> None:
    open_incident(database_url)
    now = utcnow()
    # £40 vouchers need a person; two would take the incident past its £50 budget.
    first, second = (
        make_offer(database_url, account, "staff_conduct", at=now, incident=INCIDENT)
        for account in ("BL-100006", "BL-100007")
    )
    assert approve(api, first.reference).status_code == 200
    refused = approve(api, second.reference)
    assert refused.status_code == 409
    assert refused.json()["reason"] == f"it would take {INCIDENT} over its budget"
    assert grant_count(database_url) == 1


def test_a_second_remedy_for_one_problem_is_refused_and_operators_see_why(
    api: TestClient, database_url: str
) -> None:
    open_incident(database_url)
    now = utcnow()
    # Two conversations about one incident, both offered before either was decided.
    first, second = (
        make_offer(database_url, "BL-100006", "staff_conduct", at=now, incident=INCIDENT)
        for _ in range(2)
    )
    granted = approve(api, first.reference).json()["grant"]["reference"]
    refused = approve(api, second.reference)
    assert refused.status_code == 409
    assert refused.json()["reason"].startswith(
        f"the same problem was already compensated: {granted} (£40 voucher on "
    )
    assert grant_count(database_url) == 1
    assert offer_status(database_url, second.reference) == "pending_approval"

    # A third complaint about it is offered nothing, and the records say why.
    with unit_of_work(database_url) as session:
        customer = customers.find_customer(session, "BL-100006")
        assert customer is not None
        conversation = conversations.start_conversation(session, "web")
        customers.attach_customer(session, conversation, customer)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="outage",
            severity="medium",
            severity_reasons=[],
            summary="It is down again.",
            facts={"logged": True},
        )
        complaint.incident_id = INCIDENT
        assert ledger.make_offer(session, complaint, POLICY, utcnow())[0] is None
        third = complaint.reference
    listed = api.get("/api/compensation/offers?status=already_compensated", headers=AUTH)
    (row,) = listed.json()["offers"]
    assert (row["complaint"], row["remedy"], row["amount_pence"]) == (third, "nothing", 0)
    assert (
        f"the same problem (the same incident, {INCIDENT}) was already compensated: "
        in (row["explanation"])
    )
    assert granted in row["explanation"] and row["grant"] is None


def test_only_offers_waiting_for_a_person_can_be_approved(
    api: TestClient, database_url: str
) -> None:
    now = utcnow()
    unanswered = make_offer(database_url, "BL-100008", "billing", at=now)
    declined = make_offer(database_url, "BL-100009", "billing", at=now)
    with unit_of_work(database_url) as session:
        offer = session.get(CompensationOffer, declined.offer_id)
        assert offer is not None
        ledger.decline(session, offer, now)

    refused = approve(api, unanswered.reference)
    assert refused.status_code == 409
    assert (
        refused.json()["reason"] == "the offer is waiting for the customer's answer, not a person's"
    )
    assert approve(api, declined.reference).json()["reason"] == "the offer is declined"
    assert grant_count(database_url) == 0
    assert offer_status(database_url, unanswered.reference) == "offered"
    assert bot_messages(database_url, unanswered.conversation_id) == []


# Rejecting ----------------------------------------------------------------------------------


def test_rejecting_tells_the_customer_honestly_and_keeps_the_reason(
    api: TestClient, database_url: str
) -> None:
    made = make_offer(database_url, "BL-100009", "staff_conduct", at=utcnow())
    reason = "We credited this by phone last week."

    answer = reject(api, made.reference, reason)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["grant"] is None
    assert body["offer"]["status"] == "rejected"
    assert body["offer"]["decided_by"] == "Sam"
    assert body["offer"]["explanation"].endswith(f"; rejected by Sam: {reason}")

    # The customer hears it plainly, is not shown our internal reason, and a person follows up.
    (message,) = bot_messages(database_url, made.conversation_id)
    assert message.text == body["customer_message"] == rejected_text("voucher", 4000)
    assert "we can't send you a £40 voucher this time" in message.text
    assert "will be in touch" in message.text
    assert reason not in message.text
    assert check_text(message.text) == []
    with unit_of_work(database_url) as session:
        (handoff,) = session.scalars(
            select(Handoff).where(Handoff.conversation_id == made.conversation_id)
        ).all()
        assert handoff.reason == "compensation_rejected"

    # Rejected is final: no second rejection, no approval, no grant.
    assert reject(api, made.reference).json()["reason"] == "the offer is rejected"
    assert approve(api, made.reference).status_code == 409
    assert grant_count(database_url) == 0
    assert len(bot_messages(database_url, made.conversation_id)) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"by": "Sam"}, "invalid_reason"),
        ({"reason": "Because."}, "invalid_by"),
        ({"by": "   ", "reason": "Because."}, "invalid_by"),
        ({"by": "Sam", "reason": 42}, "invalid_reason"),
        ({"by": "Sam", "reason": "x" * 501}, "invalid_reason"),
        ({"by": "S" * 121, "reason": "Because."}, "invalid_by"),
        ({"by": "Sam", "reason": "Because.", "amount": 9000}, "unknown_field"),
        (["Sam"], "invalid_body"),
    ],
)
def test_a_decision_needs_a_name_and_a_reason(
    api: TestClient, database_url: str, body: Any, code: str
) -> None:
    made = make_offer(database_url, "BL-100010", "delay", at=utcnow())
    answer = api.post(f"/api/compensation/offers/{made.reference}/reject", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert offer_status(database_url, made.reference) == "pending_approval"
    no_name = api.post(f"/api/compensation/offers/{made.reference}/approve", json={}, headers=AUTH)
    assert no_name.json()["error"]["code"] == "invalid_by"
    assert grant_count(database_url) == 0


def test_unknown_offers_and_accounts_are_404(api: TestClient) -> None:
    for reference in ("OF-ZZZZZZ", "nonsense", "CR-ABCDEF"):
        for action in ("approve", "reject"):
            answer = api.post(
                f"/api/compensation/offers/{reference}/{action}",
                json={"by": "Sam", "reason": "Because."} if action == "reject" else {"by": "Sam"},
                headers=AUTH,
            )
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "unknown_offer"
    for account in ("BL-999999", "not an account"):
        answer = api.get(f"/api/compensation/grants?account={account}", headers=AUTH)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "unknown_account"


# Grants and spending ------------------------------------------------------------------------


def test_grants_are_listed_per_customer_newest_first(api: TestClient, database_url: str) -> None:
    now = utcnow()
    earlier = make_offer(database_url, "BL-100001", "billing", at=now - timedelta(days=2))
    later = make_offer(database_url, "BL-100001", "delay", at=now)
    other = make_offer(database_url, "BL-100002", "billing", at=now)
    with unit_of_work(database_url) as session:
        ledger.grant(session, earlier.offer_id, POLICY, now - timedelta(days=2))
        ledger.grant(session, other.offer_id, POLICY, now)
    assert approve(api, later.reference).status_code == 200

    mine = api.get("/api/compensation/grants?account=bl%20100001", headers=AUTH).json()["grants"]
    assert [(g["offer"], g["amount"], g["approved_by"]) for g in mine] == [
        (later.reference, "£30", "Priya (team lead)"),
        (earlier.reference, "£10", ledger.BY_POLICY),
    ]
    assert {g["account_number"] for g in mine} == {"BL-100001"}
    assert mine[1]["complaint"] == earlier.complaint
    assert mine[1]["conversation_id"] == earlier.conversation_id
    everyone = api.get("/api/compensation/grants", headers=AUTH).json()["grants"]
    assert len(everyone) == 3


def test_spending_adds_up_against_each_budget_and_limit(api: TestClient, database_url: str) -> None:
    open_incident(database_url)
    now = utcnow()
    # Two £20 outage credits on the incident (budget £50).
    for account in ("BL-100002", "BL-100003"):
        made = make_offer(database_url, account, "outage", at=now, incident=INCIDENT)
        with unit_of_work(database_url) as session:
            ledger.grant(session, made.offer_id, POLICY, now)
    # BL-100001: £10 within the policy and £30 approved by a person.
    billing = make_offer(database_url, "BL-100001", "billing", at=now)
    with unit_of_work(database_url) as session:
        ledger.grant(session, billing.offer_id, POLICY, now)
    person = approve(api, make_offer(database_url, "BL-100001", "delay", at=now).reference)
    assert person.status_code == 200
    # Outside the 90-day window: counted nowhere but on its (absent) incident.
    old = make_offer(database_url, "BL-100004", "billing", at=now - timedelta(days=100))
    with unit_of_work(database_url) as session:
        ledger.grant(session, old.offer_id, POLICY, now - timedelta(days=100))
    # Still waiting for a person.
    make_offer(database_url, "BL-100005", "staff_conduct", at=now)

    report = api.get("/api/compensation/spend", headers=AUTH).json()
    assert report["window_days"] == 90
    assert report["totals"] == {
        "granted_pence": 8000,
        "granted": "£80",
        "grants": 4,
        "customers": 3,
    }
    (incident,) = report["incidents"]
    assert incident["incident"] == INCIDENT and incident["grants"] == 2
    assert (incident["spent_pence"], incident["spent"]) == (4000, "£40")
    assert (incident["budget_pence"], incident["budget"]) == (5000, "£50")
    assert (incident["left_pence"], incident["left"]) == (1000, "£10")
    assert [
        (c["account_number"], c["granted"], c["grants"], c["left"], c["remedies_left"])
        for c in report["top_customers"]
    ] == [
        ("BL-100001", "£40", 2, "£60", 1),
        ("BL-100002", "£20", 1, "£80", 2),
        ("BL-100003", "£20", 1, "£80", 2),
    ]
    assert report["top_customers"][0]["limit"] == "£100"
    assert report["pending_approval"] == {"offers": 1, "amount_pence": 4000, "amount": "£40"}


# The billing webhook ------------------------------------------------------------------------


def test_with_a_webhook_each_approval_queues_one_delivery_for_the_gateway(
    database_url: str, business: Business
) -> None:
    # Nothing listens at the address: the gateway's sender keeps the grant for a later try.
    url = f"http://127.0.0.1:{closed_port()}/grants"
    with client_for(
        database_url, business, fulfilment_webhook_url=url, fulfilment_webhook_secret=SECRET
    ) as api:
        assert Scheduler.FULFIL in api.app.state.scheduler.job_ids()  # type: ignore[attr-defined]
        made = make_offer(database_url, "BL-100011", "delay", at=utcnow())
        granted = approve(api, made.reference).json()["grant"]
        assert granted["fulfilment"]["status"] in {"pending", "sending"}
        assert approve(api, made.reference).json()["grant"]["reference"] == granted["reference"]
    with unit_of_work(database_url) as session:
        (row,) = session.scalars(select(FulfilmentDelivery)).all()
        assert row.payload["grant"] == granted["reference"]
        assert row.payload["approved_by"] == "Priya (team lead)"
        assert row.payload["amount_pence"] == 3000


def test_without_a_webhook_approvals_queue_nothing_and_no_sender_runs(
    api: TestClient, database_url: str
) -> None:
    assert api.app.state.fulfilment is None  # type: ignore[attr-defined]
    assert Scheduler.FULFIL not in api.app.state.scheduler.job_ids()  # type: ignore[attr-defined]
    made = make_offer(database_url, "BL-100012", "delay", at=utcnow())
    assert approve(api, made.reference).json()["grant"]["fulfilment"] is None
    with unit_of_work(database_url) as session:
        assert session.scalars(select(FulfilmentDelivery)).all() == []


# The command line ---------------------------------------------------------------------------


def test_the_command_line_approves_and_rejects_and_the_gateway_tells_the_customer(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The command line reads the policy from the business folder: here, the small one."""
    folder = tmp_path / "business"
    shutil.copytree(REPO_ROOT / "business", folder)
    (folder / "compensation.yml").write_text(yaml.safe_dump(POLICY_DATA), encoding="utf-8")
    monkeypatch.setenv("REDRESS_BUSINESS_DIR", str(folder))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("FULFILMENT_WEBHOOK_URL", raising=False)
    made = []
    with unit_of_work(database_url) as session:
        for account in ("BL-100001", "BL-100002"):
            customer = customers.find_customer(session, account)
            assert customer is not None
            conversation = conversations.start_conversation(session, "web")
            customers.attach_customer(session, conversation, customer)
            complaint = complaint_records.open_complaint(
                session, conversation, category="delay", severity="medium",
                severity_reasons=[], summary="The engineer never came.", facts={"logged": True},
            )  # fmt: skip
            offer, why = ledger.make_offer(session, complaint, POLICY, utcnow())
            assert offer is not None and offer.status == "pending_approval", why
            made.append(Made(offer.id, offer.reference, conversation.id, complaint.reference))
    first, second = made

    assert main(["compensation", "offers"]) == 0
    listed = capsys.readouterr().out
    assert first.reference in listed and second.reference in listed and "£30" in listed

    assert main(["compensation", "approve", first.reference, "--by", "Priya"]) == 0
    out = capsys.readouterr().out
    with unit_of_work(database_url) as session:
        granted = session.scalar(select(CompensationGrant))
        assert granted is not None and granted.approved_by == "Priya"
    assert f"granted {granted.reference}" in out and "queued" in out
    assert main(["compensation", "approve", first.reference, "--by", "Priya"]) == 0
    assert "already granted" in capsys.readouterr().out

    reject_args = ["reject", second.reference, "--by", "Sam", "--reason", "Credited by phone."]
    assert main(["compensation", *reject_args]) == 0
    assert f"rejected {second.reference}" in capsys.readouterr().out
    assert main(["compensation", *reject_args]) == 2
    assert "the offer is rejected" in caplog.text
    assert main(["compensation", "approve", "OF-ZZZZZZ", "--by", "Sam"]) == 2
    assert "no offer 'OF-ZZZZZZ'" in caplog.text

    # Nothing was shown yet: the messages wait in the outbox for the running gateway.
    assert bot_messages(database_url, first.conversation_id) == []
    with unit_of_work(database_url) as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 2

    async def gateway_runs() -> int:
        rasa = RasaClient("http://127.0.0.1:9", 1)
        relay = Relay(database_url, rasa, LiveHub(), "Sorry.")
        delivered = await Delivery(database_url, relay, "Europe/London").deliver_due()
        await rasa.close()
        return delivered

    assert asyncio.run(gateway_runs()) == 2
    (approved,) = bot_messages(database_url, first.conversation_id)
    assert approved.text == approved_text("account_credit", 3000, granted.reference)
    (rejected,) = bot_messages(database_url, second.conversation_id)
    assert rejected.text == rejected_text("account_credit", 3000)

    assert main(["compensation", "grants", "--account", "BL-100001"]) == 0
    assert granted.reference in capsys.readouterr().out
    assert main(["compensation", "spend"]) == 0
    spent = capsys.readouterr().out
    assert "In the last 90 days: £30 in 1 grants to 1 customers" in spent and "BL-100001" in spent
    assert main(["compensation", "retry-fulfilment", granted.reference]) == 2
    assert "nothing to send" in caplog.text
