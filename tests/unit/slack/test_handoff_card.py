"""The context card that opens a handoff thread at the Slack agent desk (PRINCIPLES 7)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.slack.blocks import MAX_BLOCKS, clip, describe_wait
from bot.slack.card import (
    APPROVE,
    DEFAULT_REASON,
    HAND_BACK,
    REASONS,
    REJECT,
    RESOLVE,
    TAKE_OVER,
    build_card,
    build_status_line,
    handoff_id_from,
    reason_words,
    status_block,
)
from bot.slack.text import WORD_JOINER
from redress.business import load_business
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")  # Europe/London
# A summer Tuesday: London is UTC+1, so 13:17 UTC is 14:17 on the card.
NOW = datetime(2024, 7, 2, 13, 17, tzinfo=timezone.utc)
HANDOFF_ID = 7  # the handoff the card is for


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def offer(**changes: Any) -> dict[str, Any]:
    base = {
        "reference": "OF-ABC234",
        "complaint": "RD-XYZ789",
        "rule": "outage-credit",
        "remedy": "account_credit",
        "amount_pence": 4000,
        "status": "pending_approval",
        "explanation": "rule outage-credit; 5 days at 100% of £32/30 a day; above the £25 a "
        "person must approve",
        "review_requested_at": None,
        "decided_by": None,
        "created_at": at(10),
    }
    return {**base, **changes}


def a_record(**changes: Any) -> dict[str, Any]:
    """A conversation record as ``records.conversation_record`` returns it."""
    record: dict[str, Any] = {
        "conversation": {
            "id": "conv-123",
            "channel": "web",
            "external_id": None,
            "reachable": True,
            "status": "open",
            "created_at": at(30),
            "updated_at": at(1),
            "customer": {
                "account_number": "BL-100001",
                "name": "Sam Jones",
                "email": "sam.jones84@example.com",
                "postcode": "LS6 2AB",
                "plan": "Fibre 150",
                "monthly_fee_pence": 3200,
            },
        },
        "messages": [
            {
                "id": 1,
                "role": "customer",
                "channel": "web",
                "text": "no internet since monday, this is a joke",
                "external_id": None,
                "buttons": [],
                "details": {},
                "created_at": at(20),
            },
            {
                "id": 2,
                "role": "bot",
                "channel": "web",
                "text": "I'm sorry your internet has been down since Monday.",
                "external_id": None,
                "buttons": [{"title": "Yes, please", "payload": "tok1"}],
                "details": {},
                "created_at": at(19),
            },
            {
                "id": 3,
                "role": "customer",
                "channel": "web",
                "text": "I want to talk to a human",
                "external_id": None,
                "buttons": [],
                "details": {},
                "created_at": at(12),
            },
        ],
        "complaints": [
            {
                "reference": "RD-XYZ789",
                "category": "outage",
                "severity": "high",
                "severity_reasons": ["no service for 5 days", "works from home"],
                "status": "open",
                "summary": "no internet since monday, this is a joke",
                "facts": {
                    "since": "since Monday",
                    "postcode": "LS6 2AB",
                    "account_ref": "BL-100001",
                    "logged": True,
                },
                "incident": "INC-2024-07",
                "created_at": at(20),
            }
        ],
        "incident_updates": [
            {"incident": "INC-2024-07", "status": "subscribed", "service_back": None}
        ],
        "offers": [offer()],
        "grants": [],
        "handoffs": [{"reason": "customer_asked", "status": "requested", "requested_at": at(12)}],
        "events": [
            {
                "kind": "handoff_requested",
                "detail": {"reason": "customer_asked"},
                "created_at": at(12),
            }
        ],
    }
    record.update(changes)
    return record


def strings(node: Any) -> Iterator[str]:
    """Every string anywhere in the blocks (texts, values, ids)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def texts(blocks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every text object in the blocks."""
    for node in _walk(blocks):
        if node.get("type") in {"mrkdwn", "plain_text"} and "text" in node:
            yield node


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def card_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(t["text"] for t in texts(blocks))


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    return {e["action_id"]: e for e in actions[0]["elements"]}


def assert_within_limits(fallback: str, blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    assert 0 < len(fallback) <= 400
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(0 < len(e["text"]) <= 3000 for e in block["elements"])
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert 0 < len(button["text"]["text"]) <= 75
                assert 0 < len(button.get("value", "x")) <= 2000
    assert blocks[-1]["type"] == "actions"


# What the card holds --------------------------------------------------------------------------


def test_card_holds_everything_the_agent_needs() -> None:
    fallback, blocks = build_card(
        a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert blocks[0] == {
        "type": "header",
        "block_id": "handoff_header",
        "text": {"type": "plain_text", "text": "Customer asked for a person", "emoji": True},
    }
    # Who, where, how long.
    assert "Sam Jones · BL-100001 (verified)" in text
    assert "sam.jones84@example.com" in text
    assert "Fibre 150 (£32 a month)" in text
    assert "*Web chat*" in text
    assert "*waiting 12 min* (asked 14:05)" in text
    assert f"handoff {HANDOFF_ID}" in text
    # The complaint: category, severity and why, facts, incident.
    assert "Service not working" in text
    assert "high severity" in text
    assert "no service for 5 days; works from home" in text
    assert "When it started: since Monday" in text
    assert "Postcode: LS6 2AB" in text
    assert "Account (as given): BL-100001" in text
    assert "logged" not in text.lower()
    assert "*Incident:* INC-2024-07 · updates subscribed" in text
    # What was offered and why.
    assert "Offered £40 account credit* · needs approval" in text
    assert "add £40 credit to your account" in text
    assert "above the £25 a person must approve" in text
    assert "rule outage-credit" in text
    # The transcript.
    assert "*Customer* · 13:57\nno internet since monday, this is a joke" in text
    assert "*Assistant* · 13:58\nI'm sorry your internet has been down since Monday." in text
    assert "[buttons: Yes, please]" in text
    # Fallback for notifications.
    assert fallback == (
        "Customer asked for a person · Sam Jones · Service not working, high severity · "
        "waiting 12 min"
    )
    assert_within_limits(fallback, blocks)


def test_every_mrkdwn_text_is_verbatim_so_slack_links_nothing_itself() -> None:
    _, blocks = build_card(
        a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse", pending_offer=offer()
    )
    for text in texts(blocks):
        if text["type"] == "mrkdwn":
            assert text.get("verbatim") is True


def test_grants_are_shown_under_their_offer() -> None:
    record = a_record(
        offers=[offer(status="granted", decided_by="assistant (within policy)")],
        grants=[
            {
                "reference": "GR-QWE234",
                "offer": "OF-ABC234",
                "remedy": "account_credit",
                "amount_pence": 4000,
                "approved_by": "Jo Bloggs",
                "created_at": at(5),
            }
        ],
    )
    _, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="compensation_review"
    )
    text = card_text(blocks)
    assert "Offered £40 account credit* · granted" in text
    assert "✅ *Granted £40 account credit* · GR-QWE234 · by Jo Bloggs · 14:12" in text


def test_review_requested_and_no_money_remedies() -> None:
    record = a_record(
        offers=[
            offer(
                remedy="priority_repair",
                amount_pence=0,
                status="offered",
                review_requested_at=at(3),
            )
        ]
    )
    _, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="compensation_review"
    )
    text = card_text(blocks)
    assert "Offered priority repair* · offered, waiting for the customer's answer" in text
    assert "_Review requested_ 14:14" in text


def test_nothing_yet() -> None:
    record = a_record(messages=[], complaints=[], offers=[], grants=[], incident_updates=[])
    fallback, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert "*Complaints:* none logged yet" in text
    assert "*Compensation:* nothing offered yet" in text
    assert "*Transcript:* no messages yet" in text
    assert fallback == "Customer asked for a person · Sam Jones · waiting 12 min"
    assert_within_limits(fallback, blocks)


def test_unverified_customer_shows_what_they_gave() -> None:
    record = a_record()
    record["conversation"]["customer"] = None
    fallback, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="misunderstood_twice"
    )
    text = card_text(blocks)
    assert "*Customer:* Not verified · postcode LS6 2AB (as given) · says account BL-100001" in text
    assert "verified)" not in text
    assert "Not verified" in fallback
    assert_within_limits(fallback, blocks)


def test_a_customer_without_an_account_number_is_matched_by_name_and_postcode() -> None:
    # "i dont have my account number sorry": the assistant records the account as
    # "unverified", which the customer never said.
    record = a_record()
    record["conversation"]["customer"] = None
    record["complaints"][0]["facts"]["account_ref"] = "unverified"
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse")
    text = card_text(blocks)
    assert (
        "*Customer:* Not verified · postcode LS6 2AB (as given) · No account number given: "
        "match them by name and postcode" in text
    )
    assert "unverified" not in text


def test_the_reply_due_fact_is_not_shown_raw() -> None:
    # The reply-by promise is shown in the team's local time; the fact is bookkeeping.
    record = a_record()
    record["complaints"][0]["facts"]["reply_due"] = "2026-12-08T20:00:00+00:00"
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse")
    text = card_text(blocks)
    assert "Reply due" not in text
    assert "2026-12-08" not in text


def test_unverified_customer_with_no_details() -> None:
    record = a_record(complaints=[])
    record["conversation"]["customer"] = None
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse")
    assert "*Customer:* Not verified\n" in card_text(blocks) + "\n"


def test_unreachable_customer_and_other_channels() -> None:
    record = a_record()
    record["conversation"].update(channel="telegram", reachable=False)
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse")
    text = card_text(blocks)
    assert "*Telegram*" in text
    assert "not reachable" in text


def test_other_reasons_for_a_person_are_listed_once() -> None:
    record = a_record(
        events=[
            {"kind": "handoff_requested", "detail": {"reason": "customer_asked"}},
            {"kind": "abuse", "detail": {}},
            {"kind": "handoff_requested", "detail": {"reason": "abuse"}},
            {"kind": "handoff_requested", "detail": {"reason": "abuse"}},
        ]
    )
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked")
    assert card_text(blocks).count("also: Abusive messages") == 1


# Reasons --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("customer_asked", "Customer asked for a person"),
        ("misunderstood_twice", "Misunderstood twice"),
        ("abuse", "Abusive messages"),
        ("critical_severity", "Critical severity"),
        ("compensation_needs_approval", "Compensation needs approval"),
        ("repeat_complaint", "Repeat complaint"),
        ("still_broken_after_fix", "Still broken after a fix"),
        ("compensation_review", "Compensation review"),
        ("compensation_alternative", "Declined the offer, wants another remedy"),
        ("compensation_rejected", "Offer rejected: follow up with the customer"),
        ("vip_escalation", "Needs a person (vip escalation)"),
        ("<!channel>", "Needs a person (channel)"),
        ("", DEFAULT_REASON),
        ("___", DEFAULT_REASON),
    ],
)
def test_reasons_in_plain_words(reason: str, words: str) -> None:
    assert reason_words(reason) == words
    _, blocks = build_card(a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason=reason)
    assert blocks[0]["text"]["text"] == words


def test_every_reason_the_code_records_has_words() -> None:
    """Scans the code for the reasons it passes to request_handoff, so a new one cannot reach
    the desk as "Needs a person (…)" unnoticed."""
    call = re.compile(r"(?:request_handoff|_request_person)\([^()]*?\"([a-z_]+)\"", re.DOTALL)
    found: set[str] = set()
    for folder in ("actions", "bot", "redress"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            found.update(call.findall(path.read_text(encoding="utf-8")))
    assert {"customer_asked", "abuse", "misunderstood_twice", "compensation_review"} <= found
    assert found <= set(REASONS), f"add words for: {sorted(found - set(REASONS))}"


def test_a_long_unknown_reason_fits_the_header() -> None:
    _, blocks = build_card(a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="x" * 500)
    assert len(blocks[0]["text"]["text"]) <= 150


# Buttons --------------------------------------------------------------------------------------


def test_buttons_without_a_pending_offer() -> None:
    _, blocks = build_card(
        a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    found = buttons(blocks)
    assert list(found) == [TAKE_OVER, HAND_BACK, RESOLVE]
    assert found[TAKE_OVER]["text"]["text"] == "Take over"
    assert found[TAKE_OVER]["style"] == "primary"
    assert found[HAND_BACK]["text"]["text"] == "Hand back to bot"
    assert found[RESOLVE]["text"]["text"] == "Resolve"
    # They name the handoff, never the conversation, whose id is not Slack's to carry.
    assert all(b["value"] == f"handoff-{HANDOFF_ID}" for b in found.values())
    assert "conv-123" not in json.dumps(blocks)
    assert "Waiting for an approver's decision" not in card_text(blocks)


@pytest.mark.parametrize(
    ("value", "handoff"),
    [
        ("handoff-7", 7),
        ("handoff-2147483647", 2**31 - 1),
        ("handoff-2147483648", None),  # no row can have it
        ("handoff-0", None),
        ("handoff-", None),
        ("handoff-٣", None),  # a digit, but not an ASCII one
        ("7", None),
        ("conv-123", None),  # what cards posted before carried: found by their thread
        ("", None),
    ],
)
def test_a_buttons_value_names_a_handoff_or_nothing(value: str, handoff: int | None) -> None:
    assert handoff_id_from(value) == handoff


def test_approve_and_reject_only_with_a_pending_offer() -> None:
    fallback, blocks = build_card(
        a_record(),
        BUSINESS,
        NOW,
        handoff_id=HANDOFF_ID,
        reason="compensation_needs_approval",
        pending_offer=offer(),
    )
    found = buttons(blocks)
    assert list(found) == [TAKE_OVER, APPROVE, REJECT, HAND_BACK, RESOLVE]
    assert found[APPROVE]["text"]["text"] == "Approve £40"
    assert found[APPROVE]["value"] == "OF-ABC234"
    assert found[REJECT]["text"]["text"] == "Reject"
    assert found[REJECT]["value"] == "OF-ABC234"
    assert found[REJECT]["style"] == "danger"
    assert "£40 account credit" in found[APPROVE]["confirm"]["text"]["text"]
    assert found[TAKE_OVER]["value"] == f"handoff-{HANDOFF_ID}"
    text = card_text(blocks)
    waiting = "*Waiting for an approver's decision:* £40 account credit for RD-XYZ789 (OF-ABC234)"
    assert waiting in text
    assert "⏳ *Offered £40 account credit* · needs approval (waiting for an approver)" in text
    # Who may decide it: here no approvers are set (business/teams.yml has none).
    assert "_Who can decide:_ no approvers are set for the Customer care team." in text
    assert_within_limits(fallback, blocks)


def test_approving_a_remedy_that_is_not_money() -> None:
    pending = offer(remedy="priority_repair", amount_pence=0)
    _, blocks = build_card(
        a_record(offers=[pending]),
        BUSINESS,
        NOW,
        handoff_id=HANDOFF_ID,
        reason="compensation_review",
        pending_offer=pending,
    )
    assert buttons(blocks)[APPROVE]["text"]["text"] == "Approve priority repair"


def test_a_large_amount_fits_the_button() -> None:
    pending = offer(amount_pence=1_000_000)
    _, blocks = build_card(
        a_record(), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="x", pending_offer=pending
    )
    assert buttons(blocks)[APPROVE]["text"]["text"] == "Approve £10,000"


# Transcript and time ---------------------------------------------------------------------------


def _message(index: int, role: str, minutes_ago: float, text: str | None = None) -> dict[str, Any]:
    return {
        "id": index,
        "role": role,
        "channel": "web",
        "text": text if text is not None else f"message {index}",
        "external_id": None,
        "buttons": [],
        "details": {},
        "created_at": at(minutes_ago),
    }


def test_transcript_is_the_last_eight_messages_in_order_with_labels() -> None:
    roles = ["customer", "bot", "agent"]
    messages = [_message(i, roles[i % 3], 60 - i) for i in range(12)]
    _, blocks = build_card(
        a_record(messages=messages), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert "*Last 8 of 12 messages*" in text
    shown = re.findall(r"\*(Customer|Assistant|Agent)\* · (\d\d:\d\d)\nmessage (\d+)", text)
    assert [int(n) for _, _, n in shown] == list(range(4, 12))
    assert [label for label, _, _ in shown] == [
        {"customer": "Customer", "bot": "Assistant", "agent": "Agent"}[roles[i % 3]]
        for i in range(4, 12)
    ]
    # Local time in Europe/London (UTC+1 in July): message 4 was 56 minutes ago.
    assert shown[0][1] == "13:21"
    assert "message 3\n" not in text + "\n"


def test_transcript_dates_older_messages() -> None:
    messages = [
        _message(1, "customer", 60 * 24 + 30, "yesterday's words"),
        _message(2, "customer", 60 * 24 * 3, "older words"),
        _message(3, "customer", 5, "today's words"),
    ]
    _, blocks = build_card(
        a_record(messages=messages), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert "*All 3 messages*" in text
    assert "*Customer* · yesterday 13:47\nyesterday's words" in text
    assert "*Customer* · Sat 29 Jun 14:17\nolder words" in text
    assert "*Customer* · 14:12\ntoday's words" in text


def test_long_messages_are_cut_with_an_ellipsis() -> None:
    messages = [_message(1, "customer", 5, "word " * 800)]
    _, blocks = build_card(
        a_record(messages=messages), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    line = next(t["text"] for t in texts(blocks) if t["text"].startswith("*Customer* ·"))
    said = line.split("\n", 1)[1]
    assert said.endswith("…")
    assert len(said) <= 301


def test_empty_messages_and_unknown_roles() -> None:
    messages = [_message(1, "customer", 5, ""), _message(2, "system", 4, "hi")]
    _, blocks = build_card(
        a_record(messages=messages), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert "*Customer* · 14:12\n_(no text)_" in text
    assert "*System* · 14:13\nhi" in text


def test_line_breaks_in_customer_text_cannot_fake_a_line_of_the_card() -> None:
    spoof = "hi\n*Assistant* · 14:16\nI've approved £500 for you"
    messages = [_message(1, "customer", 5, spoof)]
    _, blocks = build_card(
        a_record(messages=messages), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    text = card_text(blocks)
    assert "\n*Assistant* · 14:16" not in text
    assert "*Customer* · 14:12\nhi ↵ *Assistant* · 14:16 ↵ I've approved £500 for you" in text


@pytest.mark.parametrize(
    ("waited", "words"),
    [
        (timedelta(seconds=0), "waiting less than a minute"),
        (timedelta(seconds=59), "waiting less than a minute"),
        (timedelta(seconds=-30), "waiting less than a minute"),
        (timedelta(minutes=1), "waiting 1 min"),
        (timedelta(minutes=12, seconds=40), "waiting 12 min"),
        (timedelta(minutes=59), "waiting 59 min"),
        (timedelta(minutes=60), "waiting 1 h"),
        (timedelta(minutes=65), "waiting 1 h 5 min"),
        (timedelta(hours=23, minutes=59), "waiting 23 h 59 min"),
        (timedelta(hours=24), "waiting 1 day"),
        (timedelta(hours=51), "waiting 2 days 3 h"),
    ],
)
def test_waiting_wording(waited: timedelta, words: str) -> None:
    assert describe_wait(waited) == words


def test_waiting_counts_from_the_open_request() -> None:
    record = a_record(
        handoffs=[
            {"reason": "abuse", "status": "resolved", "requested_at": at(300)},
            {"reason": "customer_asked", "status": "requested", "requested_at": at(75)},
        ]
    )
    fallback, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    assert "*waiting 1 h 15 min* (asked 13:02)" in card_text(blocks)
    assert fallback.endswith("waiting 1 h 15 min")


def test_no_open_request_means_no_waiting_time() -> None:
    record = a_record(handoffs=[{"reason": "abuse", "status": "taken_over", "requested_at": at(5)}])
    fallback, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse")
    assert "waiting" not in card_text(blocks)
    assert "waiting" not in fallback


def test_a_card_drawn_again_after_a_take_over_says_who_has_it() -> None:
    taken = {
        "reason": "abuse",
        "status": "taken_over",
        "requested_at": at(30),
        "agent_id": "U0JO",
        "agent_name": "Jo <!here>",
        "taken_over_at": at(20),
    }
    _, blocks = build_card(
        a_record(handoffs=[taken]), BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="abuse"
    )
    text = card_text(blocks)
    assert "*with Jo &lt;!here&gt;* since 13:57" in text
    assert "waiting" not in text


def test_naive_times_are_taken_as_utc() -> None:
    record = a_record(
        handoffs=[{"reason": "x", "status": "requested", "requested_at": "2024-07-02T13:07:00"}]
    )
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="x")
    assert "*waiting 10 min* (asked 14:07)" in card_text(blocks)


def test_status_lines() -> None:
    moment = datetime(2024, 7, 2, 13, 5, tzinfo=timezone.utc)
    assert build_status_line("taken_over", "Jo", moment, BUSINESS) == "Taken over by Jo at 14:05"
    assert (
        build_status_line("handed_back", "Jo", moment, BUSINESS)
        == "Handed back to the assistant by Jo at 14:05"
    )
    assert build_status_line("resolved", "Jo", moment, BUSINESS) == "Resolved by Jo at 14:05"
    assert (
        build_status_line("offer_approved", "Jo", moment, BUSINESS, now=moment + timedelta(days=1))
        == "Offer approved by Jo at yesterday 14:05"
    )
    line = build_status_line("taken_over", "<!channel> @here", moment, BUSINESS)
    assert "<" not in line
    assert "@here" not in line
    block = status_block(line)
    assert block["type"] == "context"
    assert block["elements"][0]["text"] == line


# Nothing a customer typed can ping, mention or link -------------------------------------------

PAYLOADS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABC>",
    "<#C0123ABC|general>",
    "<http://evil.example|click me>",
    "<mailto:x@evil.example|support>",
    "<!subteam^S012|@admins>",
    "@channel",
    "@here",
    "@everyone",
    "<script>alert(1)</script>",
    "&lt;!channel&gt;",
    "> fake quote\n*Assistant* · 14:00",
]
NASTY = " ".join(PAYLOADS)


def nasty_record(nasty: str = NASTY) -> dict[str, Any]:
    """Every field that holds text from outside the code filled with ``nasty``."""
    record = a_record()
    conversation = record["conversation"]
    conversation.update(id="conv-" + nasty, channel=nasty)
    conversation["customer"] = {
        "account_number": nasty,
        "name": nasty,
        "email": nasty,
        "postcode": nasty,
        "plan": nasty,
        "monthly_fee_pence": 3200,
    }
    for message in record["messages"]:
        message.update(text=nasty, role=nasty if message["id"] == 2 else message["role"])
        message["buttons"] = [{"title": nasty, "payload": "x"}]
    record["complaints"] = [
        {
            "reference": nasty,
            "category": nasty,
            "severity": nasty,
            "severity_reasons": [nasty, nasty],
            "status": nasty,
            "summary": nasty,
            "facts": {
                "since": nasty,
                "postcode": nasty,
                "account_ref": nasty,
                nasty: nasty,
                "more": [nasty, nasty],
                "listed": [nasty],
                "nested": {nasty: nasty},
            },
            "incident": nasty,
            "created_at": at(20),
        },
        {**a_record()["complaints"][0], "summary": nasty, "incident": None},
    ]
    record["incident_updates"] = [{"incident": nasty, "status": nasty, "service_back": True}]
    pending = offer(
        reference=nasty,
        complaint=nasty,
        rule=nasty,
        remedy=nasty,
        status=nasty,
        explanation=nasty,
        decided_by=nasty,
        review_requested_at=at(2),
    )
    record["offers"] = [pending, offer(explanation=nasty, decided_by=nasty)]
    record["grants"] = [
        {
            "reference": nasty,
            "offer": "OF-ABC234",
            "remedy": nasty,
            "amount_pence": 100,
            "approved_by": nasty,
            "created_at": at(1),
        },
        {
            "reference": nasty,
            "offer": "OF-GONE22",
            "remedy": "refund",
            "amount_pence": 100,
            "approved_by": nasty,
            "created_at": at(1),
        },
    ]
    record["handoffs"] = [{"reason": nasty, "status": "requested", "requested_at": at(12)}]
    record["events"] = [{"kind": "handoff_requested", "detail": {"reason": nasty}}]
    return record


def assert_harmless(text: str) -> None:
    """No Slack control sequence, no raw angle bracket, no bare broadcast word, no stray &."""
    assert "<" not in text, text
    assert ">" not in text, text
    for sequence in ("<!", "<@", "<#", "<http", "<mailto"):
        assert sequence not in text
    assert re.search(r"(?<![\w.+-])@(channel|here|everyone)\b", text, re.IGNORECASE) is None, text
    assert re.search(r"&(?!amp;|lt;|gt;)", text) is None, text


@pytest.mark.parametrize("reason", ["customer_asked", NASTY])
def test_customer_text_is_neutralised_in_every_field(reason: str) -> None:
    record = nasty_record()
    fallback, blocks = build_card(
        record,
        BUSINESS,
        NOW,
        handoff_id=HANDOFF_ID,
        reason=reason,
        pending_offer=record["offers"][0],
    )
    assert_harmless(fallback)
    for text in texts(blocks):
        assert_harmless(text["text"])
    # Button values are not shown: they carry the ids back to us unchanged.
    values = {b.get("value") for b in buttons(blocks).values()}
    assert values == {f"handoff-{HANDOFF_ID}", NASTY}
    # The words are still there for the agent to read, escaped.
    everything = card_text(blocks)
    assert "&lt;!channel&gt;" in everything
    assert "&lt;http://evil.example|click me&gt;" in everything
    assert f"@{WORD_JOINER}here" in everything
    assert "&amp;lt;!channel&amp;gt;" in everything
    assert_within_limits(fallback, blocks)


def test_the_original_record_is_not_changed() -> None:
    record = nasty_record()
    before = copy.deepcopy(record)
    build_card(
        record,
        BUSINESS,
        NOW,
        handoff_id=HANDOFF_ID,
        reason="abuse",
        pending_offer=record["offers"][0],
    )
    assert record == before


# Limits hold whatever the record holds --------------------------------------------------------


def test_limits_hold_for_huge_records() -> None:
    long_text = "<!channel> & " * 400  # 5200 characters; escaping makes it longer still
    messages = [
        _message(i, ("customer", "bot", "agent")[i % 3], 200 - i, long_text) for i in range(200)
    ]
    complaints = [
        {
            **a_record()["complaints"][0],
            "reference": f"RD-{i:06d}",
            "status": "open" if i % 2 else "closed",
            "summary": long_text,
            "severity_reasons": [long_text] * 20,
            "facts": {f"fact_{n}": long_text for n in range(30)} | {"more": [long_text] * 50},
        }
        for i in range(20)
    ]
    offers = [offer(reference=f"OF-{i:06d}", explanation=long_text) for i in range(30)]
    grants = [
        {
            "reference": f"GR-{i:06d}",
            "offer": f"OF-{i:06d}",
            "remedy": "refund",
            "amount_pence": 500,
            "approved_by": long_text,
            "created_at": at(1),
        }
        for i in range(30)
    ]
    record = a_record(messages=messages, complaints=complaints, offers=offers, grants=grants)
    record["conversation"]["customer"]["name"] = long_text
    fallback, blocks = build_card(
        record,
        BUSINESS,
        NOW,
        handoff_id=HANDOFF_ID,
        reason="customer_asked",
        pending_offer=offers[-1],
    )
    assert_within_limits(fallback, blocks)
    for text in texts(blocks):
        assert_harmless(text["text"])
    text = card_text(blocks)
    assert "*Last 8 of 200 messages*" in text
    assert "…and 10 more complaints" in text
    assert "…and 25 earlier offers" in text
    # Open complaints come first when there are too many to show.
    shown = re.findall(r"RD-(\d{6})", text)
    assert shown and all(int(n) % 2 for n in shown)


def test_a_4000_character_message_of_ampersands_stays_within_a_section() -> None:
    messages = [_message(1, "customer", 5, "&" * 4000)]
    record = a_record(messages=messages)
    record["complaints"][0]["summary"] = "&" * 4000
    fallback, blocks = build_card(
        record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked"
    )
    assert_within_limits(fallback, blocks)
    for text in texts(blocks):
        assert_harmless(text["text"])


@pytest.mark.parametrize("limit", [1, 2, 5, 6, 7, 10])
def test_clip_never_leaves_half_an_escape(limit: int) -> None:
    clipped = clip("&amp;&amp;&amp;", limit)
    assert len(clipped) <= limit
    assert re.search(r"&(?!amp;)", clipped) is None
    assert clip("short", 10) == "short"


def test_unknown_category_and_severity_are_shown_as_recorded() -> None:
    record = a_record()
    record["complaints"][0].update(category="space_weather", severity="apocalyptic")
    _, blocks = build_card(record, BUSINESS, NOW, handoff_id=HANDOFF_ID, reason="customer_asked")
    text = card_text(blocks)
    assert "space weather" in text
    assert "apocalyptic severity" in text


def test_personal_data_agents_may_not_see_is_masked_on_the_card() -> None:
    record = a_record()
    record["messages"][0]["text"] = (
        "no internet since monday, ring me on 07700 900123, refund to GB82 WEST 1234 5698 7654 32"
    )
    record["complaints"][0]["summary"] = record["messages"][0]["text"]
    record["conversation"]["customer"]["phone"] = "07700 900123"
    _, blocks = build_card(record, BUSINESS, NOW, reason="customer_asked", handoff_id=HANDOFF_ID)
    text = card_text(blocks)
    # business/privacy.yml lets agents see e-mail addresses and postcodes, nothing else.
    assert "900123" not in text
    assert "7654 32" not in text and "GB82 WEST" not in text
    assert "123" in text  # a phone keeps its last digits, so an agent can tell numbers apart
    assert "sam.jones84@example.com" in text
    assert "LS6 2AB" in text


def test_a_data_request_needing_identity_says_so_in_the_agents_words() -> None:
    assert reason_words("data_request_identity") == "Data request: confirm who the customer is"
