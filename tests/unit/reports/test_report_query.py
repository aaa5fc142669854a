"""The report's period, team and category from query parameters, refused clearly when
wrong; and CSV that a spreadsheet cannot turn into a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from redress.business import Business
from redress.reports.csv_out import csv_lines, safe_cell, section_csv
from redress.reports.figures import BadReport, ReportQuery, Section

TODAY = date(2026, 12, 7)


def test_the_last_30_days_by_default(business: Business) -> None:
    query = ReportQuery.from_params({}, TODAY, business)
    assert (query.start, query.end, query.team, query.category) == (
        date(2026, 11, 8), TODAY, None, None,
    )  # fmt: skip
    assert query.days == 30 and not query.weekly


def test_a_start_alone_runs_to_today_and_blanks_are_left_out(business: Business) -> None:
    query = ReportQuery.from_params(
        {"start": " 2026-09-01 ", "team": "", "category": " "}, TODAY, business
    )
    assert (query.start, query.end, query.team, query.category) == (
        date(2026, 9, 1), TODAY, None, None,
    )  # fmt: skip
    assert query.weekly  # 98 days: counted by week


def test_a_team_and_category_of_the_business(business: Business) -> None:
    query = ReportQuery.from_params({"team": "network", "category": "outage"}, TODAY, business)
    assert (query.team, query.category) == ("network", "outage")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "2026-13-01"}, "start must be a date like 2026-11-30, not '2026-13-01'."),
        ({"end": "tomorrow"}, "end must be a date like 2026-11-30, not 'tomorrow'."),
        ({"start": "20261201"}, "start must be a date like 2026-11-30, not '20261201'."),
        (
            {"start": "2026-12-08"},
            "The end date (2026-12-07) is before the start date (2026-12-08).",
        ),
        ({"start": "2025-12-06"}, "The period is 367 days; a report covers at most 366 days."),
        ({"team": "Network"}, "There is no team 'Network'. Use one of: billing, customer_care, "
         "network, retention, security."),
        ({"category": "rain"}, "There is no category 'rain'. Use one of: outage, slow_service, "
         "billing, delay, faulty_equipment, staff_conduct, refund, cancellation, "
         "account_access, other."),
    ],
)  # fmt: skip
def test_bad_parameters_say_what_to_change(
    business: Business, params: dict[str, str], says: str
) -> None:
    with pytest.raises(BadReport) as refused:
        ReportQuery.from_params(params, TODAY, business)
    assert str(refused.value) == says


def test_a_whole_leap_year_is_allowed(business: Business) -> None:
    query = ReportQuery.from_params({"start": "2027-12-08", "end": "2028-12-07"}, TODAY, business)
    assert query.days == 366


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("plain words", "plain words"),
        (-5, -5),
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_cells_that_could_be_formulas_become_text(value: object, cell: object) -> None:
    assert safe_cell(value) == cell


def test_a_section_as_csv_streams_line_by_line() -> None:
    section = Section(
        "handoff_reasons",
        "Handoff reasons",
        ["reason", "handoffs", "share_pct"],
        [['=HYPERLINK("x")', 2, 66.7], ["angry, very", 1, None]],
        None,
        "note",
    )
    lines = list(csv_lines(section.columns, section.rows))
    assert len(lines) == 3 and all(line.endswith("\r\n") for line in lines)
    assert list(csv.reader(io.StringIO(section_csv(section)))) == [
        ["reason", "handoffs", "share_pct"],
        ['\'=HYPERLINK("x")', "2", "66.7"],
        ["angry, very", "1", ""],
    ]
