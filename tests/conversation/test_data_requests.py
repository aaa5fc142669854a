"""Customers' requests about their personal data, through the trained model, the action
server and the gateway: never logged as a complaint, recorded with a DR- reference and the
date one calendar month on, and checked against who is asking (docs/privacy.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from redress.business import Business
from redress.privacy import requests
from tests.conversation.test_identity import _code_for
from tests.conversation.test_incidents import _admin, _pushed, _to_postcode_question, incident
from tests.stack import Stack, texts

pytestmark = pytest.mark.conversation


def _due(business: Business) -> str:
    zone = business.hours.timezone
    return requests.describe_due(requests.one_month_after(datetime.now(timezone.utc), zone), zone)


def _only_request(record: dict[str, Any]) -> dict[str, Any]:
    assert record["complaints"] == [], record["complaints"]
    [request] = record["data_requests"]
    return request


def test_a_signed_in_customer_asking_to_be_deleted_gets_a_reference_and_the_date(
    stack: Stack, business: Business
) -> None:
    conversation_id, replies = stack.say(
        None,
        "Hi. I'm closing things down with you lot, so I want every bit of my personal "
        "information wiped from your records.",
        signed_in="BL-100002",
    )
    said = texts(replies)
    request = _only_request(stack.record(conversation_id))
    assert (request["kind"], request["verified"], request["status"]) == ("erasure", True, "open")
    assert request["reference"].startswith("DR-")
    assert request["reference"] in said and _due(business) in said, said
    assert "That's on us" not in said and "sorry" not in said.lower()
    assert stack.record(conversation_id)["handoffs"] == []


def test_a_customer_who_is_not_signed_in_is_recorded_unverified_and_a_person_asked_for(
    stack: Stack,
) -> None:
    conversation_id, replies = stack.say(
        None, "I would like my data erased please, right to be forgotten", signed_in=False
    )
    said = texts(replies)
    record = stack.record(conversation_id)
    request = _only_request(record)
    assert (request["kind"], request["verified"]) == ("erasure", False)
    assert request["reference"] in said and "confirm who you are" in said, said
    assert [h["reason"] for h in record["handoffs"]] == [requests.CONFIRM_IDENTITY]


def test_a_typed_account_gets_the_code_and_the_request_is_verified_when_it_comes(
    stack: Stack, business: Business
) -> None:
    conversation_id, replies = stack.say(
        None,
        "I'm BL-100011 and I'd like you to get rid of everything you store about me",
        signed_in=False,
    )
    said = texts(replies)
    assert "need to check it's you" in said, said
    assert "I've sent a 6-digit code to the e-mail address on that account" in said, said
    assert "Fiona" not in said
    request = _only_request(stack.record(conversation_id))
    assert (request["kind"], request["verified"]) == ("erasure", False)
    assert stack.record(conversation_id)["handoffs"] == []

    code = _code_for(stack, "fiona.macleod@example.com")
    _, replies = stack.say(conversation_id, code, signed_in=False)
    said = texts(replies)
    request = _only_request(stack.record(conversation_id))
    assert request["verified"] is True
    assert "That's confirmed" in said and request["reference"] in said, said
    assert _due(business) in said, said


def test_asking_what_is_held_is_an_access_request(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None,
        "which of my details are sitting on your systems? I'd like to see all of it",
        signed_in="BL-100005",
    )
    request = _only_request(stack.record(conversation_id))
    assert (request["kind"], request["verified"]) == ("access", True)
    assert request["reference"] in texts(replies)


def test_stop_messaging_me_stops_the_incident_updates_this_chat_signed_up_for(
    stack: Stack,
) -> None:
    with incident(stack, areas=["HG1"]) as harrogate:
        stopping = _to_postcode_question(stack, "no broadband at all since this morning")
        stack.say(stopping, "HG1 2AB")
        _, replies = stack.say(stopping, "yes please keep me posted")
        assert "I'll message you here as soon as anything changes" in texts(replies)
        # Another customer who keeps the updates shows when one has been sent.
        keeping = _to_postcode_question(stack, "internet's dead here, nothing loads at all")
        stack.say(keeping, "HG1 4QT")
        stack.say(keeping, "yes keep me updated")

        _, replies = stack.say(stopping, "ok actually stop messaging me, I've had enough")
        said = texts(replies)
        assert "no more of those will be sent" in said, said
        record = stack.record(stopping)
        assert [u["status"] for u in record["incident_updates"]] == ["declined"]
        assert [r["kind"] for r in record["data_requests"]] == ["stop_messages"]
        assert len(record["complaints"]) == 1  # the outage only

        _admin(
            stack,
            "PATCH",
            f"/api/incidents/{harrogate['id']}",
            {"status": "identified", "what_we_are_doing": "A new cabinet is being fitted."},
        )
        assert len(_pushed(stack, keeping, "incident_update")) == 1
        assert _pushed(stack, stopping, "incident_update", count=0) == []


def test_a_request_while_a_complaint_s_details_are_asked_is_recorded_and_the_complaint_goes_on(
    stack: Stack,
) -> None:
    conversation_id, replies = stack.say(
        None, "my router's been flashing red all week and the wifi won't connect", signed_in=False
    )
    assert "account number" in texts(replies)
    _, replies = stack.say(
        conversation_id,
        "before anything else, I also want all my personal details wiped from your files",
        signed_in=False,
    )
    said = texts(replies)
    [request] = stack.record(conversation_id)["data_requests"]
    assert request["kind"] == "erasure" and request["reference"] in said, said
    stack.say(conversation_id, "I don't know my account number", signed_in=False)
    stack.say(conversation_id, "since monday", signed_in=False)
    record = stack.record(conversation_id)
    # The complaint (here two problems: the router and the wifi) is logged as usual, and
    # the request stays the only one.
    assert {c["category"] for c in record["complaints"]} <= {"outage", "faulty_equipment"}
    assert record["complaints"], record
    assert [r["kind"] for r in record["data_requests"]] == ["erasure"]
