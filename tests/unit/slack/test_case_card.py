"""The case card as an agent reads it: each promise once, and who promised what by when."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.slack.case_card import build_case_card, case_status_line
from tests.unit.slack.test_handoff_card import BUSINESS, a_record, card_text

# A winter Monday: London is on UTC.
NOW = datetime(2026, 12, 7, 6, 6, tzinfo=timezone.utc)


def a_case(promises: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": 12,
        "reference": "RD-XYZ789",
        "conversation_id": "web-1",
        "status": "open",
        "team": "network",
        "team_name": "Network team",
        "owner_id": None,
        "owner": None,
        "claimed_at": None,
        "desk_status": "waiting_on_us",
        "repeat_of": None,
        "resolved_by": None,
        "resolved_at": None,
        "promises": promises,
    }


def reply_by(due: str, status: str, kept_at: str | None = None) -> dict[str, Any]:
    return {
        "id": 1,
        "kind": "reply_by",
        "what": "reply to you here",
        "due_at": due,
        "status": status,
        "made_by": "assistant",
        "kept_at": kept_at,
    }


def test_after_a_reopening_the_reply_promise_is_shown_once() -> None:
    # The first reply-by was kept by the agent's reply; the reopening promised a new one,
    # due at the same time of day.
    promises = [
        reply_by("2026-12-08T20:00:00+00:00", "kept", "2026-12-07T05:00:00+00:00"),
        reply_by("2026-12-08T20:00:00+00:00", "open"),
    ]
    _, blocks = build_case_card(a_record(), a_case(promises), BUSINESS, NOW)
    text = card_text(blocks)
    assert text.count("Reply due by Tue 8 Dec 20:00") == 1
    assert "*Reply due by Tue 8 Dec 20:00* · open" in text
    assert "_Kept:_ reply at 05:00" in text


def test_the_promise_line_says_when_it_was_made_apart_from_when_it_is_due() -> None:
    line = case_status_line("promised", "alex", NOW, BUSINESS, other="call you by 10am tomorrow")
    assert line == "alex promised (at 06:06) to call you by 10am tomorrow"
    assert case_status_line("claimed", "alex", NOW, BUSINESS) == "Claimed by alex at 06:06"
