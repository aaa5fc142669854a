"""Reading when an agent's promise is due, in the business's time zone: the forms the desk
accepts, and everything ambiguous or past refused with the forms named."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from redress.cases.when import FORMS, WhenRefused, say_when, split_promise

LONDON = ZoneInfo("Europe/London")
# Monday 7 December 2026, 12:00 in London (GMT).
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("said", "what", "due"),
    [
        ("call you back tomorrow 10:00", "call you back", utc(2026, 12, 8, 10)),
        ("Ring you TODAY 4pm", "Ring you", utc(2026, 12, 7, 16)),
        ("engineer visit monday 9am", "engineer visit", utc(2026, 12, 14, 9)),
        ("check the line on friday at 8:30am", "check the line", utc(2026, 12, 11, 8, 30)),
        ("send the new router in 2 hours", "send the new router", utc(2026, 12, 7, 14)),
        ("call back in 30 mins", "call back", utc(2026, 12, 7, 12, 30)),
        ("call you back by tomorrow at 10am", "call you back", utc(2026, 12, 8, 10)),
        ("call on 2026-12-08 10:00", "call", utc(2026, 12, 8, 10)),
    ],
)
def test_accepted_forms(said: str, what: str, due: datetime) -> None:
    promised = split_promise(said, NOW, LONDON)
    assert (promised.what, promised.due_at) == (what, due)


def test_summer_time_is_the_business_zone() -> None:
    june = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)  # 13:00 in London (BST)
    assert split_promise("call tomorrow 10:00", june, LONDON).due_at == utc(2026, 6, 2, 9)


@pytest.mark.parametrize(
    ("said", "why"),
    [
        ("call you tomorrow 10", "morning or the evening"),
        ("call you 10am", "couldn't tell when"),
        ("call you soon", "couldn't tell when"),
        ("call you today 9am", "already passed"),
        ("call you 2026-12-01 10:00", "already passed"),
        ("call you tomorrow 13pm", "not a time"),
        ("call you 2026-02-30 10:00", "no such date"),
        ("call you 2027-03-28 01:30", "clocks change"),
        ("call you 2027-10-31 01:30", "clocks change"),
        ("call you in 0 hours", "not in the future"),
        ("tomorrow 10:00", "Say what you promise"),
        ("call you 2028-12-08 10:00", "more than a year"),
    ],
)
def test_ambiguous_or_past_times_are_refused(said: str, why: str) -> None:
    with pytest.raises(WhenRefused) as refused:
        split_promise(said, NOW, LONDON)
    assert why in str(refused.value)


def test_a_refusal_names_the_accepted_forms() -> None:
    with pytest.raises(WhenRefused) as refused:
        split_promise("call you later", NOW, LONDON)
    assert FORMS in str(refused.value) and "Europe/London" in str(refused.value)


@pytest.mark.parametrize(
    ("due", "words"),
    [
        (utc(2026, 12, 7, 16), "4pm today"),
        (utc(2026, 12, 8, 10, 30), "10:30am tomorrow"),
        (utc(2026, 12, 10, 9), "9am on Thursday"),
        (utc(2026, 12, 21, 12), "12pm on Monday 21 December"),
    ],
)
def test_due_times_in_the_customers_words(due: datetime, words: str) -> None:
    assert say_when(due, NOW, LONDON) == words
