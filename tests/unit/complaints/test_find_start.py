"""When it started, from the loose ways people answer "when did this start?"."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from redress.complaints.since import find_start

# Sunday 6 December 2026, 19:00.
NOW = datetime(2026, 12, 6, 19, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("it went off about 7 this morning", "since about 7 this morning"),
        ("since 8 this morning", "since 8 this morning"),
        ("internet very slow since one week", "for 1 week"),
        ("started on Saturday", "since Saturday"),
        ("two days ago", "for two days"),
        ("yesterday evening", "since yesterday evening"),
        ("at 7am", "since 7am"),
        ("since Monday", "since Monday"),
    ],
)
def test_loose_answers_are_read(text: str, phrase: str) -> None:
    found = find_start(text, NOW)
    assert found is not None and found.phrase == phrase


@pytest.mark.parametrize("text", ["£32 a month", "I have 2 kids", "not sure", "BL-100004"])
def test_what_is_not_a_time_is_not_read_as_one(text: str) -> None:
    assert find_start(text, NOW) is None
