"""Customers' requests about their personal data: the reference and the statutory month
(redress/privacy/requests.py). What is recorded is tested with the action that records it
(tests/unit/actions/test_data_request_actions.py)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from redress.privacy import requests

LONDON = "Europe/London"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_references_are_dr_and_six_unambiguous_characters() -> None:
    seen = {requests.new_reference() for _ in range(200)}
    assert len(seen) == 200
    for reference in seen:
        assert re.fullmatch(r"DR-[A-HJ-NP-Z2-9]{6}", reference)


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        # The same day of the next month, at the same time.
        (utc(2026, 3, 10, 10, 0), utc(2026, 4, 10, 9, 0)),  # clocks went forward in between
        (utc(2026, 12, 7, 2, 0), utc(2027, 1, 7, 2, 0)),  # over the new year
        # A shorter month: its last day.
        (utc(2027, 1, 31, 12, 0), utc(2027, 2, 28, 12, 0)),
        (utc(2028, 1, 31, 12, 0), utc(2028, 2, 29, 12, 0)),  # a leap year
        (utc(2026, 8, 31, 9, 0), utc(2026, 9, 30, 9, 0)),
    ],
)
def test_due_one_calendar_month_later_where_the_business_is(asked: datetime, due: datetime) -> None:
    assert requests.one_month_after(asked, LONDON) == due


def test_the_calendar_day_is_the_business_s_not_utc_s() -> None:
    # 11:30pm on 31 March in UTC is already 1 April in London (summer time): due 1 May.
    due = requests.one_month_after(utc(2026, 3, 31, 23, 30), LONDON)
    assert requests.describe_due(due, LONDON) == "1 May 2026"


def test_the_due_date_is_said_as_a_day_month_and_year() -> None:
    assert requests.describe_due(utc(2027, 1, 7, 2, 0), LONDON) == "7 January 2027"


def test_each_request_intent_names_a_kind() -> None:
    assert sorted(requests.KIND_OF_INTENT.values()) == sorted(requests.KINDS)
