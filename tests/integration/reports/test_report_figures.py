"""The report's figures on a small set of records whose answers are known by hand
(tests/integration/reports/records.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from redress.business import Business
from redress.db.session import unit_of_work
from redress.reports.figures import SECTION_KEYS, Report, ReportQuery, Section, build_report
from tests.integration.reports.records import INCIDENT, INCIDENT_BUDGET_PENCE, NOW, TODAY, seed


def report(database_url: str, business: Business, **params: str) -> Report:
    query = ReportQuery.from_params(params, TODAY, business)
    with unit_of_work(database_url) as session:
        return build_report(session, business, query, NOW)


def rows_by(section: Section, column: str) -> dict[object, dict[str, object]]:
    at = section.columns.index(column)
    return {row[at]: dict(zip(section.columns, row, strict=True)) for row in section.rows}


@pytest.fixture
def seeded(database_url: str) -> str:
    seed(database_url)
    return database_url


def test_sections_come_in_their_documented_order(seeded: str, business: Business) -> None:
    assert [s.key for s in report(seeded, business).sections] == list(SECTION_KEYS)


def test_complaints_per_day_by_category_and_severity(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("complaints_over_time")
    days = rows_by(section, "period_start")
    assert len(days) == 30  # the last 30 days, every day shown, the older complaint left out
    assert sum(int(row["complaints"]) for row in days.values()) == 3
    assert days["2026-12-01"]["outage"] == 1
    assert days["2026-12-01"]["severity_high"] == 1
    assert days["2026-12-03"]["billing"] == 1
    assert days["2026-12-03"]["severity_medium"] == 1
    assert days["2026-11-20"]["delay"] == 1
    assert days["2026-11-20"]["severity_low"] == 1
    assert days["2026-12-02"]["complaints"] == 0


def test_a_long_period_is_counted_by_week(seeded: str, business: Business) -> None:
    section = report(seeded, business, start="2026-06-01", end="2026-12-07").section(
        "complaints_over_time"
    )
    weeks = rows_by(section, "period_start")
    assert len(weeks) == 28  # 190 days in 7-day blocks from 1 June, the last one a day
    assert weeks["2026-09-28"]["outage"] == 1  # the older complaint, 1 October
    assert weeks["2026-11-16"]["delay"] == 1
    assert weeks["2026-11-30"]["complaints"] == 2  # 1 and 3 December
    assert sum(int(row["complaints"]) for row in weeks.values()) == 4


def test_reply_and_resolution_times_against_promises(seeded: str, business: Business) -> None:
    teams = rows_by(report(seeded, business).section("reply_and_resolution_times"), "team")
    network = teams["network"]
    # A person first replied 44m57s after the complaint; 8 hours were promised.
    assert network["replied_by_a_person"] == 1
    assert network["mean_first_reply_hours"] == 0.7
    assert network["mean_promised_reply_hours"] == 8.0
    assert network["replied_within_promise_pct"] == 100.0
    assert network["mean_resolution_hours"] == 1.0
    billing = teams["billing"]
    # Nobody replied, and the 24-hour promise has passed: missed.
    assert billing["replied_by_a_person"] == 0
    assert billing["mean_first_reply_hours"] is None
    assert billing["replied_within_promise_pct"] == 0.0
    assert billing["promises_due"] == 1  # the callback not due yet is not counted
    assert billing["promises_kept_pct"] == 0.0
    # The late engineer's reply promise was cancelled: nothing promised, nothing due.
    assert teams["customer_care"]["mean_promised_reply_hours"] is None
    assert teams["customer_care"]["promises_due"] == 0
    total = teams["All"]
    assert total["cases"] == 3
    assert total["mean_promised_reply_hours"] == 16.0
    assert total["replied_within_promise_pct"] == 50.0
    assert total["resolved"] == 2
    assert total["promises_kept_on_time"] == 1
    assert total["reply_by_kept_pct"] == 50.0
    assert total["callback_kept_pct"] is None


def test_reopen_rate_by_team_and_category(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("reopen_rate")
    assert section.rows == [
        ["billing", "billing", 1, 0, 0.0],
        ["network", "outage", 1, 1, 100.0],
        ["All", "All", 2, 1, 50.0],
    ]


def test_satisfaction_keeps_assistant_and_agent_apart(seeded: str, business: Business) -> None:
    via = rows_by(report(seeded, business).section("satisfaction"), "resolved_via")
    assert via["assistant"]["ratings"] == 1
    assert via["assistant"]["mean_rating"] == 5.0
    assert via["assistant"]["rated_4_or_5_pct"] == 100.0
    assert via["agent"]["mean_rating"] == 2.0
    assert via["agent"]["rated_2"] == 1
    assert via["agent"]["rated_4_or_5_pct"] == 0.0
    assert via["incident"]["ratings"] == 0
    assert via["incident"]["mean_rating"] is None


def test_handoffs_by_reason_in_the_period(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("handoff_reasons")
    # The October handoff is outside the period.
    assert section.rows == [["angry", 1, 0, 50.0], ["asked_for_person", 1, 1, 50.0]]
    network = report(seeded, business, team="network").section("handoff_reasons")
    assert network.rows == [["asked_for_person", 1, 1, 100.0]]


def test_compensation_against_the_incident_budget(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("compensation")
    assert section.rows == [
        # £10 granted in the period; £35 in all for the incident, of a £5,000 budget.
        [
            "incident",
            INCIDENT,
            "Fibre outage in Leeds LS6",
            1,
            1000,
            3500,
            INCIDENT_BUDGET_PENCE,
            0.7,
        ],
        ["category", "outage", "Service not working", 1, 1000, None, None, None],
    ]


def test_top_incidents_by_complaints(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("top_incidents")
    assert [row[:5] for row in section.rows] == [
        [INCIDENT, "Fibre outage in Leeds LS6", "investigating", 1, 1]
    ]


def test_recovery_quality_per_conversation(seeded: str, business: Business) -> None:
    section = report(seeded, business).section("recovery_quality")
    rows = rows_by(section, "conversation_id")
    assert [row[0] for row in section.rows] == ["conv-b", "conv-c", "conv-a"]  # longest first
    a, b, c = rows["conv-a"], rows["conv-b"], rows["conv-c"]
    assert (a["apology_in_first_reply"], a["problem_named"]) == ("yes", "yes")
    assert (b["apology_in_first_reply"], b["problem_named"]) == ("no", "no")
    assert (c["apology_in_first_reply"], c["problem_named"]) == ("yes", "yes")
    assert a["turns_to_first_offer"] == 2
    assert b["turns_to_first_offer"] is None
    # "hello?" at 10:30 waited until the agent's 10:45 reply.
    assert (a["longest_wait_minutes"], a["wait_still_open"]) == (15.0, "no")
    assert (c["longest_wait_minutes"], c["wait_still_open"]) == (30.0, "no")
    # "hello? anyone" on 3 December at 09:10 has had no answer by 7 December at 12:00.
    assert (b["longest_wait_minutes"], b["wait_still_open"]) == (5930.0, "yes")
    assert (a["promises_kept"], a["promises_due"]) == (1, 1)
    assert (b["promises_kept"], b["promises_due"]) == (0, 1)
    summary = dict(section.summary)
    assert summary["conversations"] == 3
    assert summary["apology_in_first_reply_pct"] == 66.7
    assert summary["problem_named_pct"] == 66.7
    assert summary["mean_turns_to_first_offer"] == 2.0
    assert summary["mean_longest_wait_minutes"] == 1991.7
    assert summary["max_longest_wait_minutes"] == 5930.0
    assert summary["waits_still_open"] == 1
    assert summary["promises_kept_pct"] == 50.0


def test_a_category_narrows_every_section(seeded: str, business: Business) -> None:
    narrowed = report(seeded, business, category="billing")
    over_time = narrowed.section("complaints_over_time")
    assert over_time.columns[:3] == ["period_start", "complaints", "billing"]
    assert sum(int(row[1] or 0) for row in over_time.rows) == 1
    assert [row[0] for row in narrowed.section("recovery_quality").rows] == ["conv-b"]
    assert narrowed.section("compensation").rows == []
    assert narrowed.section("top_incidents").rows == []


def test_a_period_with_nothing_in_it(seeded: str, business: Business) -> None:
    empty = report(seeded, business, start="2025-01-01", end="2025-01-31")
    assert all(row[1] == 0 for row in empty.section("complaints_over_time").rows)
    assert empty.section("reply_and_resolution_times").rows == []
    assert empty.section("recovery_quality").rows == []
    assert dict(empty.section("recovery_quality").summary)["conversations"] == 0
    assert empty.section("recovery_quality").chart is None
    chart = empty.section("complaints_over_time").chart
    assert chart is not None and chart.empty
