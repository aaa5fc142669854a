"""The pure parts of watching promises: when a promise is warned about (in the team's opening
hours), what the customer is told when one is missed, the incident's next update as a
promise, and "any update?" told from a case's promises."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from redress.business import load_business
from redress.cases import promises
from redress.cases.records import KEPT, MISSED, OPEN, REPLY_BY, REPLY_WHAT
from redress.complaints.status import standing
from redress.db.models import Complaint, Incident, Promise
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
# London is on GMT in November: local time is UTC. Open Monday to Friday 08:00-20:00,
# Saturday 09:00-17:00, closed on Sunday (business/hours.yml).
FRIDAY_3PM = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TUESDAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def promise(
    created: datetime, due: datetime, kind: str = REPLY_BY, what: str = REPLY_WHAT, **more: object
) -> Promise:
    fields = {"status": OPEN, "made_by": "assistant", **more}
    return Promise(kind=kind, what=what, created_at=created, due_at=due, **fields)


def case(*made: Promise, owner: str | None = None, team: str = "billing") -> Complaint:
    return Complaint(
        reference="RD-ABC234",
        category="billing",
        severity="high",
        summary="",
        facts={"logged": True},
        team=team,
        owner_name=owner,
        promises=list(made),
    )


# When to warn ------------------------------------------------------------------------------


def test_the_window_is_an_hour_or_a_quarter_of_a_short_promise() -> None:
    eight_hours = promise(TUESDAY_10AM, TUESDAY_10AM + timedelta(hours=8))
    assert promises.warning_window(eight_hours, BUSINESS, "billing", timedelta(hours=1)) == (
        timedelta(hours=1)
    )
    twenty_minutes = promise(TUESDAY_10AM, TUESDAY_10AM + timedelta(minutes=20))
    assert promises.warning_window(twenty_minutes, BUSINESS, "billing", timedelta(hours=1)) == (
        timedelta(minutes=5)
    )


def test_a_promise_is_warned_an_hour_before_it_falls_due() -> None:
    due = TUESDAY_10AM + timedelta(hours=8)  # 6pm
    made = promise(TUESDAY_10AM, due)
    assert not promises.should_warn(made, BUSINESS, "billing", due - timedelta(minutes=61))
    assert promises.should_warn(made, BUSINESS, "billing", due - timedelta(minutes=60))
    assert promises.should_warn(made, BUSINESS, "billing", due - timedelta(minutes=1))
    # Due now or past: it is missed, not warned.
    assert not promises.should_warn(made, BUSINESS, "billing", due)


def test_a_promise_due_monday_at_nine_is_warned_when_the_team_is_in_not_at_three() -> None:
    callback = promise(FRIDAY_3PM, MONDAY_9AM, kind="callback", what="call you back")
    saturday_close = datetime(2026, 11, 21, 16, 59, tzinfo=timezone.utc)
    three_am = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
    for moment in (saturday_close, three_am, MONDAY_9AM - timedelta(minutes=61)):
        assert not promises.should_warn(callback, BUSINESS, "billing", moment), moment
    # 08:00 on Monday: the team is in, with an hour of its time left.
    assert promises.should_warn(callback, BUSINESS, "billing", MONDAY_9AM - timedelta(hours=1))


def test_a_promise_due_while_closed_is_warned_before_the_team_goes_home() -> None:
    # Due at 7:30 on Monday, before anyone is in: warned in Saturday's last open hour.
    early = promise(FRIDAY_3PM, datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc))
    saturday = datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)
    assert not promises.should_warn(early, BUSINESS, "billing", saturday - timedelta(minutes=1))
    assert promises.should_warn(early, BUSINESS, "billing", saturday)


def test_no_warnings_when_the_window_is_set_to_nothing() -> None:
    made = promise(TUESDAY_10AM, TUESDAY_10AM + timedelta(hours=8))
    moment = TUESDAY_10AM + timedelta(hours=7, minutes=59)
    assert not promises.should_warn(made, BUSINESS, "billing", moment, timedelta())


# What the customer is told -----------------------------------------------------------------


@pytest.mark.parametrize("owner", [None, "Sam"])
@pytest.mark.parametrize(("kind", "what"), [(REPLY_BY, REPLY_WHAT), ("callback", "call you back")])
def test_a_missed_promise_is_owned_plainly(owner: str | None, kind: str, what: str) -> None:
    due = TUESDAY_10AM + timedelta(hours=8)
    made = promise(TUESDAY_10AM, due, kind=kind, what=what)
    text = promises.missed_text(made, case(made, owner=owner), BUSINESS, due + timedelta(minutes=1))
    assert text.startswith(f"We said we'd {what} about RD-ABC234 by 6pm today, and we haven't.")
    assert "I'm sorry." in text
    assert "Your case is with our Billing team" in text
    who = owner or "The first person free"
    assert f"{who} will {what} as soon as they can." in text
    assert check_text(text) == [], text


# The incident's next update ----------------------------------------------------------------


def incident(**changes: object) -> Incident:
    fields = {"status": "investigating", "next_update_by": MONDAY_9AM, **changes}
    return Incident(id="INC-1", **fields)


def test_the_incidents_next_update_is_shown_as_the_incident_records_it() -> None:
    shown = promises.incident_promise_json(incident())
    assert shown is not None
    assert (shown["kind"], shown["status"], shown["due_at"]) == (
        "incident_update",
        OPEN,
        MONDAY_9AM.isoformat(),
    )
    missed = promises.incident_promise_json(incident(missed_promise_handled=MONDAY_9AM))
    assert missed is not None and missed["status"] == MISSED
    ended = MONDAY_9AM + timedelta(hours=2)
    kept = promises.incident_promise_json(incident(status="resolved", ended_at=ended))
    assert kept is not None and (kept["status"], kept["kept_at"]) == (KEPT, ended.isoformat())
    assert promises.incident_promise_json(incident(next_update_by=None)) is None


# "Any update?" -----------------------------------------------------------------------------


def test_any_update_speaks_of_an_agents_callback_in_its_words() -> None:
    reply = promise(TUESDAY_10AM, TUESDAY_10AM + timedelta(hours=8), status=KEPT)
    callback = promise(
        TUESDAY_10AM, TUESDAY_10AM + timedelta(days=1), kind="callback", what="call you back"
    )
    callback.made_by = "Sam"
    told = standing(case(reply, callback), BUSINESS, TUESDAY_10AM + timedelta(hours=9))
    assert not told.overdue
    assert "Sam will call you back by 10am tomorrow." in told.text
    assert check_text(told.text) == [], told.text


def test_any_update_owns_a_missed_promise_as_missed() -> None:
    callback = promise(
        TUESDAY_10AM, TUESDAY_10AM + timedelta(hours=2), kind="callback", what="call you back"
    )
    callback.status = MISSED
    told = standing(case(callback), BUSINESS, TUESDAY_10AM + timedelta(hours=3))
    assert told.overdue
    assert "We promised to call you back about RD-ABC234" in told.text
    assert "by 12pm today, and we haven't. I'm sorry." in told.text
    assert check_text(told.text) == [], told.text


def test_any_update_after_the_promised_reply_came_says_so() -> None:
    reply = promise(TUESDAY_10AM, TUESDAY_10AM + timedelta(hours=8), status=KEPT)
    told = standing(case(reply), BUSINESS, TUESDAY_10AM + timedelta(hours=12))
    assert not told.overdue
    assert "they've been in touch" in told.text and "hear from us by" not in told.text
    assert check_text(told.text) == [], told.text
