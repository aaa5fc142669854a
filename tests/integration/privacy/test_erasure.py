"""Erasure and export of one customer's personal data, on SQLite and PostgreSQL: the customer
is seeded in every store through the real gateway (tests/integration/privacy/customer.py),
erased through the admin API, and then every table of the records, Rasa's tracker store,
Redis and the fake Slack's remaining messages are searched for them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from redress.__main__ import main
from redress.business import Business
from redress.cases import records as cases
from redress.clock import utcnow
from redress.complaints import records as complaint_records
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    DataRequest,
    FulfilmentDelivery,
    Message,
    PrivacyAudit,
    Promise,
)
from redress.db.session import unit_of_work
from tests.fakes.slack_api import DESK_CHANNEL
from tests.integration.conftest import closed_port
from tests.integration.privacy.customer import (
    ADMIN,
    OTHER_ACCOUNT,
    RASA_EVENTS,
    REDIS_URL,
    Seeded,
    World,
    found_in_records,
    found_in_redis,
    found_in_slack,
    found_in_tracker,
    seed,
    world,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _erase(w: World, **body: Any) -> Any:
    return w.client.post("/api/privacy/erasures", json=body, headers=ADMIN)


def _tracker_count(w: World, sender: str) -> int:
    with w.tracker_engine.connect() as connection:
        return connection.scalar(
            select(func.count()).select_from(RASA_EVENTS).where(RASA_EVENTS.c.sender_id == sender)
        )


def _other_state(w: World, s: Seeded) -> dict[str, Any]:
    with unit_of_work(w.database_url) as session:
        customer = session.scalar(select(Customer).where(Customer.account_number == OTHER_ACCOUNT))
        assert customer is not None
        messages = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == s.other_conversation)
            .order_by(Message.id)
        ).all()
        return {
            "customer": (customer.name, customer.email, customer.postcode, customer.plan),
            "messages": list(messages),
            "tracker": _tracker_count(w, s.other_conversation),
            "lock": w.redis.exists(f"redress:lock:{s.other_conversation}"),
        }


def test_an_erased_customer_is_found_in_no_store(
    database_url: str, business: Business, tmp_path: Path
) -> None:
    with world(database_url, business, tmp_path) as w:
        s = seed(w)
        # Everything is where the search will look.
        ids = [s.web_id, s.telegram_id, str(s.chat_id)]
        assert found_in_records(w.database_url, [s.name, s.email, s.phone, s.account])
        assert found_in_tracker(w.tracker_engine, [s.name, s.email, s.web_id, s.telegram_id])
        assert {s.web_id, str(s.chat_id)} <= set(found_in_redis(w.redis, ids))
        assert set(found_in_slack(w.slack, [s.name, s.account], set())) == {s.name, s.account}
        alerts = [m for m in w.slack.messages_in(DESK_CHANNEL) if s.account in json.dumps(m)]
        assert len(alerts) == 3  # two cards, and the alert about their grant
        # A case of theirs on Telegram with its own card in its team's channel, and its
        # reply-by promise still open.
        with unit_of_work(w.database_url) as session:
            chat = session.get(Conversation, s.telegram_id)
            assert chat is not None
            billing = complaint_records.open_complaint(
                session, chat, category="billing", severity="medium", severity_reasons=[],
                summary=f"{s.name} was charged twice", facts={"logged": True},
            )  # fmt: skip
            case_promise = cases.open_case(session, billing, business, utcnow()).id
            billing_id = billing.id
        w.client.portal.call(w.desk.desk.post_due_cases)  # type: ignore[union-attr]
        with unit_of_work(w.database_url) as session:
            posted = session.get(Complaint, billing_id)
            assert posted is not None and posted.desk_thread is not None
            card_at = (posted.desk_channel or "", posted.desk_thread)
        card = w.slack.message(*card_at)
        assert card is not None and s.name in json.dumps(card)
        other_before = _other_state(w, s)
        with unit_of_work(w.database_url) as session:  # an offer waiting for approval
            waiting = session.scalar(
                select(CompensationOffer).where(CompensationOffer.reference == s.offer_reference)
            )
            assert waiting is not None
            web = session.get(Conversation, s.web_id)
            assert web is not None
            second = complaint_records.open_complaint(
                session, web, category="billing", severity="medium", severity_reasons=[],
                summary="charged twice", facts={},
            )  # fmt: skip
            session.add(
                CompensationOffer(
                    reference="OF-WAIT23", complaint_id=second.id,
                    conversation_id=s.web_id, customer_id=waiting.customer_id,
                    rule="outage_per_day", remedy="account_credit", amount_pence=4000,
                    status="pending_approval", explanation="above the approval limit",
                )
            )  # fmt: skip

        answer = _erase(w, account_number=s.account, request_reference=s.request_reference)
        assert answer.status_code == 200, answer.text
        done = answer.json()
        counts = done["counts"]

        # Slack: the desk's own messages are gone; the agent's own reply is one the bot may
        # neither delete nor edit, and the answer says so, by channel and ts.
        assert done["left_in_slack"] == [{"channel": DESK_CHANNEL, "ts": s.agent_ts}]
        assert counts["slack_messages_left"] == 1 and counts["slack_messages_deleted"] >= 3
        assert w.slack.calls("chat.delete")
        remaining = w.slack.messages_in(DESK_CHANNEL)
        # Left: the agent's reply, and the other customer's alert.
        assert len(remaining) == 2 and remaining[0]["ts"] == s.agent_ts
        assert OTHER_ACCOUNT in json.dumps(remaining[1])
        assert found_in_slack(w.slack, s.personal, skip={s.agent_ts}) == []

        # The records, the tracker store and Redis: not a trace.
        assert found_in_records(w.database_url, [*s.personal, str(s.chat_id)]) == []
        assert found_in_tracker(w.tracker_engine, [*s.personal, s.web_id, s.telegram_id]) == []
        assert found_in_redis(w.redis, [*s.personal, *ids]) == []
        assert counts["tracker_events"] == 12 and counts["redis_keys"] >= 3
        assert counts["messages"] >= 6 and counts["customers"] == 1
        assert done["problems"] == []

        # The other customer is untouched.
        assert _other_state(w, s) == other_before
        # Their handoff and cases are closed: the desk posts no new card about them, and
        # nobody is chased (or apologised to) for a promise about them.
        posts = len(w.slack.calls("chat.postMessage"))
        assert w.desk.post_due() == 0
        assert w.client.portal.call(w.desk.desk.post_due_cases) == 0  # type: ignore[union-attr]
        assert len(w.slack.calls("chat.postMessage")) == posts
        with unit_of_work(w.database_url) as session:
            promise = session.get(Promise, case_promise)
            assert promise is not None and promise.status == "cancelled"
            theirs = list(
                session.scalars(
                    select(Complaint).where(
                        Complaint.conversation_id.in_((s.web_id, s.telegram_id))
                    )
                )
            )
            assert len(theirs) == 3 and {c.status for c in theirs} == {"resolved"}
            assert all(c.desk_thread is None for c in theirs)
        assert w.slack.message(*card_at) is None  # the case card is gone from Slack

        with unit_of_work(w.database_url) as session:
            # The ledger keeps amounts, references and dates, without the person.
            offer = session.scalar(
                select(CompensationOffer).where(CompensationOffer.reference == s.offer_reference)
            )
            grant = session.scalar(
                select(CompensationGrant).where(CompensationGrant.reference == s.grant_reference)
            )
            assert offer is not None and grant is not None
            assert offer.status == "granted"  # what was granted stays granted
            # Nobody is left to grant a waiting offer to: it is withdrawn, not approvable.
            pending = session.scalar(
                select(CompensationOffer).where(CompensationOffer.reference == "OF-WAIT23")
            )
            assert pending is not None
            assert (pending.status, pending.decided_by) == ("withdrawn", "erasure")
            assert (grant.amount_pence, grant.remedy, offer.amount_pence) == (
                900,
                "account_credit",
                900,
            )
            assert grant.created_at is not None
            delivery = session.scalar(
                select(FulfilmentDelivery).where(FulfilmentDelivery.grant_id == grant.id)
            )
            assert delivery is not None
            assert delivery.payload["grant"] == s.grant_reference
            assert delivery.payload["amount_pence"] == 900
            # The conversations stay as rows the ledger points at, with nobody behind them.
            web = session.get(Conversation, s.web_id)
            assert web is not None and web.client_token_hash is None and not web.reachable
            # The request is done, and the audit says what was done without saying to whom.
            request = session.scalar(
                select(DataRequest).where(DataRequest.reference == s.request_reference)
            )
            assert request is not None and request.status == "done"
            audit = session.get(PrivacyAudit, done["audit_id"])
            assert audit is not None
            assert (audit.action, audit.request_reference) == ("erase", s.request_reference)
            assert audit.counts == counts
            shown = json.dumps(
                [audit.action, audit.request_reference, audit.performed_by, audit.counts]
            )
            for needle in [*s.personal, s.web_id, s.telegram_id, str(s.chat_id)]:
                assert needle.lower() not in shown.lower()

        # The web chat's old token opens nothing any more.
        refused = w.client.post(
            "/api/messages",
            json={
                "conversation_id": s.web_id,
                "conversation_token": w.desk.tokens[s.web_id],
                "text": "hello?",
            },
        )
        assert refused.status_code == 403

        # Erasing again is safe: by the account, there is no such account any more; by a
        # conversation, there is nothing left to erase.
        again = _erase(w, account_number=s.account)
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "unknown_account"
        twice = _erase(w, conversation_id=s.web_id, request_reference=s.request_reference)
        assert twice.status_code == 200, twice.text
        assert twice.json()["nothing_left"] is True
        left = {k: v for k, v in twice.json()["counts"].items() if v}
        assert left == {}
        assert found_in_records(w.database_url, s.personal) == []
        assert _other_state(w, s) == other_before


def test_the_export_holds_everything_about_them(
    database_url: str, business: Business, tmp_path: Path
) -> None:
    with world(database_url, business, tmp_path) as w:
        s = seed(w)
        answer = w.client.get(
            "/api/privacy/export",
            params={"account_number": s.account, "request_reference": s.request_reference},
            headers=ADMIN,
        )
        assert answer.status_code == 200, answer.text
        document = answer.json()
        whole = json.dumps(document, ensure_ascii=False)
        for item in s.personal:
            assert item in whole, item
        assert document["customer"]["account_number"] == s.account
        conversations = {c["id"]: c for c in document["conversations"]}
        assert set(conversations) == {s.web_id, s.telegram_id}
        web = conversations[s.web_id]
        assert web["client_token_hash"] == "held"
        assert [c["status"] for c in web["verification_codes"]] == ["open"]
        assert all(c["code_hash"] == "held" for c in web["verification_codes"])
        assert web["pending_turns"] and web["outbox"] and web["incident_subscriptions"]
        assert web["handoffs"][0]["desk_thread"] == s.thread
        assert [c["category"] for c in document["complaints"]] == ["outage"]
        assert document["compensation_grants"][0]["reference"] == s.grant_reference
        assert document["fulfilment_deliveries"][0]["payload"]["account_number"] == s.account
        assert document["telegram_updates"] and document["operator_alerts"]
        assert [r["reference"] for r in document["data_requests"]] == [s.request_reference]
        assert document["incidents_listing_the_account"] == ["INC-LS6-FIBRE"]
        assert len(document["tracker_events"][s.web_id]) == 9
        assert len(document["tracker_events"][s.telegram_id]) == 3
        assert document["tracker_events"][s.web_id][0]["data"]["text"] == s.texts[0]
        slack = {m["ts"]: m for m in document["slack_messages"]}
        assert s.thread in slack and s.agent_ts in slack
        assert slack[s.thread]["by_desk"] and not slack[s.agent_ts]["by_desk"]
        alert = [
            m
            for m in w.slack.messages_in(DESK_CHANNEL)
            if "CR-MLA67U" in json.dumps(m) and m["ts"] != s.thread
        ]
        assert len(alert) == 1 and alert[0]["ts"] in slack
        assert len(slack) == len(document["slack_messages"])  # each once
        assert f"redress:lock:{s.web_id}" in document["redis_keys"]
        assert f"redress:rate:conversation:telegram:{s.chat_id}" in document["redis_keys"]
        assert document["problems"] == []
        # Nothing of the other customer.
        assert OTHER_ACCOUNT not in whole and s.other_conversation not in whole
        # The audit row counts, and names nobody.
        with unit_of_work(w.database_url) as session:
            audit = session.scalars(
                select(PrivacyAudit).where(PrivacyAudit.action == "export")
            ).one()
            assert audit.counts["messages"] >= 6 and audit.counts["tracker_events"] == 12
            assert s.account not in json.dumps(audit.counts)
        # Exporting changes nothing, and does not answer an erasure request.
        assert found_in_records(w.database_url, [s.name, s.email, s.account])
        with unit_of_work(w.database_url) as session:
            request = session.scalars(
                select(DataRequest).where(DataRequest.reference == s.request_reference)
            ).one()
            assert request.status == "open"
            # An access request is answered by the export made for it.
            request.kind = "access"
        again = w.client.get(
            "/api/privacy/export",
            params={"account_number": s.account, "request_reference": s.request_reference},
            headers=ADMIN,
        )
        assert again.status_code == 200, again.text
        with unit_of_work(w.database_url) as session:
            request = session.scalars(
                select(DataRequest).where(DataRequest.reference == s.request_reference)
            ).one()
            assert (request.status, request.completed_by) == ("done", "admin API")


def test_the_command_line_exports_and_erases_one_conversation(
    database_url: str,
    business: Business,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with world(database_url, business, tmp_path) as w:
        s = seed(w)
        settings = w.client.app.state.settings  # type: ignore[attr-defined]
        monkeypatch.setenv("DATABASE_URL", w.database_url)
        monkeypatch.setenv("RASA_TRACKER_URL", w.tracker_url)
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
        monkeypatch.setenv("SLACK_BOT_TOKEN", settings.slack.bot_token)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", settings.slack.signing_secret)
        monkeypatch.setenv("SLACK_ESCALATION_CHANNEL", DESK_CHANNEL)
        monkeypatch.setenv("SLACK_API_URL", settings.slack.api_url)
        out = tmp_path / "export.json"
        assert main(["privacy", "export", "--conversation", s.telegram_id, "--out", str(out)]) == 0
        document = json.loads(out.read_text(encoding="utf-8"))
        # The customer proved who they are there, so the export is the whole customer.
        assert {c["id"] for c in document["conversations"]} == {s.web_id, s.telegram_id}

        assert main(["privacy", "erase", "--conversation", s.telegram_id, "--by", "Dana"]) == 0
        assert found_in_records(w.database_url, s.personal) == []
        assert found_in_tracker(w.tracker_engine, s.personal) == []
        with unit_of_work(w.database_url) as session:
            audits = session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id)).all()
            assert [(a.action, a.performed_by) for a in audits] == [
                ("export", "cli"),
                ("erase", "Dana"),
            ]


def test_an_unreachable_store_stops_the_erasure_before_the_records(
    database_url: str, business: Business, tmp_path: Path
) -> None:
    with world(database_url, business, tmp_path) as w:
        s = seed(w)
        state = w.client.app.state  # type: ignore[attr-defined]
        settings = state.settings
        everything = [s.name, s.email, s.account]

        # Rasa's tracker store unreachable (a real closed port): nothing is erased anywhere.
        state.settings = replace(
            settings, tracker_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/rasa"
        )
        down = _erase(w, account_number=s.account)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "store_unavailable"
        assert "tracker store" in down.json()["error"]["message"]
        assert w.slack.calls("chat.delete") == []
        assert _tracker_count(w, s.web_id) == 9
        assert set(found_in_records(w.database_url, everything)) >= {("customers", s.name)}

        # Slack refusing the token: the records are not erased either, and say so.
        state.settings = settings
        w.slack.fail_next("conversations.replies", "invalid_auth")
        refused = _erase(w, account_number=s.account)
        assert refused.status_code == 503, refused.text
        assert "records were not erased" in refused.json()["error"]["message"]
        assert ("customers", s.name) in found_in_records(w.database_url, everything)
        with unit_of_work(w.database_url) as session:
            assert session.scalar(select(func.count()).select_from(PrivacyAudit)) == 0

        # Redis down: the rest is erased, and the answer says what was not.
        state.settings = replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
        partly = _erase(w, account_number=s.account)
        assert partly.status_code == 200, partly.text
        assert any("Redis" in p for p in partly.json()["problems"])
        assert found_in_records(w.database_url, s.personal) == []
        assert found_in_slack(w.slack, s.personal, skip={s.agent_ts}) == []
        assert w.redis.exists(f"redress:lock:{s.web_id}")

        # With Redis back, erasing the conversation again removes its keys.
        state.settings = settings
        again = _erase(w, conversation_id=s.web_id)
        assert again.status_code == 200, again.text
        assert again.json()["counts"]["redis_keys"] >= 1
        assert found_in_redis(w.redis, [s.web_id]) == []
