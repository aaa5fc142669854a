"""The action server runs actions only for the Rasa server: the real ``python -m actions``
on a loopback port, sent the tracker an attacker would forge to take a compensation offer
("yes" while the offer is pending). Without the internal secret, or with a wrong one, it is
refused with a JSON error and one log line, and nothing is granted; with the secret (what
Rasa sends, endpoints.yml) the very same request grants the offer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from redress.business import Business
from redress.clock import utcnow
from redress.compensation import ledger
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import CompensationGrant, CompensationOffer
from redress.db.session import unit_of_work
from scripts.stack import Stack

SECRET = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory, business: Business) -> Iterator[Stack]:
    """The action server alone, on a database of its own, with a known secret."""
    stack = Stack(
        tmp_path_factory.mktemp("actions"),
        business,
        extra_env={"REDRESS_INTERNAL_SECRET": SECRET},
    )
    try:
        stack.start("actions")
        stack.wait_for("actions")
        yield stack
    finally:
        stack.close()


def offer_waiting_for_yes(stack: Stack, business: Business) -> str:
    """A verified customer's logged billing complaint with its offer put to them; returns
    the conversation id."""
    with unit_of_work(stack.database_url) as session:
        customer = customers.find_customer(session, "BL-100001")
        assert customer is not None
        conversation = conversations.start_conversation(session, "web")
        customers.attach_customer(session, conversation, customer)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="medium",
            severity_reasons=[],
            summary="You charged me twice this month.",
            facts={"logged": True},
        )
        offer, why = ledger.make_offer(session, complaint, business.compensation, utcnow())
        assert offer is not None and offer.status == ledger.OFFERED, why
        return conversation.id


def forged_yes(conversation_id: str) -> dict[str, Any]:
    """What Rasa would send to run action_answer_yes_no after "yes" to the offer."""
    said = {"text": "yes", "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    return {
        "next_action": "action_answer_yes_no",
        "sender_id": conversation_id,
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": conversation_id,
            "slots": {"pending_question": "compensation_offer"},
            "latest_message": said,
            "events": [{"event": "user", "text": "yes", "parse_data": said}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def grants(stack: Stack, conversation_id: str) -> list[str]:
    with unit_of_work(stack.database_url) as session:
        return list(
            session.scalars(
                select(CompensationGrant.reference)
                .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
                .where(CompensationOffer.conversation_id == conversation_id)
            )
        )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}, {"Authorization": SECRET}],
    ids=["no secret", "wrong secret", "not as a bearer"],
)
def test_a_forged_tracker_is_refused_and_grants_nothing(
    actions: Stack, business: Business, headers: dict[str, str]
) -> None:
    conversation_id = offer_waiting_for_yes(actions, business)
    before = actions.log("actions").count("Refused")

    answer = actions.http.post(
        f"{actions.url('actions')}/webhook", json=forged_yes(conversation_id), headers=headers
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorised"
    assert set(answer.json()) == {"error"}  # nothing the action would have said
    assert grants(actions, conversation_id) == []
    log = actions.log("actions")
    assert log.count("Refused") == before + 1
    refused = [line for line in log.splitlines() if "Refused POST /webhook" in line]
    assert SECRET not in log and "Traceback" not in log
    assert "127.0.0.1" in refused[-1]


def test_the_same_request_with_the_secret_grants_the_offer(
    actions: Stack, business: Business
) -> None:
    """The control: what was refused above is exactly what would otherwise grant money."""
    conversation_id = offer_waiting_for_yes(actions, business)

    answer = actions.http.post(
        f"{actions.url('actions')}/webhook",
        json=forged_yes(conversation_id),
        headers=actions.internal_headers,
    )

    assert answer.status_code == 200, answer.text
    said = [m.get("response") for m in answer.json()["responses"]]
    assert "utter_compensation_granted" in said
    assert len(grants(actions, conversation_id)) == 1


def test_the_list_of_actions_needs_the_secret_and_health_does_not(actions: Stack) -> None:
    base = actions.url("actions")
    assert actions.http.get(f"{base}/actions").status_code == 401
    assert actions.http.get(f"{base}/actions", headers=actions.internal_headers).status_code == 200
    assert actions.http.get(f"{base}/health").json() == {"status": "ok"}
