"""Known incidents in real conversations: the trained model, the action server and the
gateway (with its outbox delivery running), driven over HTTP like a web chat. Operators
change incidents through the admin API, exactly as they would in production.

Each test makes its own incident in postcode districts or accounts no other test uses, and
resolves it at the end, so the shared stack's other conversations are not affected.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.stack import ADMIN_TOKEN, Stack, texts

pytestmark = pytest.mark.conversation

# Deliveries run every few seconds; waiting this long for one means it never came.
PUSH_WAIT_SECONDS = 60


def _admin(stack: Stack, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.http.request(
        method,
        f"{stack.gateway}{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


@contextmanager
def incident(stack: Stack, **fields: Any) -> Iterator[dict[str, Any]]:
    body = {
        "title": "Test outage",
        "services": ["Broadband"],
        "categories": ["outage", "slow_service"],
        "start": "-2h",
        "status": "investigating",
        "what_is_wrong": "Broadband is down for some homes in York.",
        "why": "A power cut damaged one of our cabinets on Walmgate.",
        "what_we_are_doing": "Our engineers are replacing the damaged parts now.",
        "expected_fix": {"at": "+6h", "text": "We expect everyone to be back online tonight."},
        "next_update_by": "+3h",
        **fields,
    }
    created = _admin(stack, "POST", "/api/incidents", body)
    try:
        yield created
    finally:
        current = _admin(stack, "GET", f"/api/incidents/{created['id']}", {})
        if current["status"] != "resolved":
            _admin(stack, "POST", f"/api/incidents/{created['id']}/resolve", {"note": "Test over."})


@pytest.fixture
def york_outage(stack: Stack) -> Iterator[dict[str, Any]]:
    with incident(stack, areas=["YO1"]) as created:
        yield created


def _pushed(stack: Stack, conversation_id: str, kind: str, count: int = 1) -> list[dict]:
    """Waits for ``count`` pushed messages of ``kind`` in the conversation's record."""
    deadline = time.monotonic() + PUSH_WAIT_SECONDS
    while True:
        messages = [
            m for m in stack.record(conversation_id)["messages"] if m["details"].get("kind") == kind
        ]
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.5)


def _to_postcode_question(stack: Stack, complaint: str) -> str:
    conversation_id, replies = stack.say(None, complaint)
    assert texts(replies).startswith("I'm sorry")
    conversation_id, replies = stack.say(conversation_id, "sorry i don't have my account number")
    assert "postcode" in texts(replies)
    return conversation_id


def test_a_complaint_a_known_incident_explains_is_told_what_is_going_on(
    stack: Stack, york_outage: dict[str, Any]
) -> None:
    conversation_id = _to_postcode_question(
        stack, "no internet at all since about 7 this morning, the router lights are all red"
    )
    _, replies = stack.say(conversation_id, "YO1 7HH")
    said = texts(replies)
    # What, why, what we are doing, when we expect it fixed, when the next update is due.
    for part in (
        "Broadband is down for some homes in York.",
        "A power cut damaged one of our cabinets on Walmgate.",
        "Our engineers are replacing the damaged parts now.",
        "We expect everyone to be back online tonight.",
        "Our next update is due by",
    ):
        assert part in said, said
    assert "When did this start?" not in said  # not needed: we know what happened
    assert said.count("sorry") + said.count("Sorry") == 0  # the apology came once, first
    assert "message you here when anything changes" in replies[-1]["text"]
    assert [b["title"] for b in replies[-1]["buttons"]] == ["Yes, keep me posted", "No, thanks"]
    record = stack.record(conversation_id)
    assert [c["incident"] for c in record["complaints"]] == [york_outage["id"]]


def test_a_slow_line_under_an_outage_is_told_it_is_the_likely_reason_not_that_it_is_down(
    stack: Stack, york_outage: dict[str, Any]
) -> None:
    conversation_id = _to_postcode_question(
        stack, "my broadband is crawling tonight, pages take ages and video keeps buffering"
    )
    _, replies = stack.say(conversation_id, "YO1 9QQ")
    said = texts(replies)
    assert "Broadband is down for some homes in York." in said, said
    assert "most likely reason for what you told me about (slow or unreliable service)" in said


def test_subscribed_customers_hear_every_change_and_are_asked_if_the_fix_worked(
    stack: Stack, york_outage: dict[str, Any]
) -> None:
    keen = _to_postcode_question(stack, "my broadband's been off since lunchtime, what's going on")
    stack.say(keen, "YO1 9QT")
    _, replies = stack.say(keen, "yes please keep me posted")
    assert "I'll message you here as soon as anything changes" in texts(replies)

    quiet = _to_postcode_question(stack, "internet not working again, nothing loads")
    stack.say(quiet, "yo1 6ab")
    _, replies = stack.say(quiet, "no thanks")
    assert "I won't message you about it" in texts(replies)

    _admin(
        stack,
        "PATCH",
        f"/api/incidents/{york_outage['id']}",
        {
            "status": "identified",
            "what_we_are_doing": "We have new parts on site and are fitting them now.",
            "next_update_by": "+2h",
        },
    )
    [update] = _pushed(stack, keen, "incident_update")
    assert "found what's causing the problem" in update["text"]
    assert "We have new parts on site and are fitting them now." in update["text"]

    # "Any update?" gives the latest and the history, without being asked twice.
    _, replies = stack.say(keen, "any news on when it'll be back?")
    said = texts(replies)
    assert "part of a wider problem we're fixing" in said, said
    assert "What has happened so far" in said
    assert "We started looking into it." in said and "We found the cause." in said

    resolve = f"/api/incidents/{york_outage['id']}/resolve"
    _admin(stack, "POST", resolve, {"note": "Cabinet replaced."})
    [closing] = _pushed(stack, keen, "incident_resolved")
    assert "Good news: we've fixed the problem with broadband." in closing["text"]
    assert "Is everything working for you now?" in closing["text"]
    assert [b["title"] for b in closing["buttons"]] == ["Yes, it's working", "No, still not right"]
    _, replies = stack.say(keen, "yes all working again thanks")
    assert "That's good to hear" in texts(replies)
    record = stack.record(keen)
    assert record["complaints"][0]["status"] == "resolved"
    [answer] = record["incident_updates"]
    assert (answer["status"], answer["service_back"]) == ("subscribed", True)
    assert [a["status"] for a in stack.record(quiet)["incident_updates"]] == ["declined"]
    # One apology for the problem, at the start; the updates and the fix don't grovel.
    said_by_bot = [m["text"] for m in record["messages"] if m["role"] == "bot"]
    assert sum("sorry" in text.lower() for text in said_by_bot) == 1, said_by_bot

    # The customer who said no heard nothing: not the update, not the closing message.
    assert _pushed(stack, quiet, "incident_update", count=0) == []
    assert _pushed(stack, quiet, "incident_resolved", count=0) == []


def test_still_broken_after_the_fix_brings_in_a_person(stack: Stack) -> None:
    with incident(stack, id="INC-YO10-TEST", areas=["YO10"]):
        conversation_id = _to_postcode_question(
            stack, "the wifi has been dead all day, cant work from home"
        )
        stack.say(conversation_id, "YO10 5DD")
        stack.say(conversation_id, "yes")
        _admin(stack, "POST", "/api/incidents/INC-YO10-TEST/resolve", {"note": "Fixed."})
        _pushed(stack, conversation_id, "incident_resolved")
        _, replies = stack.say(conversation_id, "still no internet here")
        said = texts(replies)
        assert "I'm sorry it's still not right for you" in said, said
        record = stack.record(conversation_id)
        assert record["handoffs"][-1]["reason"] == "still_broken_after_fix"
        assert record["complaints"][0]["facts"]["service_back_after_fix"] is False


def test_with_no_known_incident_the_customer_is_told_so_and_the_complaint_logged(
    stack: Stack,
) -> None:
    conversation_id = _to_postcode_question(
        stack, "my internet has been off since last night and its still off"
    )
    _, replies = stack.say(conversation_id, "HG1 2AB")
    said = texts(replies)
    assert "we don't know of a wider problem" in said, said
    assert re.search(r"I've logged this as [A-Z0-9-]+", said), said
    assert stack.record(conversation_id)["complaints"][0]["incident"] is None


def test_an_incident_limited_to_accounts_explains_only_their_complaints(stack: Stack) -> None:
    with incident(
        stack,
        id="INC-BILL-TEST",
        title="Bills taken twice",
        services=["Billing"],
        categories=["billing"],
        areas=[],
        accounts=["BL-100010"],
        what_is_wrong="We took some customers' bill twice this month.",
        why="Our billing system ran the same bill twice by mistake.",
        what_we_are_doing="We are paying back the second payment in full.",
        expected_fix={"at": None, "text": "The money should be back within three working days."},
    ):
        affected, _ = stack.say(None, "you've taken my direct debit twice this month!!")
        _, replies = stack.say(affected, "BL-100010")
        said = texts(replies)
        assert "We took some customers' bill twice this month." in said, said
        assert stack.record(affected)["complaints"][0]["incident"] == "INC-BILL-TEST"

        other, _ = stack.say(None, "why have I been charged twice for my broadband this month")
        _, replies = stack.say(other, "BL-100004")
        said = texts(replies)
        assert "bill twice" not in said
        assert "we don't know of a wider problem" in said, said
