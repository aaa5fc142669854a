"""'Any update?': the reply each complaint was promised, and what happens when it is late."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from redress.business import load_business
from redress.cases.records import reply_due
from redress.complaints.categories import Severity
from redress.complaints.status import keep_promise, promised, standing
from redress.db.models import Complaint
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
# Tuesday 10 March 2026, 10:00 in London (open), and 23:00 the same day (closed).
OPEN = datetime(2026, 3, 10, 10, 0, tzinfo=timezone.utc)
CLOSED = datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc)


def complaint(**facts: object) -> Complaint:
    return Complaint(
        reference="RD-ABC234", category="billing", severity="medium", summary="", facts=facts
    )


def test_the_promise_is_counted_in_the_teams_opening_hours() -> None:
    # Medium is 24 hours of opening time: Tuesday 10:00-20:00 is 10, Wednesday 08:00-20:00
    # 12, and the last 2 come on Thursday from 08:00.
    thursday_ten = datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc)
    assert reply_due(BUSINESS, "billing", Severity.MEDIUM, OPEN) == thursday_ten
    # Filed at 23:00 while closed: the count starts at 08:00 on Wednesday, so 12 hours
    # then and 12 on Thursday.
    thursday_closing = datetime(2026, 3, 12, 20, 0, tzinfo=timezone.utc)
    assert reply_due(BUSINESS, "billing", Severity.MEDIUM, CLOSED) == thursday_closing
    # Critical is 2 hours: filed at 19:00, one hour today and one from opening tomorrow.
    evening = datetime(2026, 3, 10, 19, 0, tzinfo=timezone.utc)
    assert reply_due(BUSINESS, "billing", Severity.CRITICAL, evening) == datetime(
        2026, 3, 11, 9, 0, tzinfo=timezone.utc
    )


def test_the_promise_made_when_filed_is_kept_with_the_complaint() -> None:
    filed = complaint(logged=True)
    keep_promise(filed, OPEN + BUSINESS.reply_within(Severity.MEDIUM))
    assert promised(filed) == OPEN + BUSINESS.reply_within(Severity.MEDIUM)


def test_an_update_before_the_promised_time_says_when() -> None:
    filed = complaint(logged=True)
    keep_promise(filed, OPEN + BUSINESS.reply_within(Severity.MEDIUM))
    now = OPEN + timedelta(hours=1)
    told = standing(filed, BUSINESS, now)
    assert not told.overdue
    assert "RD-ABC234" in told.text and "you'll hear from us by" in told.text
    assert check_text(told.text) == [], told.text


def test_a_late_reply_is_owned_and_brings_a_person() -> None:
    filed = complaint(logged=True)
    keep_promise(filed, OPEN + BUSINESS.reply_within(Severity.MEDIUM))
    told = standing(filed, BUSINESS, OPEN + timedelta(days=5))
    assert told.overdue
    assert "we haven't" in told.text and "asked a person" in told.text
    assert check_text(told.text) == [], told.text


def test_before_the_details_are_in_nothing_is_promised() -> None:
    told = standing(complaint(), BUSINESS, OPEN)
    assert "hear from us by" not in told.text
    assert not told.overdue


def test_without_an_agent_desk_a_late_reply_is_owned_but_no_person_is_promised() -> None:
    filed = complaint(logged=True)
    keep_promise(filed, OPEN + BUSINESS.reply_within(Severity.MEDIUM))
    told = standing(filed, BUSINESS, OPEN + timedelta(days=5), desk=False)
    assert told.overdue
    assert "we haven't" in told.text and "marked it as late" in told.text
    assert "person" not in told.text
    assert check_text(told.text) == [], told.text
