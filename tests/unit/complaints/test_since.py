"""find_since: how long the customer says the problem has lasted, in their own words."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from redress.complaints.since import Since, find_since

# A Monday, midday UTC.
NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "phrase", "days"),
    [
        ("my broadband has been off since Monday", "since Monday", 0.5),
        ("no wifi since tuesday", "since Tuesday", 6),
        ("it's been dead since last fri", "since last Friday", 3),
        ("since last monday it hasn't worked", "since last Monday", 7),
        ("it's been down for 3 days", "for 3 days", 3),
        ("two weeks of this", "for two weeks", 14),
        ("nothing for 48hrs", "for 48 hours", 2),
        ("it's been like this for a few days", "for a few days", 3),
        ("going on for a couple of days", "for a couple of days", 2),
        ("slow since the 14th", "since the 14th", 9),
        ("broken since 10/11", "since 10/11", 13),
        ("dead since yesterday", "since yesterday", 1),
        ("off since the weekend", "since the weekend", 3),
    ],
)
def test_reads_how_long_in_the_customers_words(text, phrase, days):
    since = find_since(text, NOW)
    assert since is not None
    assert since.phrase == phrase
    assert since.days == pytest.approx(days)


def test_since_a_weekday_is_counted_back_from_now():
    thursday = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    assert find_since("down since Monday", thursday) == Since("since Monday", 3)


def test_slash_date_in_the_future_means_last_year():
    since = find_since("since 30/11", NOW)
    assert since is not None
    assert since.phrase == "since 30/11"
    assert since.days == pytest.approx(365 - 7)


@pytest.mark.parametrize("text", ["since 31/2", "since 14/13"])
def test_impossible_dates_are_not_guessed(text):
    assert find_since(text, NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "I pay £30 a month for this",
        "that's £45 a week on top of my bill",
        "my bill is wrong",
        "",
    ],
)
def test_prices_and_plain_complaints_are_not_durations(text):
    assert find_since(text, NOW) is None


def test_a_price_does_not_hide_the_real_duration():
    since = find_since("I pay £30 a month and it's been off since tuesday", NOW)
    assert since == Since("since Tuesday", 6)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("since yesterday, or for two weeks if you count the slow speeds", "since yesterday"),
        ("for two weeks now, since the 9th really", "for two weeks"),
        ("48hrs without it, since Saturday", "for 48 hours"),
        ("since 10/11, so for 13 days", "since 10/11"),
    ],
)
def test_the_earliest_mention_wins(text, phrase):
    since = find_since(text, NOW)
    assert since is not None
    assert since.phrase == phrase


def test_contract_length_is_not_a_duration():
    text = "I'm on a 24 month contract and my broadband has been down since yesterday"
    assert find_since(text, NOW) == Since("since yesterday", 1)
